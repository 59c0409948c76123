/*
 * semantics_test.c - the reference-counting behaviour the seed articles
 * describe for Python, reproduced with ouro in one thread.
 *
 * In Python, sys.getrefcount(x) reports one more than the references you
 * hold (its own argument); ouro_refcnt(x) reports exactly the references.
 */
#include "fixture.h"

/* a = []  -> one reference */
static void new_object_has_one_reference(void **state)
{
    ouro_object *a = ouro_list_new(0);
    assert_non_null(a);
    assert_int_equal(ouro_refcnt(a), 1);
    ouro_decref(a);
}

/* b = a; c = a  -> each new name adds one; del drops one */
static void names_add_and_remove_references(void **state)
{
    ouro_object *a = ouro_list_new(0);
    ouro_object *b = a;
    ouro_incref(b);
    ouro_object *c = a;
    ouro_incref(c);
    assert_int_equal(ouro_refcnt(a), 3);
    ouro_decref(c);                     /* del c */
    assert_int_equal(ouro_refcnt(a), 2);
    ouro_decref(b);                     /* del b */
    assert_int_equal(ouro_refcnt(a), 1);
    ouro_decref(a);
}

/* ex_list = [a, b, c, d]: each member gains one; del ex_list: each loses
 * it again. */
static void container_holds_and_releases_members(void **state)
{
    ouro_object *m[4];
    for (int i = 0; i < 4; i++) {
        m[i] = ouro_str_from("member");
        assert_int_equal(ouro_refcnt(m[i]), 1);
    }
    ouro_object *ex_list = ouro_list_new(4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ouro_list_append(ex_list, m[i]), OURO_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ouro_refcnt(m[i]), 2);
    ouro_decref(ex_list);               /* del ex_list */
    ouro_flush();                       /* its death releases the members */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ouro_refcnt(m[i]), 1);
        ouro_decref(m[i]);
    }
}

/* A function argument is a borrowed reference; a function that keeps it
 * takes its own. */
static ouro_object *kept;
static void keep(ouro_object *arg)
{
    ouro_incref(arg);
    kept = arg;
}
static int64_t count_during_call(ouro_object *arg)
{
    return ouro_refcnt(arg);
}
static void function_calls_borrow_or_keep(void **state)
{
    ouro_object *x = ouro_int_new(100000);
    assert_int_equal(count_during_call(x), 1);   /* borrowed: unchanged */
    keep(x);
    assert_int_equal(ouro_refcnt(x), 2);
    ouro_decref(kept);
    kept = NULL;
    assert_int_equal(ouro_refcnt(x), 1);
    ouro_decref(x);
}

/* const = const + 10 in the article: rebinding a name releases the old
 * object and references the new one. */
static void rebinding_moves_the_reference(void **state)
{
    ouro_object *ten = ouro_int_new(1000);
    ouro_object *name = ten;
    ouro_incref(name);
    assert_int_equal(ouro_refcnt(ten), 2);
    ouro_object *sum = ouro_int_new(ouro_int_value(name) + 10);
    ouro_decref(name);
    name = sum;
    assert_int_equal(ouro_refcnt(ten), 1);
    assert_int_equal(ouro_int_value(name), 1010);
    ouro_decref(name);
    ouro_decref(ten);
}

/* age = 20; score = 20 -> one object.  Small ints are immortal. */
static void small_ints_share_identity_and_are_immortal(void **state)
{
    ouro_object *age = ouro_int_new(20);
    ouro_object *score = ouro_int_new(20);
    assert_ptr_equal(age, score);
    assert_true(ouro_is_immortal(age));
    assert_ptr_equal(ouro_int_new(-5), ouro_int_new(-5));
    assert_ptr_equal(ouro_int_new(256), ouro_int_new(256));
    int64_t before = ouro_refcnt(age);
    for (int i = 0; i < 1000; i++)
        ouro_incref(age);
    for (int i = 0; i < 10; i++)
        ouro_decref(age);
    ouro_flush();
    assert_int_equal(ouro_refcnt(age), before);
    assert_int_equal(before, OURO_IMMORTAL_REFCNT);
    /* Outside the cache: distinct objects with equal values. */
    ouro_object *a = ouro_int_new(257), *b = ouro_int_new(257);
    assert_ptr_not_equal(a, b);
    assert_false(ouro_is_immortal(a));
    ouro_decref(a);
    ouro_decref(b);
}

/* x = "This is my house!"; y = "This is my house!" -> one object when
 * interned; a fresh str is a different object with equal contents. */
static void interned_strings_share_identity(void **state)
{
    ouro_object *x = ouro_intern_cstr("This is my house!");
    ouro_object *y = ouro_intern_cstr("This is my house!");
    assert_ptr_equal(x, y);
    assert_true(ouro_is_immortal(x));
    ouro_object *fresh = ouro_str_from("This is my house!");
    assert_ptr_not_equal(fresh, x);
    assert_true(ouro_str_equal(fresh, x));
    assert_ptr_not_equal(ouro_intern_cstr("other"), x);
    ouro_decref(fresh);
}

/* Equal lists are two objects. */
static void equal_lists_are_distinct(void **state)
{
    ouro_object *one = ouro_int_new(1);
    ouro_object *a = ouro_list_new(0), *b = ouro_list_new(0);
    ouro_list_append(a, one);
    ouro_list_append(b, one);
    assert_ptr_not_equal(a, b);
    ouro_decref(a);
    ouro_decref(b);
}

/* An object is freed once the last reference is released and the grace
 * period has passed, not before. */
static void freed_after_last_release_and_grace_period(void **state)
{
    ouro_stats st;
    ouro_get_stats(&st);
    uint64_t freed0 = st.freed;
    ouro_object *a = ouro_list_new(0);
    ouro_object *b = ouro_str_from("held by a");
    ouro_list_append(a, b);
    ouro_decref(b);
    ouro_decref(a);
    ouro_get_stats(&st);
    assert_int_equal(st.freed, freed0);          /* decrements still pending */
    ouro_flush();
    ouro_get_stats(&st);
    assert_int_equal(st.freed, freed0 + 2);      /* list, then its member */
}

/* The superheroes/sidekicks cycle from the article: counting alone keeps
 * both alive (the cycle collector is what frees them).  Break it by hand. */
static void cycle_is_not_freed_by_counting_alone(void **state)
{
    ouro_object *superheroes = ouro_list_new(0);
    ouro_object *sidekicks = ouro_list_new(0);
    ouro_list_append(superheroes, sidekicks);
    ouro_list_append(sidekicks, superheroes);
    ouro_decref(superheroes);                    /* del superheroes */
    ouro_flush();
    ouro_object *back = ouro_list_get(sidekicks, -1);  /* sidekicks[-1] */
    assert_non_null(back);
    assert_int_equal(ouro_list_len(back), 1);
    assert_int_equal(ouro_refcnt(back), 2);
    ouro_object *popped = ouro_list_pop(back, 0);  /* break the cycle */
    assert_ptr_equal(popped, sidekicks);
    ouro_decref(popped);
    ouro_decref(back);
    ouro_decref(sidekicks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OURO_TEST(new_object_has_one_reference),
        OURO_TEST(names_add_and_remove_references),
        OURO_TEST(container_holds_and_releases_members),
        OURO_TEST(function_calls_borrow_or_keep),
        OURO_TEST(rebinding_moves_the_reference),
        OURO_TEST(small_ints_share_identity_and_are_immortal),
        OURO_TEST(interned_strings_share_identity),
        OURO_TEST(equal_lists_are_distinct),
        OURO_TEST(freed_after_last_release_and_grace_period),
        OURO_TEST(cycle_is_not_freed_by_counting_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
