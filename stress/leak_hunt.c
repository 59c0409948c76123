/*
 * leak_hunt.c - the worked example of docs/leak-hunting.md: a small server
 * loop that leaks, and the hunt for the leak with ouro's gc tools.
 *
 * Each request makes a Request record and a Handler record that point at
 * each other (request.handler, handler.request): a cycle.  Counting alone
 * never frees it.  On top of that, every tenth request registers its
 * handler as a listener in a global registry and never removes it.
 *
 * Run: bazel run //stress:leak_hunt   (writes leak.dot and leak.jsonl in
 * the working directory it is given as argument, default /tmp)
 */
#include <ouro.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ouro_type request_type, handler_type;
enum { REQ_HANDLER, REQ_PATH };      /* Request slots */
enum { HND_REQUEST, HND_NAME };      /* Handler slots */

static ouro_object *registry;        /* dict: "listeners" -> list */

static void serve(int i)
{
    char path[32];
    snprintf(path, sizeof path, "/item/%d", i);
    ouro_object *req = ouro_record_new(&request_type);
    ouro_object *hnd = ouro_record_new(&handler_type);
    ouro_object *p = ouro_str_from(path), *name = ouro_str_from("on_done");
    ouro_record_set(req, REQ_PATH, p);
    ouro_record_set(req, REQ_HANDLER, hnd);
    ouro_record_set(hnd, HND_REQUEST, req);
    ouro_record_set(hnd, HND_NAME, name);
    if (i % 10 == 0) {   /* the forgotten registration */
        ouro_object *listeners = ouro_dict_get_cstr(registry, "listeners");
        ouro_list_append(listeners, hnd);
        ouro_decref(listeners);
    }
    ouro_decref(p);
    ouro_decref(name);
    ouro_decref(hnd);
    ouro_decref(req);   /* the request is "done" */
}

/* Print the lines of a dump file that mention one of the needles (and,
 * for DOT, the first and last lines). */
static void show(const char *path, char needles[4][32], bool dot)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        bool hit = dot && (line[0] != ' ' || strstr(line, "node ["));
        for (int i = 0; i < 4 && !hit; i++)
            hit = strstr(line, needles[i]) != NULL;
        if (hit)
            fputs(line, stdout);
    }
    if (f)
        fclose(f);
}

/* The request's number: i of its path "/item/i". */
static long request_number(ouro_object *req)
{
    ouro_object *p = ouro_record_get(req, REQ_PATH);
    long n = strtol(ouro_str_data(p) + strlen("/item/"), NULL, 10);
    ouro_decref(p);
    return n;
}

/* The request of `list` with the lowest number, with a reference: the
 * example shows the same one whatever order the objects are listed in
 * (their addresses differ with the allocator). */
static ouro_object *first_request(ouro_object *list)
{
    ouro_object *best = NULL;
    for (size_t i = 0; i < ouro_list_len(list); i++) {
        ouro_object *o = ouro_list_get(list, (ptrdiff_t)i);
        if (ouro_type_of(o) == &request_type &&
            (!best || request_number(o) < request_number(best))) {
            ouro_xdecref(best);
            best = o;
        } else {
            ouro_decref(o);
        }
    }
    return best;
}

static uint64_t live(void)
{
    ouro_flush();
    ouro_stats st;
    ouro_get_stats(&st);
    return st.live_objects;
}

static size_t count(const ouro_type *t)
{
    ouro_object *all = ouro_gc_get_objects(t);
    size_t n = ouro_list_len(all);
    ouro_decref(all);
    return n;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char dot_path[512], json_path[512];
    snprintf(dot_path, sizeof dot_path, "%s/leak.dot", dir);
    snprintf(json_path, sizeof json_path, "%s/leak.jsonl", dir);

    /* A latency-sensitive server that turned the collector off. */
    ouro_config cfg = {.gc_disabled = 1};
    ouro_init(&cfg);
    ouro_thread_attach();
    ouro_record_type_init(&request_type, "Request", 2, NULL);
    ouro_record_type_init(&handler_type, "Handler", 2, NULL);
    registry = ouro_dict_new();
    ouro_object *listeners = ouro_list_new(0);
    ouro_dict_set_cstr(registry, "listeners", listeners);
    ouro_decref(listeners);

    printf("== 1. the symptom\n");
    uint64_t before = live();
    for (int i = 0; i < 30; i++)
        serve(i);
    printf("live objects: %llu before, %llu after 30 requests\n",
           (unsigned long long)before, (unsigned long long)live());
    printf("Request objects alive: %zu, Handler objects alive: %zu\n",
           count(&request_type), count(&handler_type));

    printf("\n== 2. what a collection finds: SAVEALL keeps it in the garbage list\n");
    ouro_gc_set_debug(OURO_GC_DEBUG_SAVEALL | OURO_GC_DEBUG_STATS, stdout);
    int64_t found = ouro_gc_collect();
    ouro_gc_set_debug(0, NULL);
    ouro_object *garbage = ouro_gc_garbage();
    printf("unreachable: %lld, now in the garbage list: %zu\n",
           (long long)found, ouro_list_len(garbage));

    printf("\n== 3. the dump of the garbage as JSON lines (one cycle shown)\n");
    /* The first Request in the garbage, its Handler and their strings:
     * the lines of the dumps that mention them. */
    char needles[4][32];
    ouro_object *o = first_request(garbage);
    ouro_object *h = ouro_record_get(o, REQ_HANDLER);
    ouro_object *p = ouro_record_get(o, REQ_PATH);
    ouro_object *n = ouro_record_get(h, HND_NAME);
    snprintf(needles[0], 32, "\"%p\"", (void *)o);
    snprintf(needles[1], 32, "\"%p\"", (void *)h);
    snprintf(needles[2], 32, "\"%p\"", (void *)p);
    snprintf(needles[3], 32, "\"%p\"", (void *)n);
    ouro_decref(h);
    ouro_decref(p);
    ouro_decref(n);
    ouro_decref(o);
    ouro_flush();   /* our own references gone: counts are the heap's */
    FILE *f = fopen(json_path, "w");
    ouro_gc_dump(f, OURO_GC_DUMP_JSON, garbage);
    fclose(f);
    show(json_path, needles, false);
    printf("(all of it: %s)\n", json_path);
    printf("\n== 4. the same cycle as Graphviz DOT\n");
    f = fopen(dot_path, "w");
    ouro_gc_dump(f, OURO_GC_DUMP_DOT, garbage);
    fclose(f);
    show(dot_path, needles, true);
    printf("(all of it: %s; render with dot -Tsvg)\n", dot_path);

    /* Let the collector free the garbage cycles. */
    while ((o = ouro_list_pop(garbage, -1)))
        ouro_decref(o);
    ouro_decref(garbage);
    int64_t collected = ouro_gc_collect();
    printf("\n== 5. collected for real: %lld; still alive: %zu Request\n",
           (long long)collected, count(&request_type));

    printf("\n== 6. why are the rest alive?\n");
    ouro_object *rest = ouro_gc_get_objects(&request_type);
    ouro_object *survivor = first_request(rest);
    ouro_decref(rest);
    ouro_flush();
    ouro_object *chain = ouro_gc_why_alive(survivor);
    ouro_gc_print_why_alive(stdout, chain);
    ouro_decref(chain);
    ouro_decref(survivor);

    printf("\n== 7. the fix: unregister, collect\n");
    ouro_dict_del(registry, ouro_intern_cstr("listeners"));
    collected = ouro_gc_collect();
    printf("collected: %lld; Request objects alive: %zu; live objects: %llu\n",
           (long long)collected, count(&request_type),
           (unsigned long long)live());
    ouro_decref(registry);
    ouro_flush();
    ouro_shutdown();
    return 0;
}
