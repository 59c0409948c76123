/*
 * types_test.c - the built-in types' API: ints, strs, tuples, lists, dicts,
 * records, errors on bad arguments, and reference bookkeeping on stores.
 */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ints_hold_values(void **state)
{
    ouro_object *big = ouro_int_new(INT64_MIN);
    assert_int_equal(ouro_int_value(big), INT64_MIN);
    assert_string_equal(ouro_type_name(big), "int");
    assert_ptr_equal(ouro_type_of(big), &ouro_int_type);
    ouro_decref(big);
    assert_string_equal(ouro_type_name(ouro_none()), "NoneType");
    assert_true(ouro_is_immortal(ouro_none()));
}

static void strs_keep_bytes(void **state)
{
    ouro_object *s = ouro_str_new("a\0b", 3);
    assert_int_equal(ouro_str_len(s), 3);
    assert_memory_equal(ouro_str_data(s), "a\0b", 4);
    ouro_object *e = ouro_str_new("", 0);
    assert_int_equal(ouro_str_len(e), 0);
    assert_string_equal(ouro_str_data(e), "");
    assert_null(ouro_str_new(NULL, 3));
    ouro_object *i1 = ouro_intern("a\0b", 3), *i2 = ouro_intern("a\0b", 3);
    assert_ptr_equal(i1, i2);
    assert_true(ouro_str_equal(i1, s));
    assert_false(ouro_str_equal(e, s));
    ouro_decref(s);
    ouro_decref(e);
}

static void tuples_take_references(void **state)
{
    ouro_object *a = ouro_str_from("a"), *b = ouro_list_new(0);
    ouro_object *t = ouro_tuple_pack(2, a, b);
    assert_non_null(t);
    assert_int_equal(ouro_tuple_len(t), 2);
    assert_int_equal(ouro_refcnt(a), 2);
    ouro_object *got = ouro_tuple_get(t, 1);
    assert_ptr_equal(got, b);
    assert_int_equal(ouro_refcnt(b), 3);
    ouro_decref(got);
    assert_null(ouro_tuple_get(t, 2));
    ouro_object *empty = ouro_tuple_new(0, NULL);
    assert_int_equal(ouro_tuple_len(empty), 0);
    ouro_object *with_null[2] = {a, NULL};
    assert_null(ouro_tuple_new(2, with_null));
    ouro_decref(empty);
    ouro_decref(t);
    ouro_flush();
    assert_int_equal(ouro_refcnt(a), 1);
    ouro_decref(a);
    ouro_decref(b);
}

static void lists_behave_like_python(void **state)
{
    ouro_object *l = ouro_list_new(0);
    ouro_object *v[10];
    for (int i = 0; i < 10; i++) {
        v[i] = ouro_int_new(1000 + i);
        assert_int_equal(ouro_list_append(l, v[i]), OURO_OK);
    }
    assert_int_equal(ouro_list_len(l), 10);
    ouro_object *last = ouro_list_get(l, -1);
    assert_ptr_equal(last, v[9]);
    ouro_decref(last);
    assert_null(ouro_list_get(l, 10));
    assert_null(ouro_list_get(l, -11));
    /* set releases the old item, takes the new one */
    assert_int_equal(ouro_list_set(l, 0, v[5]), OURO_OK);
    assert_int_equal(ouro_refcnt(v[0]), 1);
    assert_int_equal(ouro_refcnt(v[5]), 3);
    assert_int_equal(ouro_list_set(l, 10, v[5]), OURO_EINDEX);
    /* pop hands the list's reference to the caller and shifts */
    ouro_object *p = ouro_list_pop(l, 1);
    assert_ptr_equal(p, v[1]);
    assert_int_equal(ouro_refcnt(v[1]), 2);
    ouro_decref(p);
    assert_int_equal(ouro_list_len(l), 9);
    ouro_object *now1 = ouro_list_get(l, 1);
    assert_ptr_equal(now1, v[2]);
    ouro_decref(now1);
    assert_null(ouro_list_pop(l, 9));
    ouro_decref(l);
    ouro_flush();
    for (int i = 0; i < 10; i++) {
        assert_int_equal(ouro_refcnt(v[i]), 1);
        ouro_decref(v[i]);
    }
}

static void lists_reject_bad_arguments(void **state)
{
    ouro_object *s = ouro_str_from("not a list");
    assert_int_equal(ouro_list_append(s, s), OURO_EINVAL);
    assert_int_equal(ouro_list_append(NULL, s), OURO_EINVAL);
    assert_null(ouro_list_get(s, 0));
    assert_int_equal(ouro_list_len(s), 0);
    ouro_object *l = ouro_list_new(0);
    assert_int_equal(ouro_list_append(l, NULL), OURO_EINVAL);
    assert_int_equal(ouro_list_len(l), 0);
    ouro_decref(l);
    ouro_decref(s);
}

static void dicts_map_str_keys(void **state)
{
    ouro_object *d = ouro_dict_new();
    ouro_object *k = ouro_str_from("answer");
    ouro_object *v = ouro_int_new(4200);
    assert_int_equal(ouro_dict_set(d, k, v), OURO_OK);
    assert_int_equal(ouro_refcnt(k), 2);
    assert_int_equal(ouro_refcnt(v), 2);
    ouro_object *got = ouro_dict_get_cstr(d, "answer");
    assert_ptr_equal(got, v);
    ouro_decref(got);
    /* an equal, distinct key finds the same entry */
    ouro_object *k2 = ouro_str_from("answer");
    got = ouro_dict_get(d, k2);
    assert_ptr_equal(got, v);
    ouro_decref(got);
    /* replacing releases the old value */
    ouro_object *v2 = ouro_int_new(4300);
    assert_int_equal(ouro_dict_set(d, k2, v2), OURO_OK);
    assert_int_equal(ouro_refcnt(v), 1);
    assert_int_equal(ouro_refcnt(k2), 1);   /* the first key object stays */
    assert_int_equal(ouro_dict_len(d), 1);
    assert_int_equal(ouro_dict_del(d, k), OURO_OK);
    assert_int_equal(ouro_dict_del(d, k), OURO_EKEY);
    assert_int_equal(ouro_dict_len(d), 0);
    assert_null(ouro_dict_get(d, k));
    assert_int_equal(ouro_dict_set(d, v, v), OURO_EINVAL);  /* int key */
    /* grow past many rebuilds, with deletes in between */
    char name[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "key%d", i);
        ouro_object *iv = ouro_int_new(i);
        assert_int_equal(ouro_dict_set_cstr(d, name, iv), OURO_OK);
        ouro_decref(iv);
        if (i % 3 == 0) {
            ouro_object *ks = ouro_str_from(name);
            assert_int_equal(ouro_dict_del(d, ks), OURO_OK);
            ouro_decref(ks);
        }
    }
    assert_int_equal(ouro_dict_len(d), 2000 - 667);
    ouro_object *keys = ouro_dict_keys(d);
    assert_int_equal(ouro_list_len(keys), 2000 - 667);
    ouro_decref(keys);
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "key%d", i);
        ouro_object *iv = ouro_dict_get_cstr(d, name);
        if (i % 3 == 0) {
            assert_null(iv);
        } else {
            assert_non_null(iv);
            assert_int_equal(ouro_int_value(iv), i);
            ouro_decref(iv);
        }
    }
    ouro_decref(d);
    ouro_flush();
    assert_int_equal(ouro_refcnt(k), 1);
    assert_int_equal(ouro_refcnt(v2), 1);
    ouro_decref(k);
    ouro_decref(k2);
    ouro_decref(v);
    ouro_decref(v2);
}

static int finalized_count;
static void count_finalize(ouro_object *self)
{
    (void)self;
    finalized_count++;
}

static void records_hold_slots(void **state)
{
    ouro_type node;
    ouro_record_type_init(&node, "Node", 2, count_finalize);
    finalized_count = 0;
    ouro_object *a = ouro_record_new(&node), *b = ouro_record_new(&node);
    assert_string_equal(ouro_type_name(a), "Node");
    assert_null(ouro_record_get(a, 0));
    assert_int_equal(ouro_record_set(a, 0, b), OURO_OK);
    assert_int_equal(ouro_record_set(a, 2, b), OURO_EINVAL);
    assert_null(ouro_record_get(a, 2));
    assert_int_equal(ouro_refcnt(b), 2);
    ouro_object *got = ouro_record_get(a, 0);
    assert_ptr_equal(got, b);
    ouro_decref(got);
    assert_int_equal(ouro_record_set(a, 0, NULL), OURO_OK);  /* empty it */
    assert_int_equal(ouro_refcnt(b), 1);
    ouro_record_set(a, 1, b);
    ouro_decref(b);
    ouro_decref(a);
    ouro_flush();
    assert_int_equal(finalized_count, 2);
    ouro_object *s = ouro_str_from("x");
    assert_null(ouro_record_new(&ouro_list_type));
    assert_int_equal(ouro_record_set(s, 0, s), OURO_EINVAL);
    ouro_decref(s);
}

/* A user-defined type with its own traverse and destroy. */
typedef struct {
    ouro_object ob;
    ouro_object *child;
    char *buffer;
} pair_obj;

static void pair_traverse(ouro_object *self, ouro_visit_fn visit, void *arg)
{
    pair_obj *p = (pair_obj *)self;
    if (p->child)
        visit(p->child, arg);
}

static int destroyed;
static void pair_destroy(ouro_object *self)
{
    free(((pair_obj *)self)->buffer);
    destroyed++;
}

static const ouro_type pair_type = {
    .name = "Pair",
    .size = sizeof(pair_obj),
    .flags = OURO_TYPE_GC,
    .traverse = pair_traverse,
    .destroy = pair_destroy,
};

static void user_types_are_released_and_destroyed(void **state)
{
    destroyed = 0;
    pair_obj *p = (pair_obj *)ouro_new(&pair_type);
    assert_non_null(p);
    assert_null(p->child);          /* body zeroed */
    p->buffer = malloc(64);
    p->child = ouro_str_from("child");
    ouro_object *child = p->child;
    ouro_incref(child);
    ouro_decref(&p->ob);
    ouro_flush();
    assert_int_equal(destroyed, 1);
    assert_int_equal(ouro_refcnt(child), 1);
    ouro_decref(child);
    ouro_type bad = {.name = "bad", .size = 4};
    assert_null(ouro_new(&bad));
    assert_null(ouro_new(NULL));
}

static void strerror_names_every_code(void **state)
{
    assert_string_equal(ouro_strerror(OURO_ENOMEM), "out of memory");
    assert_string_equal(ouro_strerror(OURO_EKEY), "key not found");
    assert_string_equal(ouro_strerror(12345), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OURO_TEST(ints_hold_values),
        OURO_TEST(strs_keep_bytes),
        OURO_TEST(tuples_take_references),
        OURO_TEST(lists_behave_like_python),
        OURO_TEST(lists_reject_bad_arguments),
        OURO_TEST(dicts_map_str_keys),
        OURO_TEST(records_hold_slots),
        OURO_TEST(user_types_are_released_and_destroyed),
        OURO_TEST(strerror_names_every_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
