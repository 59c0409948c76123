/*
 * generations_test.c - young and full collections: what a young one
 * examines, what it leaves to the next full one, and when automatic
 * collections are full (docs/collector.md, "Generations").
 */
#include "fixture.h"

#include <stdatomic.h>

static ouro_gc_stats stats(void)
{
    ouro_gc_stats st;
    ouro_gc_get_stats(&st);
    return st;
}

/* A two-list cycle, dropped: garbage that never was examined. */
static void drop_young_cycle(void)
{
    ouro_object *a = ouro_list_new(0), *b = ouro_list_new(0);
    assert_int_equal(ouro_list_append(a, b), OURO_OK);
    assert_int_equal(ouro_list_append(b, a), OURO_OK);
    ouro_decref(a);
    ouro_decref(b);
}

/* `o` becomes old: a cycle `o` <-> helper is examined by a full collection
 * while the caller holds `o`, and kept.  The helper stays referenced by
 * `o` only. */
static void make_old(ouro_object *o)
{
    ouro_object *h = ouro_list_new(0);
    assert_int_equal(ouro_list_append(o, h), OURO_OK);
    assert_int_equal(ouro_list_append(h, o), OURO_OK);
    ouro_decref(h);                        /* a candidate */
    assert_int_equal(ouro_gc_collect(), 0);
}

static void young_collection_frees_young_cycles(void **state)
{
    (void)state;
    drop_young_cycle();
    drop_young_cycle();
    ouro_gc_stats before = stats();
    assert_int_equal(ouro_gc_collect_young(), 4);
    ouro_gc_stats after = stats();
    assert_int_equal(after.collections, before.collections + 1);
    assert_int_equal(after.full_collections, before.full_collections);
    assert_int_equal(ouro_test_live(), 0);
}

/* An old candidate waits in the old set: its decrement puts it there
 * straight away (no young collection holds it), and the young collection
 * neither examines it nor walks into old objects from young ones. */
static void young_collection_defers_old_candidates(void **state)
{
    (void)state;
    ouro_object *root = ouro_list_new(0);
    make_old(root);                        /* root and its helper are old */
    uint64_t young_before = ouro_gc_get_count();
    ouro_incref(root);
    ouro_decref(root);                     /* a candidate again: old */
    ouro_flush();
    assert_int_equal(ouro_gc_get_count(), young_before);
    /* A young garbage cycle that references the old root. */
    ouro_object *a = ouro_list_new(0), *b = ouro_list_new(0);
    assert_int_equal(ouro_list_append(a, b), OURO_OK);
    assert_int_equal(ouro_list_append(b, a), OURO_OK);
    assert_int_equal(ouro_list_append(a, root), OURO_OK);
    ouro_decref(a);
    ouro_decref(b);
    ouro_flush();
    ouro_gc_stats before = stats();
    assert_int_equal(ouro_gc_collect_young(), 2);
    ouro_gc_stats after = stats();
    assert_int_equal(after.deferred, before.deferred);   /* not taken */
    assert_int_equal(after.examined, before.examined + 2);    /* a and b */
    assert_int_equal(after.candidates, before.candidates + 2);
    /* The full collection takes root from the old set: examined, live. */
    before = after;
    assert_int_equal(ouro_gc_collect(), 0);
    after = stats();
    assert_int_equal(after.candidates, before.candidates + 1);
    assert_int_equal(after.full_collections, before.full_collections + 1);
    ouro_decref(root);   /* the root and its helper: a cycle again */
    assert_int_equal(ouro_gc_collect(), 2);
    assert_int_equal(ouro_test_live(), 0);
}

/* A cycle through an old object that is no candidate: the young
 * collection stops at the old object, so it puts that object in the old
 * set, and the next full collection frees the cycle.  Without that the
 * cycle would leak: nothing ever decrements the old object again. */
static void cycle_through_an_old_object_is_freed_by_the_full_collection(
    void **state)
{
    (void)state;
    ouro_object *q = ouro_list_new(0), *o = ouro_list_new(0);
    assert_int_equal(ouro_list_append(q, o), OURO_OK);
    ouro_decref(o);                        /* o: a candidate, held by q */
    /* A full collection examines o (empty, referenced from outside: live)
     * but not q, which o does not reach: o is old, q young, neither a
     * candidate afterwards. */
    assert_int_equal(ouro_gc_collect(), 0);
    assert_int_equal(ouro_list_append(o, q), OURO_OK);   /* q <-> o */
    ouro_decref(q);                        /* q: a young candidate */
    ouro_flush();
    ouro_gc_stats before = stats();
    assert_int_equal(ouro_gc_collect_young(), 0);   /* q is held by old o */
    ouro_gc_stats after = stats();
    assert_int_equal(after.examined, before.examined + 1);   /* q alone */
    assert_int_equal(ouro_test_live(), 2);
    assert_int_equal(ouro_gc_collect(), 2);
    assert_int_equal(ouro_test_live(), 0);
}

/* Automatic collections: every OURO_GC_FULL_EVERY-th one is full. */
static _Atomic int collections_seen, full_seen;

static void count_kinds(ouro_gc_event event, const ouro_gc_info *info,
                        void *arg)
{
    (void)arg;
    if (event != OURO_GC_STOP)
        return;
    /* The kind first: a waiter that sees the collection counted must see
     * whether it was full, or it would drop one more cycle and count one
     * collection too many (seq_cst, the default, orders the two). */
    if (info->full)
        atomic_fetch_add(&full_seen, 1);
    atomic_fetch_add(&collections_seen, 1);
}

static void every_full_every_th_automatic_collection_is_full(void **state)
{
    (void)state;
    atomic_store(&collections_seen, 0);
    atomic_store(&full_seen, 0);
    assert_int_equal(ouro_gc_callback_add(count_kinds, NULL), OURO_OK);
    ouro_gc_set_threshold(2);
    ouro_gc_enable();
    int want = 2 * OURO_GC_FULL_EVERY + 1;
    while (atomic_load(&collections_seen) < want) {
        int seen = atomic_load(&collections_seen);
        drop_young_cycle();                /* two candidates: a trigger */
        while (atomic_load(&collections_seen) == seen)
            ouro_safepoint();
    }
    ouro_gc_disable();
    /* Only automatic collections ran, each one after the one before. */
    int n = atomic_load(&collections_seen);
    assert_int_equal(atomic_load(&full_seen), n / OURO_GC_FULL_EVERY);
    ouro_gc_stats st = stats();
    assert_int_equal(st.full_collections, (uint64_t)(n / OURO_GC_FULL_EVERY));
    assert_int_equal(ouro_gc_callback_remove(count_kinds, NULL), OURO_OK);
    assert_int_equal(ouro_test_live(), 0);
}

/* Full collections that find little lengthen the interval to the next
 * automatic full one, up to OURO_GC_FULL_EVERY_MAX; one that finds much
 * brings it back, and the automatic schedule follows the interval. */
#define LIVE_LISTS 64

static void lean_full_collections_come_less_often(void **state)
{
    (void)state;
    assert_int_equal(stats().full_every, OURO_GC_FULL_EVERY);
    /* A live structure of candidates: each full collection examines it
     * and finds nothing. */
    ouro_object *root = ouro_list_new(0);
    for (int i = 0; i < LIVE_LISTS; i++) {
        ouro_object *l = ouro_list_new(0);
        assert_int_equal(ouro_list_append(root, l), OURO_OK);
        ouro_decref(l);                    /* a candidate, held by root */
    }
    assert_int_equal(ouro_gc_collect(), 0);
    assert_int_equal(stats().full_every, 2 * OURO_GC_FULL_EVERY);
    /* Nothing to examine: no evidence either way, no change. */
    assert_int_equal(ouro_gc_collect(), 0);
    assert_int_equal(stats().full_every, 2 * OURO_GC_FULL_EVERY);
    unsigned every = 2 * OURO_GC_FULL_EVERY;
    while (every < OURO_GC_FULL_EVERY_MAX) {
        for (int i = 0; i < LIVE_LISTS; i++) {
            ouro_object *l = ouro_list_get(root, (size_t)i);
            ouro_decref(l);                /* a candidate again */
        }
        assert_int_equal(ouro_gc_collect(), 0);
        every *= 2;
        assert_int_equal(stats().full_every, every);
    }
    for (int i = 0; i < LIVE_LISTS; i++)
        ouro_decref(ouro_list_get(root, (size_t)i));
    assert_int_equal(ouro_gc_collect(), 0);
    assert_int_equal(stats().full_every, OURO_GC_FULL_EVERY_MAX);   /* capped */

    /* Back to the short interval: the collection after this many young
     * ones is full, and it finds the cycle (all it examines). */
    atomic_store(&collections_seen, 0);
    atomic_store(&full_seen, 0);
    assert_int_equal(ouro_gc_callback_add(count_kinds, NULL), OURO_OK);
    ouro_gc_set_threshold(2);
    ouro_gc_enable();
    while (atomic_load(&full_seen) == 0) {
        int seen = atomic_load(&collections_seen);
        drop_young_cycle();                /* two candidates: a trigger */
        while (atomic_load(&collections_seen) == seen)
            ouro_safepoint();
    }
    ouro_gc_disable();
    assert_int_equal(atomic_load(&collections_seen), OURO_GC_FULL_EVERY_MAX);
    assert_int_equal(stats().full_every, OURO_GC_FULL_EVERY);
    assert_int_equal(ouro_gc_callback_remove(count_kinds, NULL), OURO_OK);
    ouro_decref(root);
    assert_int_equal(ouro_gc_collect(), 0);
    assert_int_equal(ouro_test_live(), 0);
}

/* Reads of old objects fill the old set, not the young one: they bring
 * no young collection, and once the old set holds a quarter of the
 * tracked objects (and the threshold) the next automatic collection is
 * full.  Read while automatic collection is off, so that the one request
 * comes from ouro_gc_enable (requests made while off are dropped), and
 * exactly one collection runs; then read again with it on, and a full
 * collection must come by itself. */
#define READ_LISTS 4096

static void read_all(ouro_object *root)
{
    for (int i = 0; i < READ_LISTS; i++)
        ouro_decref(ouro_list_get(root, (size_t)i));   /* a read */
    ouro_flush();
}

static void old_reads_bring_a_full_collection_not_young_ones(void **state)
{
    (void)state;
    ouro_object *root = ouro_list_new(0);
    for (int i = 0; i < READ_LISTS; i++) {
        ouro_object *l = ouro_list_new(0);
        assert_int_equal(ouro_list_append(root, l), OURO_OK);
        ouro_decref(l);                    /* a candidate, held by root */
    }
    assert_int_equal(ouro_gc_collect(), 0);   /* all of them old now */
    atomic_store(&collections_seen, 0);
    atomic_store(&full_seen, 0);
    assert_int_equal(ouro_gc_callback_add(count_kinds, NULL), OURO_OK);
    ouro_gc_set_threshold(READ_LISTS / 4);
    read_all(root);
    assert_int_equal(ouro_gc_get_count(), 0);
    ouro_gc_enable();
    while (atomic_load(&collections_seen) == 0)
        ouro_safepoint();
    ouro_gc_disable();
    /* Wait for anything already started (disable skips the rest). */
    assert_int_equal(ouro_gc_collect_young(), 0);
    assert_int_equal(atomic_load(&collections_seen), 2);   /* with ours */
    assert_int_equal(atomic_load(&full_seen), 1);
    /* With automatic collection on, the reads' own insertions ask. */
    atomic_store(&full_seen, 0);
    ouro_gc_enable();
    read_all(root);
    while (atomic_load(&full_seen) == 0)
        ouro_safepoint();
    ouro_gc_disable();
    assert_int_equal(ouro_gc_collect_young(), 0);
    assert_int_equal(ouro_gc_callback_remove(count_kinds, NULL), OURO_OK);
    ouro_decref(root);
    assert_int_equal(ouro_test_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OURO_TEST(young_collection_frees_young_cycles),
        OURO_TEST(young_collection_defers_old_candidates),
        OURO_TEST(cycle_through_an_old_object_is_freed_by_the_full_collection),
        OURO_TEST(every_full_every_th_automatic_collection_is_full),
        OURO_TEST(lean_full_collections_come_less_often),
        OURO_TEST(old_reads_bring_a_full_collection_not_young_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
