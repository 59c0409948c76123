/*
 * errors_test.c - misuse dies with a message naming the mistake.
 *
 * Each case runs in a forked child; the parent checks that the child
 * aborted and that its stderr contains the expected words.
 */
#include "fixture.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run body() in a child with stderr captured; return what it printed and
 * whether it died of SIGABRT. */
static void expect_death(void (*body)(void), const char *words)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        body();
        _exit(0);   /* survived: the parent reports it */
    }
    close(fds[1]);
    char out[4096] = {0};
    size_t n = 0;
    ssize_t r;
    while (n < sizeof out - 1 && (r = read(fds[0], out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)r;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fail_msg("expected an abort mentioning \"%s\"; child printed: %s",
                 words, out);
    if (!strstr(out, words))
        fail_msg("abort message lacks \"%s\": %s", words, out);
}

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
