/*
 * demo.c - ouro at work: reference counts as Python users know them, four
 * threads sharing objects and containers, and a short timing table.
 *
 *   bazel run -c opt //stress:demo [-- --threads N]
 */
#include <ouro.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int nthreads = 4;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void show(const char *code, const char *what, long long value)
{
    printf("  %-44s %s = %lld\n", code, what, value);
}

/* ---- part 1: the seed articles' examples, in C ----------------------- */
static void counts_like_python(void)
{
    printf("1. Reference counts, one thread (ouro_refcnt = sys.getrefcount - 1)\n");
    ouro_object *inbox = ouro_list_new(0);
    ouro_object *a = ouro_list_new(0);
    show("a = []", "refcnt(a)", ouro_refcnt(a));
    ouro_object *b = a;
    ouro_incref(b);
    show("b = a", "refcnt(a)", ouro_refcnt(a));
    ouro_list_append(inbox, a);
    show("inbox.append(a)", "refcnt(a)", ouro_refcnt(a));
    ouro_decref(b);
    show("del b", "refcnt(a)", ouro_refcnt(a));
    ouro_decref(inbox);
    ouro_flush();
    show("del inbox  (the list releases its items)", "refcnt(a)", ouro_refcnt(a));
    ouro_decref(a);

    ouro_object *x = ouro_intern_cstr("This is my house!");
    ouro_object *y = ouro_intern_cstr("This is my house!");
    ouro_object *z = ouro_str_from("This is my house!");
    printf("  x = y = \"This is my house!\" (interned)     x is y: %s, immortal: %s\n",
           x == y ? "yes" : "no", ouro_is_immortal(x) ? "yes" : "no");
    printf("  z = a fresh str with the same bytes        z is x: %s, equal: %s\n",
           z == x ? "yes" : "no", ouro_str_equal(z, x) ? "yes" : "no");
    ouro_decref(z);
    ouro_object *i1 = ouro_int_new(20), *i2 = ouro_int_new(20);
    ouro_object *k1 = ouro_int_new(1000), *k2 = ouro_int_new(1000);
    printf("  age = 20; score = 20                       age is score: %s\n",
           i1 == i2 ? "yes" : "no");
    printf("  p = 1000; q = 1000                         p is q: %s\n",
           k1 == k2 ? "yes" : "no");
    ouro_decref(k1);
    ouro_decref(k2);

    ouro_object *superheroes = ouro_list_new(0), *sidekicks = ouro_list_new(0);
    ouro_list_append(superheroes, sidekicks);
    ouro_list_append(sidekicks, superheroes);
    ouro_decref(superheroes);
    ouro_decref(sidekicks);
    show("superheroes <-> sidekicks; del both; gc.collect()", "found",
         ouro_gc_collect());
}

/* ---- part 2: threads sharing objects --------------------------------- */
static ouro_object *config, *mailbox;
static _Atomic int holding, release_refs;

static void *worker(void *arg)
{
    long id = (long)arg;
    ouro_thread_attach();
    /* Lock-free read of a shared dict; the value is ours until we drop it. */
    ouro_object *greeting = ouro_dict_get_cstr(config, "greeting");
    atomic_fetch_add(&holding, 1);
    while (!atomic_load(&release_refs))
        ouro_safepoint();
    ouro_decref(greeting);
    /* Produce and consume tuples through a shared list. */
    for (int i = 0; i < 20000; i++) {
        ouro_object *t = ouro_tuple_pack(2, ouro_int_new(id), ouro_int_new(i % 200));
        ouro_list_append(mailbox, t);
        ouro_decref(t);
        if (i % 2) {
            ouro_object *got = ouro_list_pop(mailbox, 0);
            ouro_xdecref(got);
        }
        if (i % 64 == 0)
            ouro_safepoint();
    }
    if (id == 0)
        return NULL;     /* exits without detaching: cleaned up anyway */
    ouro_thread_detach();
    return NULL;
}

static void threads_sharing(void)
{
    printf("\n2. %d threads sharing a dict and a list\n", nthreads);
    config = ouro_dict_new();
    mailbox = ouro_list_new(0);
    ouro_object *greeting = ouro_str_from("hello from the main thread");
    ouro_dict_set_cstr(config, "greeting", greeting);
    show("config[\"greeting\"] = s", "refcnt(s)", ouro_refcnt(greeting));
    pthread_t th[64];
    for (long i = 0; i < nthreads; i++)
        pthread_create(&th[i], NULL, worker, (void *)i);
    while (atomic_load(&holding) < nthreads)
        ouro_safepoint();
    show("each worker: g = config[\"greeting\"]", "refcnt(s)", ouro_refcnt(greeting));
    atomic_store(&release_refs, 1);
    ouro_blocking_begin();                /* pthread_join blocks: go offline */
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    ouro_blocking_end();
    ouro_flush();
    show("workers dropped g and exited", "refcnt(s)", ouro_refcnt(greeting));
    printf("  mailbox: %zu tuples left of %d appended (half were popped)\n",
           ouro_list_len(mailbox), nthreads * 20000);
    ouro_stats st;
    ouro_get_stats(&st);
    printf("  merges of biased counts: %llu (%llu requested by a non-owner)\n",
           (unsigned long long)st.merges, (unsigned long long)st.queued_merges);
    ouro_decref(greeting);
    ouro_decref(config);
    ouro_decref(mailbox);
    ouro_flush();
    ouro_gc_collect();   /* an automatic collection may still hold some */
    ouro_get_stats(&st);
    printf("  after releasing everything: %llu live objects, %llu freed so far\n",
           (unsigned long long)st.live_objects, (unsigned long long)st.freed);
}

/* ---- part 3: timing table ------------------------------------------- */
static void row(const char *what, double ns)
{
    printf("  %-46s %9.1f ns\n", what, ns);
}

static void timing(void)
{
    printf("\n3. Timing (this machine, this run; automatic collection paused)\n");
    ouro_gc_collect();
    ouro_gc_disable();
    const long n = 2000000;
    ouro_object *o = ouro_list_new(0);
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        ouro_incref(o);
        ouro_decref(o);
        if (i % 1024 == 0)
            ouro_safepoint();
    }
    row("incref+decref, owned object", (now_ns() - t0) / n);

    ouro_object *l = ouro_list_new(0);
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        ouro_list_append(l, o);
        if (i % 1024 == 0)
            ouro_safepoint();
    }
    row("list append", (now_ns() - t0) / n);
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        ouro_object *g = ouro_list_get(l, i);
        ouro_decref(g);
        if (i % 1024 == 0)
            ouro_safepoint();
    }
    row("list get (lock-free) + decref", (now_ns() - t0) / n);

    ouro_object *d = ouro_dict_new();
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "key%d", i);
        ouro_dict_set_cstr(d, key, o);
    }
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        ouro_object *g = ouro_dict_get_cstr(d, "key500");
        ouro_decref(g);
        if (i % 1024 == 0)
            ouro_safepoint();
    }
    row("dict get by C string (lock-free) + decref", (now_ns() - t0) / n);

    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        ouro_object *x = ouro_int_new(100000 + i);
        ouro_decref(x);
        if (i % 1024 == 0)
            ouro_safepoint();
    }
    ouro_flush();
    row("allocate + free an int (after grace period)", (now_ns() - t0) / n);

    static ouro_type node;   /* a type must outlive its objects */
    ouro_record_type_init(&node, "Node", 1, NULL);
    ouro_object *head = NULL;
    const long chain = 1000000;
    for (long i = 0; i < chain; i++) {
        ouro_object *nd = ouro_record_new(&node);
        ouro_record_set(nd, 0, head);
        ouro_xdecref(head);
        head = nd;
    }
    ouro_flush();
    t0 = now_ns();
    ouro_decref(head);
    ouro_flush();
    double ms = (now_ns() - t0) / 1e6;
    ouro_stats st;
    ouro_get_stats(&st);
    printf("  %-46s %9.1f ms (largest slice %.1f us, %llu objects)\n",
           "free a 1,000,000-object chain", ms, st.max_free_slice_ns / 1e3,
           (unsigned long long)st.max_free_slice_objects);
    ouro_decref(l);
    ouro_decref(d);
    ouro_decref(o);
    ouro_flush();
    ouro_gc_enable();
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            nthreads = atoi(argv[++i]);
    if (nthreads < 1 || nthreads > 64) {
        fprintf(stderr, "demo: --threads must be 1..64\n");
        return 2;
    }
    if (ouro_init(NULL) != OURO_OK || ouro_thread_attach() != OURO_OK) {
        fprintf(stderr, "demo: cannot start ouro\n");
        return 1;
    }
    printf("ouro demo: Python-style managed objects for threaded C\n\n");
    counts_like_python();
    threads_sharing();
    timing();
    ouro_gc_collect();   /* let the collector finish and release its holds */
    ouro_gc_stats gs;
    ouro_gc_get_stats(&gs);
    printf("\nCycle collector: %llu collections, %llu objects in cycles freed\n",
           (unsigned long long)gs.collections, (unsigned long long)gs.collected);
    ouro_stats st;
    ouro_get_stats(&st);
    printf("At exit: %llu objects allocated, %llu freed, %llu live, "
           "%llu grace periods\n",
           (unsigned long long)st.allocated, (unsigned long long)st.freed,
           (unsigned long long)st.live_objects,
           (unsigned long long)st.grace_periods);
    ouro_shutdown();
    return st.live_objects == 0 ? 0 : 1;
}
