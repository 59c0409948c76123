/*
 * introspect_test.c - the gc module's introspection in C: get_objects,
 * get_referrers, get_referents, is_tracked, is_finalized, freeze, the debug
 * flags and the garbage list; get_objects, get_referrers and get_referents
 * while other threads allocate and the collector runs; freeze while
 * threads build cycles.
 */
#include "fixture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

static ouro_type node_type, fin_type, phoenix_type, empty_type;
static ouro_object *lifeboat;
static int listed_during_finalizer;

static size_t count_in(ouro_object *list, ouro_object *o)
{
    size_t n = 0;
    for (size_t i = 0; i < ouro_list_len(list); i++) {
        ouro_object *x = ouro_list_get(list, (ptrdiff_t)i);
        n += x == o;
        ouro_decref(x);
    }
    return n;
}

static size_t count_of_type(const ouro_type *t)
{
    ouro_object *all = ouro_gc_get_objects(t);
    size_t n = ouro_list_len(all);
    ouro_decref(all);
    return n;
}

static void fin_lists_itself(ouro_object *self)
{
    ouro_object *all = ouro_gc_get_objects(&fin_type);
    listed_during_finalizer += (int)count_in(all, self);
    ouro_decref(all);
}

static void resurrect(ouro_object *self)
{
    ouro_list_append(lifeboat, self);
}

static int setup(void **state)
{
    ouro_record_type_init(&node_type, "Node", 2, NULL);
    ouro_record_type_init(&fin_type, "Fin", 2, fin_lists_itself);
    ouro_record_type_init(&phoenix_type, "Phoenix", 2, resurrect);
    ouro_record_type_init(&empty_type, "Empty", 0, NULL);
    listed_during_finalizer = 0;
    lifeboat = NULL;
    return ouro_test_setup(state);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, ouro_test_teardown)

static void get_objects_lists_live_tracked_objects(void **state)
{
    ouro_object *l = ouro_list_new(0), *d = ouro_dict_new();
    ouro_object *r = ouro_record_new(&node_type), *i = ouro_int_new(1000);
    ouro_object *t = ouro_tuple_pack(2, l, i);
    ouro_object *all = ouro_gc_get_objects(NULL);
    assert_int_equal(count_in(all, l), 1);
    assert_int_equal(count_in(all, d), 1);
    assert_int_equal(count_in(all, r), 1);
    assert_int_equal(count_in(all, t), 1);
    assert_int_equal(count_in(all, i), 0);   /* int: untracked */
    assert_int_equal(count_in(all, all), 0);  /* made after the walk */
    /* The result holds what it lists. */
    assert_int_equal(ouro_refcnt(r), 2);
    ouro_decref(all);
    ouro_object *lists = ouro_gc_get_objects(&ouro_list_type);
    assert_int_equal(count_in(lists, l), 1);
    assert_int_equal(count_in(lists, d), 0);
    ouro_decref(lists);
    assert_int_equal(count_of_type(&node_type), 1);
    ouro_decref(r);
    ouro_flush();
    assert_int_equal(count_of_type(&node_type), 0);
    ouro_decref(t);
    ouro_decref(l);
    ouro_decref(d);
    ouro_decref(i);
}

static void objects_being_finalized_are_not_listed(void **state)
{
    ouro_object *f = ouro_record_new(&fin_type);
    assert_int_equal(count_of_type(&fin_type), 1);
    ouro_decref(f);
    ouro_flush();
    assert_int_equal(listed_during_finalizer, 0);
    assert_int_equal(count_of_type(&fin_type), 0);
}

static void resurrected_objects_are_listed_again(void **state)
{
    lifeboat = ouro_list_new(0);
    /* By counting. */
    ouro_object *p = ouro_record_new(&phoenix_type);
    ouro_decref(p);
    ouro_flush();
    assert_int_equal(ouro_list_len(lifeboat), 1);
    assert_int_equal(count_of_type(&phoenix_type), 1);
    assert_true(ouro_gc_is_finalized(p));
    /* By the collector. */
    ouro_object *a = ouro_record_new(&phoenix_type), *b = ouro_record_new(&node_type);
    ouro_record_set(a, 0, b);
    ouro_record_set(b, 0, a);
    ouro_decref(a);
    ouro_decref(b);
    assert_int_equal(ouro_gc_collect(), 2);   /* found, then resurrected */
    assert_int_equal(ouro_list_len(lifeboat), 2);
    assert_int_equal(count_of_type(&phoenix_type), 2);
    assert_int_equal(count_of_type(&node_type), 1);
    ouro_object *saved = ouro_list_pop(lifeboat, -1);
    ouro_record_set(saved, 0, NULL);
    ouro_decref(saved);
    ouro_decref(lifeboat);
    ouro_flush();
    assert_int_equal(count_of_type(&phoenix_type), 0);
    assert_int_equal(count_of_type(&node_type), 0);
}

static void referents_and_referrers(void **state)
{
    ouro_object *a = ouro_record_new(&node_type), *s = ouro_str_from("s");
    ouro_object *l = ouro_list_new(0), *r = ouro_record_new(&node_type);
    ouro_list_append(l, a);
    ouro_list_append(l, s);
    ouro_record_set(r, 0, a);
    ouro_record_set(r, 1, l);

    ouro_object *objs[] = {l, r};
    ouro_object *ents = ouro_gc_get_referents(2, objs);
    assert_int_equal(ouro_list_len(ents), 4);   /* a, s; a, l */
    assert_int_equal(count_in(ents, a), 2);
    assert_int_equal(count_in(ents, s), 1);
    assert_int_equal(count_in(ents, l), 1);
    ouro_decref(ents);
    ouro_flush();   /* or the list of referents still refers to a */

    ouro_object *rers = ouro_gc_get_referrers(1, &a);
    assert_int_equal(ouro_list_len(rers), 2);
    assert_int_equal(count_in(rers, l), 1);
    assert_int_equal(count_in(rers, r), 1);
    ouro_decref(rers);
    ouro_flush();
    ouro_object *both[] = {s, l};
    rers = ouro_gc_get_referrers(2, both);   /* l refers to s; r to l */
    assert_int_equal(ouro_list_len(rers), 2);
    ouro_decref(rers);
    /* No objects: an empty list (a NULL one aborts: errors_test). */
    ents = ouro_gc_get_referents(0, NULL);
    assert_non_null(ents);
    assert_int_equal(ouro_list_len(ents), 0);
    ouro_decref(ents);
    rers = ouro_gc_get_referrers(0, NULL);
    assert_non_null(rers);
    assert_int_equal(ouro_list_len(rers), 0);
    ouro_decref(rers);

    ouro_decref(r);
    ouro_decref(l);
    ouro_decref(s);
    ouro_decref(a);
}

static void tracked_and_finalized_flags(void **state)
{
    ouro_object *l = ouro_list_new(0), *i = ouro_int_new(1000);
    ouro_object *s = ouro_str_from("x"), *e = ouro_record_new(&empty_type);
    assert_true(ouro_gc_is_tracked(l));
    assert_false(ouro_gc_is_tracked(i));
    assert_false(ouro_gc_is_tracked(s));
    assert_false(ouro_gc_is_tracked(e));
    assert_false(ouro_gc_is_finalized(l));
    ouro_decref(l);
    ouro_decref(i);
    ouro_decref(s);
    ouro_decref(e);
}

/* An immortal object of a tracked type (the garbage list is one) is in
 * the registry, but the collector never examines it: get_objects, freeze
 * and the freeze count agree with is_tracked and leave it out. */
static void immortals_are_not_tracked_anywhere(void **state)
{
    ouro_object *g = ouro_gc_garbage(), *l = ouro_list_new(0);
    assert_true(ouro_is_immortal(g));
    assert_false(ouro_gc_is_tracked(g));
    assert_true(ouro_gc_is_tracked(l));
    ouro_object *all = ouro_gc_get_objects(NULL);
    assert_int_equal(count_in(all, g), 0);
    assert_int_equal(count_in(all, l), 1);
    ouro_decref(all);
    ouro_object *lists = ouro_gc_get_objects(&ouro_list_type);
    assert_int_equal(count_in(lists, g), 0);
    assert_int_equal(count_in(lists, l), 1);
    ouro_decref(lists);
    ouro_flush();   /* the result lists are gone: l is all there is */
    assert_int_equal(ouro_gc_freeze(), 1);
    assert_int_equal(ouro_gc_get_freeze_count(), 1);
    assert_int_equal(ouro_gc_unfreeze(), OURO_OK);
    assert_int_equal(ouro_gc_get_freeze_count(), 0);
    ouro_decref(l);
    ouro_decref(g);
}

static void make_garbage_pair(void)
{
    ouro_object *a = ouro_record_new(&node_type), *b = ouro_record_new(&node_type);
    ouro_record_set(a, 0, b);
    ouro_record_set(b, 0, a);
    ouro_decref(a);
    ouro_decref(b);
}

static void frozen_garbage_waits_for_unfreeze(void **state)
{
    make_garbage_pair();
    ouro_object *keep = ouro_list_new(0);
    uint64_t n = ouro_gc_freeze();
    assert_true(n >= 3);
    assert_int_equal(ouro_gc_get_freeze_count(), n);
    assert_int_equal(ouro_gc_freeze(), 0);   /* already frozen */
    assert_int_equal(ouro_gc_collect(), 0);
    make_garbage_pair();                     /* made after: not frozen */
    assert_int_equal(ouro_gc_collect(), 2);
    assert_int_equal(ouro_gc_unfreeze(), OURO_OK);
    assert_int_equal(ouro_gc_get_freeze_count(), 0);
    assert_int_equal(ouro_gc_collect(), 2);
    ouro_decref(keep);
}

/* A frozen object is never examined, even when an unfrozen cycle runs
 * through it: to the collector it is held from outside, so neither it nor
 * what it keeps alive is garbage until unfreeze. */
static void frozen_objects_are_never_examined(void **state)
{
    ouro_object *a = ouro_record_new(&node_type), *b = ouro_record_new(&node_type);
    ouro_record_set(a, 0, b);
    ouro_record_set(b, 0, a);
    assert_int_equal(ouro_gc_freeze(), 2);
    ouro_object *c = ouro_record_new(&node_type);   /* made after: not frozen */
    ouro_record_set(a, 1, c);
    ouro_record_set(c, 0, a);
    ouro_decref(a);
    ouro_decref(b);
    ouro_decref(c);
    ouro_flush();
    /* c is a candidate; its walk reaches a, which it must not enter. */
    assert_int_equal(ouro_gc_collect(), 0);
    assert_int_equal(ouro_gc_collect(), 0);
    assert_int_equal(count_of_type(&node_type), 3);
    assert_int_equal(ouro_gc_unfreeze(), OURO_OK);
    assert_int_equal(ouro_gc_collect(), 3);
    assert_int_equal(count_of_type(&node_type), 0);
}

static void saveall_keeps_garbage_and_reports(void **state)
{
    FILE *out = tmpfile();
    assert_non_null(out);
    assert_int_equal(ouro_gc_set_debug(1u << 20, out), OURO_EINVAL);
    assert_int_equal(ouro_gc_set_debug(OURO_GC_DEBUG_LEAK | OURO_GC_DEBUG_STATS,
                                       out),
                     OURO_OK);
    assert_int_equal(ouro_gc_get_debug(),
                     OURO_GC_DEBUG_LEAK | OURO_GC_DEBUG_STATS);
    make_garbage_pair();
    uint64_t freed_before;
    ouro_stats st;
    ouro_get_stats(&st);
    freed_before = st.freed;
    assert_int_equal(ouro_gc_collect(), 2);
    ouro_object *garbage = ouro_gc_garbage();
    assert_int_equal(ouro_list_len(garbage), 2);
    ouro_object *first = ouro_list_get(garbage, 0);
    assert_ptr_equal(ouro_type_of(first), &node_type);
    ouro_object *next = ouro_record_get(first, 0);   /* intact */
    assert_ptr_equal(ouro_type_of(next), &node_type);
    ouro_decref(next);
    ouro_flush();
    /* Held by the garbage list, which is its root (immortal). */
    ouro_object *chain = ouro_gc_why_alive(first);
    assert_int_equal(ouro_list_len(chain), 2);
    ouro_object *root = ouro_list_get(chain, 0);
    assert_ptr_equal(root, garbage);
    ouro_decref(root);
    ouro_decref(chain);
    ouro_decref(first);
    ouro_get_stats(&st);
    assert_int_equal(st.freed, freed_before);

    ouro_gc_set_debug(0, NULL);
    fflush(out);
    rewind(out);
    char buf[4096];
    size_t len = fread(buf, 1, sizeof buf - 1, out);
    buf[len] = 0;
    fclose(out);
    int collectable = 0;
    for (char *p = buf; (p = strstr(p, "gc: collectable <Node 0x")); p++)
        collectable++;
    assert_int_equal(collectable, 2);
    assert_non_null(strstr(buf, "gc: done, "));
    assert_non_null(strstr(buf, " 2 unreachable, 0 collected"));

    /* Emptied, the cycle is garbage again, and this time it is freed. */
    ouro_object *o;
    while ((o = ouro_list_pop(garbage, -1)))
        ouro_decref(o);
    ouro_decref(garbage);
    assert_int_equal(ouro_gc_collect(), 2);
}

/* ---- the debug stream's lifetime ----------------------------------------
 *
 * A thread sets a stream, clears the flags and closes it, over and over,
 * while collections report every garbage object to whatever stream is
 * set.  Once ouro_gc_set_debug(0, NULL) has returned, nothing may write to
 * the old stream: its write function counts writes after that point
 * (unbuffered, so every report reaches it at once).  Without the lock
 * that set_debug and the reports share, a collection could load the
 * stream, then write to it after it was unset, or closed. */

#define STREAMS 65536

struct debug_sink {
    _Atomic int retired;   /* set_debug(0, NULL) has returned */
};

static struct debug_sink sinks[STREAMS];
static _Atomic uint64_t sink_writes, late_writes;
static _Atomic int stop_toggling;

static ssize_t sink_write(void *cookie, const char *buf, size_t size)
{
    (void)buf;
    struct debug_sink *s = cookie;
    atomic_fetch_add_explicit(&sink_writes, 1, memory_order_relaxed);
    /* acquire: pairs with the release that retired it; a write that
     * started after set_debug returned sees the flag. */
    if (atomic_load_explicit(&s->retired, memory_order_acquire))
        atomic_fetch_add_explicit(&late_writes, 1, memory_order_relaxed);
    return (ssize_t)size;
}

static void *toggle_debug(void *arg)
{
    (void)arg;
    cookie_io_functions_t io = {.write = sink_write};
    for (int i = 0; i < STREAMS &&
                    !atomic_load_explicit(&stop_toggling, memory_order_acquire);
         i++) {
        FILE *f = fopencookie(&sinks[i], "w", io);
        assert_non_null(f);
        setvbuf(f, NULL, _IONBF, 0);
        ouro_gc_set_debug(OURO_GC_DEBUG_COLLECTABLE | OURO_GC_DEBUG_STATS, f);
        struct timespec ts = {0, 20 * 1000};
        nanosleep(&ts, NULL);
        ouro_gc_set_debug(0, NULL);
        atomic_store_explicit(&sinks[i].retired, 1, memory_order_release);
        fclose(f);
    }
    return NULL;
}

static void debug_stream_may_be_closed_once_unset(void **state)
{
    memset(sinks, 0, sizeof sinks);
    atomic_store(&sink_writes, 0);
    atomic_store(&late_writes, 0);
    atomic_store(&stop_toggling, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, toggle_debug, NULL), 0);
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 50; i++)
            make_garbage_pair();
        assert_int_equal(ouro_gc_collect(), 100);
    }
    atomic_store_explicit(&stop_toggling, 1, memory_order_release);
    ouro_blocking_begin();
    pthread_join(th, NULL);
    ouro_blocking_end();
    ouro_gc_set_debug(0, NULL);
    assert_int_equal(atomic_load(&late_writes), 0);
    assert_true(atomic_load(&sink_writes) > 0);
}

/* ---- concurrent ----------------------------------------------------------- */

#define THREADS 2
#define OPS 12000

static ouro_object *payload;
static _Atomic int churned;   /* churn threads that have finished */
static _Atomic int keep_churning;   /* past OPS, until this is cleared */

static void *churn(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    for (int i = 0; i < OPS || atomic_load_explicit(&keep_churning,
                                                    memory_order_relaxed);
         i++) {
        ouro_object *a = ouro_record_new(&node_type);
        ouro_record_set(a, 1, payload);
        if (i % 3 == 0) {   /* a garbage cycle */
            ouro_object *b = ouro_record_new(&node_type);
            ouro_record_set(b, 1, payload);
            ouro_record_set(a, 0, b);
            ouro_record_set(b, 0, a);
            ouro_decref(b);
        }
        ouro_decref(a);
        if (i % 64 == 0)
            ouro_safepoint();
    }
    atomic_fetch_add_explicit(&churned, 1, memory_order_release);
    ouro_thread_detach();
    return NULL;
}

static void check_all(ouro_object *all)
{
    for (size_t i = 0; i < ouro_list_len(all); i++) {
        ouro_object *o = ouro_list_get(all, (ptrdiff_t)i);
        if (ouro_type_of(o) == &node_type) {
            ouro_object *p = ouro_record_get(o, 1);
            /* Payload set right after construction: NULL or intact. */
            assert_true(p == NULL || p == payload);
            ouro_xdecref(p);
        }
        ouro_decref(o);
    }
}

/* Join the churning threads (offline), then collect what they left with
 * automatic collection off: twice, for cycles the first one released. */
static void join_and_collect(pthread_t *th)
{
    ouro_blocking_begin();
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    ouro_blocking_end();
    ouro_gc_disable();
    ouro_gc_collect();
    ouro_gc_collect();
}

static void get_objects_while_threads_allocate(void **state)
{
    payload = ouro_str_from("payload");
    ouro_gc_set_threshold(64);
    ouro_gc_enable();
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, churn, NULL);
    for (int round = 0; round < 40; round++) {
        ouro_object *all = ouro_gc_get_objects(round % 2 ? &node_type : NULL);
        assert_non_null(all);
        check_all(all);
        ouro_decref(all);
        if (round % 8 == 0) {
            ouro_gc_freeze();
            ouro_gc_unfreeze();
        }
        ouro_safepoint();
    }
    join_and_collect(th);
    assert_int_equal(count_of_type(&node_type), 0);
    ouro_decref(payload);
}

/* The referrers of the payload are nodes holding it in slot 1 (and the
 * lists of referents of earlier rounds, released but not yet freed); the
 * nodes' referents are the payload once each, and nodes. */
static size_t check_referrers_and_referents(void)
{
    ouro_object *rers = ouro_gc_get_referrers(1, &payload);
    assert_non_null(rers);
    size_t len = ouro_list_len(rers), n = 0;
    ouro_object **objs = calloc(len ? len : 1, sizeof *objs);
    assert_non_null(objs);
    for (size_t i = 0; i < len; i++) {
        ouro_object *o = ouro_list_get(rers, (ptrdiff_t)i);
        if (ouro_type_of(o) == &ouro_list_type) {
            ouro_decref(o);
            continue;
        }
        assert_ptr_equal(ouro_type_of(o), &node_type);
        ouro_object *p = ouro_record_get(o, 1);
        assert_ptr_equal(p, payload);
        ouro_decref(p);
        /* Held by the result, so what it reaches is intact too, even if
         * it is a member of a cycle the collector is examining. */
        ouro_object *b = ouro_record_get(o, 0);
        if (b) {
            assert_ptr_equal(ouro_type_of(b), &node_type);
            ouro_object *back = ouro_record_get(b, 0);
            p = ouro_record_get(b, 1);
            assert_true(back == NULL || back == o);
            assert_ptr_equal(p, payload);
            ouro_xdecref(back);
            ouro_decref(p);
            ouro_decref(b);
        }
        objs[n++] = o;
    }
    ouro_object *ents = ouro_gc_get_referents(n, objs);
    assert_non_null(ents);
    size_t payloads = 0;
    for (size_t i = 0; i < ouro_list_len(ents); i++) {
        ouro_object *o = ouro_list_get(ents, (ptrdiff_t)i);
        if (o == payload)
            payloads++;
        else
            assert_ptr_equal(ouro_type_of(o), &node_type);
        ouro_decref(o);
    }
    assert_int_equal(payloads, n);
    ouro_decref(ents);
    for (size_t i = 0; i < n; i++)
        ouro_decref(objs[i]);
    free(objs);
    ouro_decref(rers);
    return n;
}

static void referrers_and_referents_while_threads_build_cycles(void **state)
{
    payload = ouro_str_from("payload");
    ouro_gc_set_threshold(64);
    ouro_gc_enable();
    pthread_t th[THREADS];
    atomic_store(&churned, 0);
    atomic_store(&keep_churning, 1);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, churn, NULL);
    size_t seen = 0;
    /* While they build and drop cycles: they go on until some referrers
     * were seen and a few rounds done (a fast run could otherwise end
     * before the first one), or a bounded number of rounds. */
    for (int round = 0; round < 10000 && (round < 4 || !seen); round++) {
        seen += check_referrers_and_referents();
        ouro_safepoint();
    }
    atomic_store(&keep_churning, 0);
    join_and_collect(th);
    assert_true(seen > 0);
    assert_int_equal(count_of_type(&node_type), 0);
    ouro_decref(payload);
}

static void freeze_then_collect_while_threads_build_cycles(void **state)
{
    payload = ouro_str_from("payload");
    /* Frozen live structure: must survive every collection untouched. */
    ouro_object *root = ouro_list_new(0);
    for (int i = 0; i < 100; i++) {
        ouro_object *a = ouro_record_new(&node_type), *b = ouro_record_new(&node_type);
        ouro_record_set(a, 0, b);
        ouro_record_set(b, 0, a);
        ouro_record_set(a, 1, payload);
        ouro_list_append(root, a);
        ouro_decref(a);
        ouro_decref(b);
    }
    assert_true(ouro_gc_freeze() >= 201);
    ouro_gc_set_threshold(64);
    ouro_gc_enable();
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, churn, NULL);
    for (int i = 0; i < 10; i++)
        assert_true(ouro_gc_collect() >= 0);
    join_and_collect(th);
    /* Only the frozen pairs are left, intact. */
    assert_int_equal(count_of_type(&node_type), 200);
    for (ptrdiff_t i = 0; i < 100; i++) {
        ouro_object *a = ouro_list_get(root, i), *b = ouro_record_get(a, 0);
        ouro_object *back = ouro_record_get(b, 0), *p = ouro_record_get(a, 1);
        assert_ptr_equal(back, a);
        assert_ptr_equal(p, payload);
        ouro_decref(p);
        ouro_decref(back);
        ouro_decref(b);
        ouro_decref(a);
    }
    /* Dropped while frozen: the cycles are found only after unfreeze. */
    ouro_decref(root);
    ouro_flush();
    assert_int_equal(ouro_gc_collect(), 0);
    assert_int_equal(ouro_gc_unfreeze(), OURO_OK);
    assert_int_equal(ouro_gc_collect(), 200);
    ouro_decref(payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(get_objects_lists_live_tracked_objects),
        TEST(objects_being_finalized_are_not_listed),
        TEST(resurrected_objects_are_listed_again),
        TEST(referents_and_referrers),
        TEST(tracked_and_finalized_flags),
        TEST(immortals_are_not_tracked_anywhere),
        TEST(frozen_garbage_waits_for_unfreeze),
        TEST(frozen_objects_are_never_examined),
        TEST(saveall_keeps_garbage_and_reports),
        TEST(debug_stream_may_be_closed_once_unset),
        TEST(get_objects_while_threads_allocate),
        TEST(referrers_and_referents_while_threads_build_cycles),
        TEST(freeze_then_collect_while_threads_build_cycles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
