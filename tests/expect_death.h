/*
 * expect_death.h - for tests of misuse: run a body in a forked child and
 * check that it aborted with a message naming the mistake.
 */
#ifndef OURO_TEST_EXPECT_DEATH_H
#define OURO_TEST_EXPECT_DEATH_H

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* Run body() in a forked child with its stderr captured; the test fails
 * unless the child died of SIGABRT having printed `words`.  The child
 * starts from the parent's state: a body that needs the runtime starts it
 * (the parent's collector thread is not in the child). */
static inline void expect_death(void (*body)(void), const char *words)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        alarm(60);   /* a body that hangs fails (SIGALRM), never stalls */
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

#endif /* OURO_TEST_EXPECT_DEATH_H */
