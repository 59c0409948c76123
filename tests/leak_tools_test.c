/*
 * leak_tools_test.c - the heap/garbage dumps (JSON lines, DOT) and "why is
 * this alive?" with its printer; dumps of the whole heap while other
 * threads allocate, each checked to parse, and "why alive" meanwhile.
 */
#include "fixture.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ouro_type node_type;

static int setup(void **state)
{
    ouro_record_type_init(&node_type, "Node", 2, NULL);
    return ouro_test_setup(state);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, ouro_test_teardown)

/* Everything written to a temporary stream by fn(stream). */
static char *capture(int (*fn)(FILE *out, void *arg), void *arg, int *rc)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    *rc = fn(f, arg);
    fflush(f);
    long len = ftell(f);
    rewind(f);
    char *buf = calloc(1, (size_t)len + 1);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    return buf;
}

static size_t occurrences(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

struct dump_args {
    int format;
    ouro_object *objects;
};

static int do_dump(FILE *out, void *arg)
{
    struct dump_args *a = arg;
    return ouro_gc_dump(out, a->format, a->objects);
}

static int do_print(FILE *out, void *arg)
{
    return ouro_gc_print_why_alive(out, arg);
}

static void empty_garbage_list(void)
{
    ouro_object *g = ouro_gc_garbage(), *o;
    while ((o = ouro_list_pop(g, -1)))
        ouro_decref(o);
    ouro_decref(g);
}

static void garbage_dump_shows_the_leaked_cycle(void **state)
{
    ouro_object *a = ouro_record_new(&node_type), *b = ouro_record_new(&node_type);
    ouro_object *tag = ouro_str_from("leak");
    ouro_record_set(a, 0, b);
    ouro_record_set(b, 0, a);
    ouro_record_set(a, 1, tag);
    char a_addr[32], b_addr[32];
    snprintf(a_addr, sizeof a_addr, "\"%p\"", (void *)a);
    snprintf(b_addr, sizeof b_addr, "\"%p\"", (void *)b);
    ouro_decref(a);
    ouro_decref(b);
    ouro_decref(tag);
    ouro_gc_set_debug(OURO_GC_DEBUG_SAVEALL, NULL);
    assert_int_equal(ouro_gc_collect(), 2);
    ouro_gc_set_debug(0, NULL);

    ouro_object *garbage = ouro_gc_garbage();
    int rc;
    struct dump_args args = {OURO_GC_DUMP_JSON, garbage};
    char *json = capture(do_dump, &args, &rc);
    assert_int_equal(rc, OURO_OK);
    assert_int_equal(occurrences(json, "\n"), 2);
    assert_int_equal(occurrences(json, "\"type\":\"Node\""), 2);
    /* Each is held by the other and by the garbage list, and by nothing
     * else. */
    assert_int_equal(occurrences(json, "\"refcnt\":2,\"outside\":0"), 2);
    assert_int_equal(occurrences(json, a_addr), 2);   /* its line, b's edge */
    assert_int_equal(occurrences(json, b_addr), 2);
    free(json);

    args.format = OURO_GC_DUMP_DOT;
    char *dot = capture(do_dump, &args, &rc);
    assert_int_equal(rc, OURO_OK);
    assert_non_null(strstr(dot, "digraph ouro {"));
    assert_int_equal(occurrences(dot, " -> "), 3);   /* a->b, b->a, a->tag */
    assert_non_null(strstr(dot, "label=\"str 'leak'\""));
    assert_int_equal(occurrences(dot, "style=bold"), 0);
    free(dot);

    empty_garbage_list();
    ouro_decref(garbage);
    assert_int_equal(ouro_gc_collect(), 2);
}

static void heap_dump_marks_roots(void **state)
{
    ouro_object *l = ouro_list_new(0), *n = ouro_record_new(&node_type);
    ouro_object *i = ouro_int_new(12345);
    ouro_list_append(l, n);
    ouro_list_append(l, i);
    ouro_decref(n);
    ouro_decref(i);
    ouro_flush();
    int rc;
    struct dump_args args = {OURO_GC_DUMP_JSON, NULL};
    char *json = capture(do_dump, &args, &rc);
    assert_int_equal(rc, OURO_OK);
    char line[160];
    /* The list is held by this test (outside); the node only by the list. */
    snprintf(line, sizeof line, "{\"addr\":\"%p\",\"type\":\"list\",\"refcnt\":1,"
             "\"outside\":1,", (void *)l);
    assert_non_null(strstr(json, line));
    snprintf(line, sizeof line, "{\"addr\":\"%p\",\"type\":\"Node\",\"refcnt\":1,"
             "\"outside\":0,", (void *)n);
    assert_non_null(strstr(json, line));
    free(json);
    args.format = OURO_GC_DUMP_DOT;
    char *dot = capture(do_dump, &args, &rc);
    assert_non_null(strstr(dot, "label=\"int 12345\""));
    assert_int_equal(occurrences(dot, "style=bold"), 1);   /* the list */
    free(dot);
    assert_int_equal(ouro_gc_dump(NULL, OURO_GC_DUMP_JSON, NULL), OURO_EINVAL);
    assert_int_equal(ouro_gc_dump(stderr, 7, NULL), OURO_EINVAL);
    assert_int_equal(ouro_gc_dump(stderr, OURO_GC_DUMP_JSON, n), OURO_EINVAL);
    ouro_decref(l);
}

static void why_alive_follows_the_chain_to_a_root(void **state)
{
    ouro_object *reg = ouro_dict_new(), *cache = ouro_list_new(0);
    ouro_object *holder = ouro_record_new(&node_type);
    ouro_object *target = ouro_record_new(&node_type);
    ouro_object *other = ouro_record_new(&node_type);
    ouro_dict_set_cstr(reg, "cache", cache);
    ouro_list_append(cache, other);
    ouro_list_append(cache, holder);
    ouro_record_set(holder, 1, target);
    ouro_record_set(target, 0, holder);   /* a cycle hanging off the cache */
    ouro_decref(cache);
    ouro_decref(holder);
    ouro_decref(other);
    ouro_flush();

    ouro_object *chain = ouro_gc_why_alive(target);
    assert_non_null(chain);
    assert_int_equal(ouro_list_len(chain), 4);
    ouro_object *x = ouro_list_get(chain, 0);
    assert_ptr_equal(x, reg);
    ouro_decref(x);
    x = ouro_list_get(chain, 3);
    assert_ptr_equal(x, target);
    ouro_decref(x);
    int rc;
    char *text = capture(do_print, chain, &rc);
    assert_int_equal(rc, OURO_OK);
    char expect[512];
    snprintf(expect, sizeof expect,
             "<dict %p> refcnt 1: held from outside the tracked heap\n"
             "  ['cache'] -> <list %p> refcnt 1\n"
             "  [1] -> <Node %p> refcnt 2\n"
             "  .slot1 -> <Node %p> refcnt 2\n",
             (void *)reg, (void *)cache, (void *)holder, (void *)target);
    assert_string_equal(text, expect);
    free(text);
    ouro_decref(chain);

    /* Cut the cache off: the cycle is garbage, nothing outside reaches it. */
    ouro_dict_del(reg, ouro_intern_cstr("cache"));
    ouro_flush();
    chain = ouro_gc_why_alive(target);
    assert_int_equal(ouro_list_len(chain), 0);
    text = capture(do_print, chain, &rc);
    assert_non_null(strstr(text, "not reachable from outside"));
    free(text);
    ouro_decref(chain);
    ouro_decref(target);
    ouro_decref(reg);
    assert_int_equal(ouro_gc_collect(), 2);
}

static void why_alive_of_untracked_and_of_a_root(void **state)
{
    ouro_object *l = ouro_list_new(0), *s = ouro_str_from("kept");
    ouro_list_append(l, s);
    ouro_flush();
    ouro_object *chain = ouro_gc_why_alive(s);   /* a str: untracked */
    assert_int_equal(ouro_list_len(chain), 2);
    ouro_decref(chain);
    ouro_object *extra = l;
    ouro_incref(extra);   /* a second reference: l is its own root */
    chain = ouro_gc_why_alive(l);
    assert_int_equal(ouro_list_len(chain), 1);
    ouro_decref(chain);
    ouro_decref(extra);
    ouro_flush();
    chain = ouro_gc_why_alive(l);   /* only ours: nothing else */
    assert_int_equal(ouro_list_len(chain), 0);
    ouro_decref(chain);
    assert_int_equal(ouro_gc_print_why_alive(stderr, s), OURO_EINVAL);
    ouro_decref(s);
    ouro_decref(l);
}

static void check_dot_dump(const char *text);

/* A type name with a quote and a backslash, and a dict key with a quote,
 * a newline and a NUL: the DOT label of a referent outside the dumped set
 * and the printer's ['key'] show them escaped, whole. */
static void names_and_keys_are_escaped(void **state)
{
    static ouro_type odd_type;
    ouro_record_type_init(&odd_type, "Odd\"name\\", 0, NULL);
    ouro_object *a = ouro_record_new(&node_type), *odd = ouro_record_new(&odd_type);
    ouro_record_set(a, 0, odd);
    ouro_decref(odd);
    ouro_object *set = ouro_list_new(0);
    ouro_list_append(set, a);
    int rc;
    struct dump_args args = {OURO_GC_DUMP_DOT, set};
    char *dot = capture(do_dump, &args, &rc);
    assert_int_equal(rc, OURO_OK);
    char expect[160];
    snprintf(expect, sizeof expect,
             "  \"%p\" [shape=ellipse, style=dashed, label=\"Odd\\\"name\\\\ \"];\n",
             (void *)odd);
    if (!strstr(dot, expect))
        fail_msg("no line %s in:\n%s", expect, dot);
    check_dot_dump(dot);
    free(dot);
    ouro_decref(set);

    ouro_object *d = ouro_dict_new(), *key = ouro_str_new("a'b\nc\0d", 7);
    ouro_dict_set(d, key, a);
    ouro_decref(key);
    ouro_decref(a);
    ouro_flush();
    ouro_object *chain = ouro_gc_why_alive(a);
    assert_int_equal(ouro_list_len(chain), 2);
    char *text = capture(do_print, chain, &rc);
    assert_int_equal(rc, OURO_OK);
    snprintf(expect, sizeof expect,
             "  ['a\\'b\\nc\\x00d'] -> <Node %p> refcnt 1\n", (void *)a);
    if (!strstr(text, expect))
        fail_msg("no line %s in:\n%s", expect, text);
    free(text);
    ouro_decref(chain);
    ouro_decref(d);
}

/* ---- dumps while threads allocate ---------------------------------------- */

/* A small JSON reader, enough to check that a dump line is one JSON object
 * and to list its keys.  Each parse_* advances *p past what it read and
 * returns false on malformed input. */
static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n')
        (*p)++;
}

static bool parse_value(const char **p);

/* A string; its text (escapes kept) copied into buf if not NULL. */
static bool parse_string(const char **p, char *buf, size_t cap)
{
    if (**p != '"')
        return false;
    size_t n = 0;
    for ((*p)++; **p != '"'; (*p)++) {
        unsigned char c = (unsigned char)**p;
        if (c < 0x20)
            return false;   /* raw control characters are not allowed */
        if (c == '\\') {
            (*p)++;
            if (!strchr("\"\\/bfnrtu", **p))
                return false;
            if (**p == 'u')
                for (int i = 0; i < 4; i++)
                    if (!isxdigit((unsigned char)*++*p))
                        return false;
        }
        if (buf && n + 1 < cap)
            buf[n++] = (char)c;
    }
    (*p)++;
    if (buf)
        buf[n] = 0;
    return true;
}

static bool parse_number(const char **p)
{
    const char *start = *p;
    if (**p == '-')
        (*p)++;
    if (!isdigit((unsigned char)**p))
        return false;
    while (isdigit((unsigned char)**p) || **p == '.' || **p == 'e' ||
           **p == 'E' || **p == '+' || **p == '-')
        (*p)++;
    return *p > start;
}

static bool parse_array(const char **p)
{
    (*p)++;
    skip_ws(p);
    if (**p == ']') {
        (*p)++;
        return true;
    }
    for (;;) {
        if (!parse_value(p))
            return false;
        skip_ws(p);
        if (**p == ']') {
            (*p)++;
            return true;
        }
        if (**p != ',')
            return false;
        (*p)++;
    }
}

/* An object; its keys, in order, joined with ',' into keys if not NULL. */
static bool parse_object(const char **p, char *keys, size_t cap)
{
    (*p)++;
    if (keys)
        keys[0] = 0;
    skip_ws(p);
    if (**p == '}') {
        (*p)++;
        return true;
    }
    for (;;) {
        char key[64];
        skip_ws(p);
        if (!parse_string(p, key, sizeof key))
            return false;
        if (keys) {
            if (keys[0])
                strncat(keys, ",", cap - strlen(keys) - 1);
            strncat(keys, key, cap - strlen(keys) - 1);
        }
        skip_ws(p);
        if (**p != ':')
            return false;
        (*p)++;
        if (!parse_value(p))
            return false;
        skip_ws(p);
        if (**p == '}') {
            (*p)++;
            return true;
        }
        if (**p != ',')
            return false;
        (*p)++;
    }
}

static bool parse_value(const char **p)
{
    skip_ws(p);
    switch (**p) {
    case '{': return parse_object(p, NULL, 0);
    case '[': return parse_array(p);
    case '"': return parse_string(p, NULL, 0);
    default: break;
    }
    for (const char *lit = "true\0false\0null\0"; *lit; lit += strlen(lit) + 1)
        if (!strncmp(*p, lit, strlen(lit))) {
            *p += strlen(lit);
            return true;
        }
    return parse_number(p);
}

/* Every line of a JSON dump is one object with the documented keys. */
static void check_json_dump(const char *text)
{
    size_t lines = 0;
    for (const char *line = text; *line; lines++) {
        const char *end = strchr(line, '\n');
        assert_non_null(end);   /* every line ends with a newline */
        const char *p = line;
        char keys[128];
        assert_int_equal(*p, '{');
        if (!parse_object(&p, keys, sizeof keys))
            fail_msg("not a JSON object: %.*s", (int)(end - line), line);
        assert_ptr_equal(p, end);   /* nothing after it */
        if (strcmp(keys, "addr,type,refcnt,outside,referents") != 0 &&
            strcmp(keys, "addr,type,refcnt,outside,value,referents") != 0)
            fail_msg("unexpected keys %s in: %.*s", keys, (int)(end - line),
                     line);
        line = end + 1;
    }
    assert_true(lines > 0);   /* the anchor at least */
}

/* A DOT dump is one digraph: its header, statements, and a closing
 * brace. */
static void check_dot_dump(const char *text)
{
    const char *head = "digraph ouro {\n";
    assert_memory_equal(text, head, strlen(head));
    size_t len = strlen(text);
    assert_true(len >= strlen(head) + 2);
    assert_string_equal(text + len - 2, "}\n");
    for (const char *line = text + strlen(head); line < text + len - 2;) {
        const char *end = strchr(line, '\n');
        /* "  <statement>;", its quoted strings closed */
        bool quoted = false;
        for (const char *c = line; c < end; c++) {
            if (quoted && *c == '\\')
                c++;
            else if (*c == '"')
                quoted = !quoted;
        }
        if (strncmp(line, "  ", 2) != 0 || end[-1] != ';' || quoted)
            fail_msg("not a DOT statement: %.*s", (int)(end - line), line);
        line = end + 1;
    }
}

static void *churn(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    for (int i = 0; i < 8000; i++) {
        ouro_object *a = ouro_record_new(&node_type), *b = ouro_record_new(&node_type);
        ouro_record_set(a, 0, b);
        if (i % 2)
            ouro_record_set(b, 0, a);
        ouro_decref(a);
        ouro_decref(b);
        if (i % 64 == 0)
            ouro_safepoint();
    }
    ouro_thread_detach();
    return NULL;
}

static void dumps_while_threads_allocate(void **state)
{
    ouro_gc_set_threshold(64);
    ouro_gc_enable();
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, churn, NULL);
    ouro_object *anchor = ouro_record_new(&node_type);
    /* Two referents, untracked, with values: its line has a list of two
     * and a value node each in DOT. */
    ouro_object *name = ouro_str_from("anchor \"1\"\n"), *num = ouro_int_new(-42);
    ouro_record_set(anchor, 0, name);
    ouro_record_set(anchor, 1, num);
    ouro_decref(name);
    ouro_decref(num);
    /* A second reference, as a global would hold it: held from outside,
     * the anchor is its own root, whatever the other threads do. */
    ouro_object *held = anchor;
    ouro_incref(held);
    for (int round = 0; round < 20; round++) {
        struct dump_args args = {round % 2, NULL};
        int rc;
        char *text = capture(do_dump, &args, &rc);
        assert_int_equal(rc, OURO_OK);
        if (args.format == OURO_GC_DUMP_JSON)
            check_json_dump(text);
        else
            check_dot_dump(text);
        free(text);
        ouro_object *chain = ouro_gc_why_alive(anchor);
        assert_non_null(chain);
        assert_int_equal(ouro_list_len(chain), 1);
        ouro_object *root = ouro_list_get(chain, 0);
        assert_ptr_equal(root, anchor);
        ouro_decref(root);
        ouro_decref(chain);
        ouro_safepoint();
    }
    ouro_blocking_begin();
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ouro_blocking_end();
    ouro_gc_disable();
    ouro_decref(held);
    ouro_decref(anchor);
    ouro_gc_collect();
    ouro_gc_collect();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(garbage_dump_shows_the_leaked_cycle),
        TEST(heap_dump_marks_roots),
        TEST(why_alive_follows_the_chain_to_a_root),
        TEST(why_alive_of_untracked_and_of_a_root),
        TEST(names_and_keys_are_escaped),
        TEST(dumps_while_threads_allocate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
