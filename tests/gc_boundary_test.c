/*
 * gc_boundary_test.c - the header flag word after HAS_WEAKREFS and FROZEN
 * took bits 10 and 11: the collector's node numbers (bits 13..31), one per
 * node or one per run of nodes, at the boundary where numbering in the
 * header ends and the hash index begins, with the flag bits preserved
 * beside them; and a real collection of a ring larger than one number per
 * node allows.
 */
#include "fixture.h"

#include "internal.h"
#include "table.h"

#include <stdlib.h>

static const ouro_type fake_type = {.name = "fake", .flags = OURO_TYPE_GC};

/* What mark_node in collect.c stores. */
static uint32_t header_word(const gc_table *t, size_t index, uint32_t flags)
{
    return flags | (gc_table_number(t, index) << OURO__GC_NODE_SHIFT);
}

/* n nodes in a table reset for `expect`: every one found, flags intact,
 * and `hashed` of them past the numbered ones. */
static void fill_and_find(size_t n, size_t expect, size_t hashed)
{
    ouro_object *objs = calloc(n + 1, sizeof *objs);
    assert_non_null(objs);
    gc_table t;
    gc_table_init(&t);
    gc_table_reset(&t, expect);
    uint32_t flags = OURO__GC_HAS_WEAKREFS | OURO__GC_FROZEN | OURO__GC_IN_GC;
    for (size_t i = 0; i < n; i++) {
        objs[i].ob_type = &fake_type;
        assert_int_equal(gc_table_add(&t, &objs[i]), (int64_t)i);
        atomic_store(&objs[i].ob_gc, header_word(&t, i, flags));
    }
    size_t zero = 0;
    for (size_t i = 0; i < n; i++) {
        if (gc_table_lookup(&t, &objs[i]) != (int64_t)i)
            fail_msg("node %zu of %zu (runs of %zu) found as %lld", i, n,
                     (size_t)1 << t.shift,
                     (long long)gc_table_lookup(&t, &objs[i]));
        assert_int_equal(atomic_load(&objs[i].ob_gc) & OURO__GC_FLAGS_MASK,
                         flags);
        zero += gc_table_number(&t, i) == 0;
    }
    assert_int_equal(zero, hashed);
    objs[n].ob_type = &fake_type;   /* never added */
    assert_int_equal(gc_table_lookup(&t, &objs[n]), -1);
    /* A number that names a run without it (left from an earlier
     * collection) finds nothing. */
    atomic_store(&objs[n].ob_gc, header_word(&t, 0, flags));
    assert_int_equal(gc_table_lookup(&t, &objs[n]), -1);
    gc_table_free(&t);
    free(objs);
}

/* One number per node up to OURO__GC_NODE_MAX - 1, then the hash index. */
static void node_index_and_flags_share_the_word(void **state)
{
    assert_int_equal(OURO__GC_FLAGS_MASK & OURO__GC_HAS_WEAKREFS,
                     OURO__GC_HAS_WEAKREFS);
    assert_int_equal(OURO__GC_FLAGS_MASK & OURO__GC_FROZEN, OURO__GC_FROZEN);
    assert_int_equal(OURO__GC_NODE_MAX << OURO__GC_NODE_SHIFT >>
                         OURO__GC_NODE_SHIFT,
                     OURO__GC_NODE_MAX);
    fill_and_find(OURO__GC_NODE_MAX + 16, 0, 17);
}

/* A table sized for three times as many nodes numbers runs of 4; a heap
 * that outgrew its estimate still hashes the rest. */
static void runs_of_nodes_share_a_number(void **state)
{
    size_t per = OURO__GC_NODE_MAX - 1;
    fill_and_find(3 * per + 5, 3 * per, 0);
    fill_and_find(4 * per + 9, 3 * per, 9);
}

static ouro_type ring_type;
static int callbacks;

static void on_death(ouro_object *wr, ouro_object *data)
{
    callbacks++;
}

static void ring_across_the_boundary_is_collected(void **state)
{
    ouro_record_type_init(&ring_type, "Ring", 1, NULL);
    callbacks = 0;
    size_t n = OURO__GC_NODE_MAX + 64;
    ouro_object *first = ouro_record_new(&ring_type), *prev = first;
    ouro_object *w_first = ouro_weakref_new(first, on_death, NULL), *w_last;
    for (size_t i = 1; i < n; i++) {
        ouro_object *o = ouro_record_new(&ring_type);
        ouro_record_set(prev, 0, o);
        if (prev != first)
            ouro_decref(prev);
        prev = o;
    }
    w_last = ouro_weakref_new(prev, on_death, NULL);
    ouro_record_set(prev, 0, first);
    ouro_decref(prev);
    ouro_decref(first);
    assert_int_equal(ouro_gc_collect(), (int64_t)n);
    assert_int_equal(callbacks, 2);
    assert_null(ouro_weakref_get(w_first));
    assert_null(ouro_weakref_get(w_last));
    ouro_decref(w_first);
    ouro_decref(w_last);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(node_index_and_flags_share_the_word),
        cmocka_unit_test(runs_of_nodes_share_a_number),
        OURO_TEST(ring_across_the_boundary_is_collected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
