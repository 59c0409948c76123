/*
 * concurrency_test.c - several threads sharing objects and containers.
 *
 * Each test ends with every thread's references released; the fixture then
 * checks that every object was freed (object accounting back to zero).
 * Freed-twice or freed-while-live objects are caught by the debug
 * quarantine, ASan (--config=asan) or TSan (--config=tsan).
 */
#include "fixture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define THREADS 4

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: deterministic per seed */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Run fn on THREADS attached threads while the caller waits offline. */
static void run_threads(void *(*fn)(void *), void *args, size_t arg_size)
{
    pthread_t th[THREADS];
    ouro_blocking_begin();
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, fn, (char *)args + i * arg_size);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    ouro_blocking_end();
}

/* ---- random increments/decrements: counts exact at the end ------------- */
#define OBJECTS 64
#define COUNT_OPS 40000

static ouro_object *objs[OBJECTS];

struct count_arg {
    uint64_t seed;
};

static void *count_worker(void *p)
{
    struct count_arg *a = p;
    int64_t held[OBJECTS] = {0};
    ouro_thread_attach();
    for (int op = 0; op < COUNT_OPS; op++) {
        uint64_t r = rng_next(&a->seed);
        int i = (int)(r % OBJECTS);
        if (held[i] > 0 && (r >> 32) % 2) {
            ouro_decref(objs[i]);
            held[i]--;
        } else {
            ouro_incref(objs[i]);
            held[i]++;
        }
        if (op % 97 == 0)
            ouro_safepoint();
    }
    for (int i = 0; i < OBJECTS; i++)
        while (held[i]-- > 0)
            ouro_decref(objs[i]);
    ouro_thread_detach();
    return NULL;
}

static void random_counting_is_exact(void **state)
{
    for (int i = 0; i < OBJECTS; i++)
        objs[i] = ouro_str_from("counted");
    struct count_arg args[THREADS];
    for (int i = 0; i < THREADS; i++)
        args[i].seed = 0x9e3779b97f4a7c15ull * (i + 1);
    run_threads(count_worker, args, sizeof args[0]);
    ouro_flush();
    for (int i = 0; i < OBJECTS; i++) {
        assert_int_equal(ouro_refcnt(objs[i]), 1);
        ouro_decref(objs[i]);
    }
}

/* ---- a shared list: readers race writers that replace and pop --------- */
#define SLOTS 32
#define LIST_OPS 20000

static ouro_object *shared;
static const char PAYLOAD[] = "payload-0123456789";

static void check_payload(ouro_object *o)
{
    assert_ptr_equal(ouro_type_of(o), &ouro_str_type);
    assert_int_equal(ouro_str_len(o), sizeof PAYLOAD - 1);
    assert_memory_equal(ouro_str_data(o), PAYLOAD, sizeof PAYLOAD);
}

static void *list_worker(void *p)
{
    struct count_arg *a = p;
    ouro_thread_attach();
    bool writer = a->seed & 1;
    for (int op = 0; op < LIST_OPS; op++) {
        uint64_t r = rng_next(&a->seed);
        ptrdiff_t i = (ptrdiff_t)(r % SLOTS);
        if (writer && r % 5 == 0) {
            ouro_object *fresh = ouro_str_from(PAYLOAD);
            ouro_list_set(shared, i, fresh);     /* EINDEX if popped short */
            ouro_decref(fresh);
        } else if (writer && r % 7 == 0) {
            ouro_object *popped = ouro_list_pop(shared, -1);
            if (popped) {
                check_payload(popped);
                ouro_list_append(shared, popped);  /* keep the length */
                ouro_decref(popped);
            }
        } else {
            ouro_object *got = ouro_list_get(shared, i);
            if (got) {
                check_payload(got);
                ouro_decref(got);
            }
        }
        if (op % 61 == 0)
            ouro_safepoint();
    }
    ouro_thread_detach();
    return NULL;
}

static void shared_list_readers_and_writers(void **state)
{
    shared = ouro_list_new(0);
    for (int i = 0; i < SLOTS; i++) {
        ouro_object *s = ouro_str_from(PAYLOAD);
        ouro_list_append(shared, s);
        ouro_decref(s);
    }
    struct count_arg args[THREADS];
    for (int i = 0; i < THREADS; i++)
        args[i].seed = 0x1234567ull * (i + 3) + (uint64_t)i;  /* odd: writer */
    run_threads(list_worker, args, sizeof args[0]);
    assert_int_equal(ouro_list_len(shared), SLOTS);
    ouro_decref(shared);
}

/* ---- a shared dict: set, delete and get the same keys ------------------ */
#define KEYS 24

static ouro_object *dict;

static void *dict_worker(void *p)
{
    struct count_arg *a = p;
    ouro_thread_attach();
    char key[16];
    for (int op = 0; op < LIST_OPS; op++) {
        uint64_t r = rng_next(&a->seed);
        snprintf(key, sizeof key, "k%u", (unsigned)(r % KEYS));
        if (r % 4 == 0) {
            ouro_object *v = ouro_str_from(PAYLOAD);
            assert_int_equal(ouro_dict_set_cstr(dict, key, v), OURO_OK);
            ouro_decref(v);
        } else if (r % 9 == 0) {
            ouro_object *k = ouro_str_from(key);
            int err = ouro_dict_del(dict, k);
            assert_true(err == OURO_OK || err == OURO_EKEY);
            ouro_decref(k);
        } else {
            ouro_object *v = ouro_dict_get_cstr(dict, key);
            if (v) {
                check_payload(v);
                ouro_decref(v);
            }
        }
        if (op % 53 == 0)
            ouro_safepoint();
    }
    ouro_thread_detach();
    return NULL;
}

static void shared_dict_readers_and_writers(void **state)
{
    dict = ouro_dict_new();
    struct count_arg args[THREADS];
    for (int i = 0; i < THREADS; i++)
        args[i].seed = 0xabcdefull * (i + 7);
    run_threads(dict_worker, args, sizeof args[0]);
    assert_true(ouro_dict_len(dict) <= KEYS);
    ouro_decref(dict);
}

/* ---- interning from every thread yields one object per string --------- */
#define NAMES 300

static ouro_object *seen[THREADS][NAMES];

struct intern_arg {
    uint64_t seed;
    int index;
};

static void *intern_worker(void *p)
{
    struct intern_arg *a = p;
    ouro_thread_attach();
    char name[32];
    for (int n = 0; n < NAMES; n++) {
        int k = (int)((n * 7919 + a->index * 104729) % NAMES);  /* own order */
        snprintf(name, sizeof name, "identifier_%d", k);
        seen[a->index][k] = ouro_intern_cstr(name);
        if (n % 17 == 0)
            ouro_safepoint();
    }
    ouro_thread_detach();
    return NULL;
}

static void interning_is_one_object_per_string(void **state)
{
    struct intern_arg args[THREADS];
    for (int i = 0; i < THREADS; i++)
        args[i] = (struct intern_arg){.seed = 1, .index = i};
    run_threads(intern_worker, args, sizeof args[0]);
    char name[32];
    for (int k = 0; k < NAMES; k++) {
        snprintf(name, sizeof name, "identifier_%d", k);
        ouro_object *mine = ouro_intern_cstr(name);
        for (int t = 0; t < THREADS; t++)
            assert_ptr_equal(seen[t][k], mine);
        assert_string_equal(ouro_str_data(mine), name);
    }
}

/* ---- objects made by one thread, dropped by others, while owners come
 * and go: every merge path (owner, queued, orphan) ---------------------- */
#define HANDOFF_ROUNDS 30
#define HANDOFF_BATCH 64

static ouro_object *mailbox;

static void *producer_consumer(void *p)
{
    struct count_arg *a = p;
    for (int round = 0; round < HANDOFF_ROUNDS; round++) {
        ouro_thread_attach();
        for (int i = 0; i < HANDOFF_BATCH; i++) {
            uint64_t r = rng_next(&a->seed);
            if (r % 2) {
                ouro_object *l = ouro_list_new(0);
                ouro_object *s = ouro_str_from(PAYLOAD);
                ouro_list_append(l, s);
                ouro_decref(s);
                ouro_list_append(mailbox, l);
                ouro_decref(l);
            } else {
                ouro_object *l = ouro_list_pop(mailbox, 0);
                if (l) {
                    ouro_object *s = ouro_list_get(l, 0);
                    check_payload(s);
                    ouro_decref(s);
                    ouro_decref(l);
                }
            }
            if (i % 8 == 0)
                ouro_safepoint();
        }
        if (round % 2)
            ouro_thread_detach();
        else
            ouro_flush(), ouro_thread_detach();
    }
    return NULL;
}

static void ownership_hands_over_while_threads_come_and_go(void **state)
{
    mailbox = ouro_list_new(0);
    struct count_arg args[THREADS];
    for (int i = 0; i < THREADS; i++)
        args[i].seed = 0x5151ull * (i + 11);
    run_threads(producer_consumer, args, sizeof args[0]);
    ouro_flush();
    ouro_stats st;
    ouro_get_stats(&st);
    /* The mailbox, and two objects per list still in it. */
    assert_int_equal(st.live_objects, 1 + 2 * ouro_list_len(mailbox));
    ouro_decref(mailbox);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OURO_TEST(random_counting_is_exact),
        OURO_TEST(shared_list_readers_and_writers),
        OURO_TEST(shared_dict_readers_and_writers),
        OURO_TEST(interning_is_one_object_per_string),
        OURO_TEST(ownership_hands_over_while_threads_come_and_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
