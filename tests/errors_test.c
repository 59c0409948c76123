/*
 * errors_test.c - misuse dies with a message naming the mistake.
 *
 * Each case runs in a forked child; the parent checks that the child
 * aborted and that its stderr contains the expected words.
 */
#include "expect_death.h"
#include "fixture.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void start(void)
{
    ouro_init(NULL);
    ouro_thread_attach();
}

static void underflow_body(void)
{
    start();
    ouro_object *l = ouro_list_new(0);
    ouro_incref(l);
    ouro_decref(l);
    ouro_decref(l);
    ouro_decref(l);      /* one too many */
    ouro_flush();
}

static void count_underflow_aborts(void **state)
{
    expect_death(underflow_body, "reference count underflow on a 'list'");
}

static void double_release_body(void)
{
    start();
    ouro_object *s = ouro_str_from("x");
    ouro_decref(s);
    ouro_flush();        /* freed (kept poisoned in the quarantine) */
    ouro_decref(s);      /* released again */
    ouro_flush();
}

static void double_release_aborts(void **state)
{
#ifndef NDEBUG
    /* Debug builds quarantine freed objects: the second decrement finds a
     * poisoned header. */
    expect_death(double_release_body, "already freed");
#else
    skip();
#endif
}

static void *unattached_body_thread(void *arg)
{
    (void)arg;
    ouro_list_new(0);    /* this thread never attached */
    return NULL;
}

static void unattached_body(void)
{
    start();
    pthread_t th;
    pthread_create(&th, NULL, unattached_body_thread, NULL);
    pthread_join(th, NULL);
}

static void use_from_unattached_thread_aborts(void **state)
{
    expect_death(unattached_body, "not attached");
}

static void decref_null_body(void)
{
    start();
    ouro_decref(NULL);
    ouro_flush();
}

static void decref_null_aborts(void **state)
{
    expect_death(decref_null_body, "ouro_decref(NULL)");
}

static void unbalanced_blocking_body(void)
{
    start();
    ouro_blocking_end();
}

static void unbalanced_blocking_end_aborts(void **state)
{
    expect_death(unbalanced_blocking_body, "without a matching");
}

static void offline_read_body(void)
{
    start();
    ouro_object *l = ouro_list_new(0);
    ouro_blocking_begin();
    ouro_list_get(l, 0);
}

static void container_read_while_offline_aborts(void **state)
{
#ifndef NDEBUG
    expect_death(offline_read_body, "inside a blocking region");
#else
    skip();
#endif
}

static void *linger(void *arg)
{
    ouro_thread_attach();
    atomic_store((_Atomic int *)arg, 1);
    for (;;)
        pause();
    return NULL;
}

static void shutdown_with_threads_body(void)
{
    start();
    static _Atomic int ready;
    pthread_t th;
    pthread_create(&th, NULL, linger, (void *)&ready);
    while (!atomic_load(&ready))
        ;
    ouro_shutdown();
}

static void shutdown_with_attached_threads_aborts(void **state)
{
    expect_death(shutdown_with_threads_body, "still attached");
}

/* ---- introspection and weak references: bad object arguments ----------
 *
 * A NULL argument aborts in every build (a NULL result would read as out
 * of memory, or as a dead referent); a dead one in debug builds. */

#define DEATH_CASE(name, words, ...)                                          \
    static void name##_body(void)                                             \
    {                                                                         \
        start();                                                              \
        __VA_ARGS__;                                                          \
    }                                                                         \
    static void name(void **state)                                            \
    {                                                                         \
        expect_death(name##_body, words);                                     \
    }

DEATH_CASE(referrers_of_null_array_aborts,
           "ouro_gc_get_referrers: objs is NULL",
           ouro_gc_get_referrers(1, NULL))
DEATH_CASE(referrers_of_null_element_aborts,
           "ouro_gc_get_referrers: objs[1] is NULL",
           ouro_gc_get_referrers(2, (ouro_object *[]){ouro_list_new(0), NULL}))
DEATH_CASE(referents_of_null_array_aborts,
           "ouro_gc_get_referents: objs is NULL",
           ouro_gc_get_referents(3, NULL))
DEATH_CASE(referents_of_null_element_aborts,
           "ouro_gc_get_referents: objs[0] is NULL",
           ouro_gc_get_referents(1, (ouro_object *[]){NULL}))
DEATH_CASE(why_alive_of_null_aborts, "ouro_gc_why_alive: o is NULL",
           ouro_gc_why_alive(NULL))
DEATH_CASE(weakref_new_of_null_aborts, "ouro_weakref_new: referent is NULL",
           ouro_weakref_new(NULL, NULL, NULL))
DEATH_CASE(weakref_get_of_null_aborts, "ouro_weakref_get: weakref is NULL",
           ouro_weakref_get(NULL))
DEATH_CASE(weakref_get_of_a_list_aborts,
           "ouro_weakref_get of a 'list' object",
           ouro_weakref_get(ouro_list_new(0)))
DEATH_CASE(weakref_data_of_a_list_aborts,
           "ouro_weakref_data of a 'list' object",
           ouro_weakref_data(ouro_list_new(0)))
DEATH_CASE(weakref_count_of_null_aborts, "ouro_weakref_count: o is NULL",
           ouro_weakref_count(NULL))
DEATH_CASE(is_tracked_of_null_aborts, "ouro_gc_is_tracked: o is NULL",
           ouro_gc_is_tracked(NULL))
DEATH_CASE(is_finalized_of_null_aborts, "ouro_gc_is_finalized: o is NULL",
           ouro_gc_is_finalized(NULL))

#ifndef NDEBUG
/* A list released and freed: debug builds keep it poisoned a while. */
static ouro_object *freed_list(void)
{
    ouro_object *l = ouro_list_new(0);
    ouro_decref(l);
    ouro_flush();
    return l;
}

#define DEAD_CASE(name, api, ...)                                             \
    DEATH_CASE(name, api " of an object that was already freed", __VA_ARGS__)

DEAD_CASE(referents_of_a_dead_element_aborts, "ouro_gc_get_referents",
          ouro_gc_get_referents(2, (ouro_object *[]){ouro_list_new(0),
                                                     freed_list()}))
DEAD_CASE(referrers_of_a_dead_element_aborts, "ouro_gc_get_referrers",
          ouro_gc_get_referrers(1, (ouro_object *[]){freed_list()}))
DEAD_CASE(weakref_new_of_a_dead_object_aborts, "ouro_weakref_new",
          ouro_weakref_new(freed_list(), NULL, NULL))
DEAD_CASE(weakref_new_with_dead_data_aborts, "ouro_weakref_new",
          ouro_weakref_new(ouro_list_new(0), NULL, freed_list()))
DEAD_CASE(is_tracked_of_a_dead_object_aborts, "ouro_gc_is_tracked",
          ouro_gc_is_tracked(freed_list()))
DEAD_CASE(is_finalized_of_a_dead_object_aborts, "ouro_gc_is_finalized",
          ouro_gc_is_finalized(freed_list()))
DEAD_CASE(weakref_count_of_a_dead_object_aborts, "ouro_weakref_count",
          ouro_weakref_count(freed_list()))
DEAD_CASE(weakref_get_of_a_dead_weakref_aborts, "ouro_weakref_get", {
              ouro_object *l = ouro_list_new(0);
              ouro_object *w = ouro_weakref_new(l, NULL, NULL);
              ouro_decref(w);
              ouro_flush();
              ouro_weakref_get(w);
          })
DEAD_CASE(dump_of_a_dead_list_aborts, "ouro_gc_dump",
          ouro_gc_dump(stderr, OURO_GC_DUMP_JSON, freed_list()))
DEAD_CASE(why_alive_of_a_dead_object_aborts, "ouro_gc_why_alive",
          ouro_gc_why_alive(freed_list()))

/* Dead but not yet freed: its weak reference's callback runs while it is
 * on the dead list, and this one kept the raw pointer. */
static ouro_object *stashed;

static void ask_about_the_referent(ouro_object *weakref, ouro_object *data)
{
    (void)weakref;
    (void)data;
    ouro_gc_why_alive(stashed);
}

DEATH_CASE(why_alive_of_a_dying_object_aborts,
           "ouro_gc_why_alive of a dead object (a 'list'", {
               stashed = ouro_list_new(0);
               ouro_object *w =
                   ouro_weakref_new(stashed, ask_about_the_referent, NULL);
               (void)w;
               ouro_decref(stashed);
               ouro_flush();
           })
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(count_underflow_aborts),
        cmocka_unit_test(double_release_aborts),
        cmocka_unit_test(use_from_unattached_thread_aborts),
        cmocka_unit_test(decref_null_aborts),
        cmocka_unit_test(unbalanced_blocking_end_aborts),
        cmocka_unit_test(container_read_while_offline_aborts),
        cmocka_unit_test(shutdown_with_attached_threads_aborts),
        cmocka_unit_test(referrers_of_null_array_aborts),
        cmocka_unit_test(referrers_of_null_element_aborts),
        cmocka_unit_test(referents_of_null_array_aborts),
        cmocka_unit_test(referents_of_null_element_aborts),
        cmocka_unit_test(why_alive_of_null_aborts),
        cmocka_unit_test(weakref_new_of_null_aborts),
        cmocka_unit_test(weakref_get_of_null_aborts),
        cmocka_unit_test(weakref_get_of_a_list_aborts),
        cmocka_unit_test(weakref_data_of_a_list_aborts),
        cmocka_unit_test(weakref_count_of_null_aborts),
        cmocka_unit_test(is_tracked_of_null_aborts),
        cmocka_unit_test(is_finalized_of_null_aborts),
#ifndef NDEBUG
        cmocka_unit_test(referents_of_a_dead_element_aborts),
        cmocka_unit_test(referrers_of_a_dead_element_aborts),
        cmocka_unit_test(weakref_new_of_a_dead_object_aborts),
        cmocka_unit_test(weakref_new_with_dead_data_aborts),
        cmocka_unit_test(is_tracked_of_a_dead_object_aborts),
        cmocka_unit_test(is_finalized_of_a_dead_object_aborts),
        cmocka_unit_test(weakref_count_of_a_dead_object_aborts),
        cmocka_unit_test(weakref_get_of_a_dead_weakref_aborts),
        cmocka_unit_test(dump_of_a_dead_list_aborts),
        cmocka_unit_test(why_alive_of_a_dead_object_aborts),
        cmocka_unit_test(why_alive_of_a_dying_object_aborts),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
