/*
 * scenario_churn.c - scenario 3: threads come and go while others keep
 * what they made.
 *
 * Rounds of short-lived threads.  Each attaches, creates nodes, links them
 * to nodes that threads before it published (and that may belong to
 * threads that have exited), publishes some into a shared list, drops
 * published nodes it did not make (merges: queued to a live owner, or done
 * by the dropper itself when the owner has exited), builds a cycle or two
 * and leaves, in one of four ways: detach after a safepoint, detach with
 * decrements still pending, return while attached (the exit destructor
 * detaches), or return while inside a blocking region.  A reader thread
 * stays for the whole run, walks what is published and trims the list.
 *
 * Checked: every node touched is intact; at the end the census finds every
 * live object with its exact count.
 */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>

#define KEEP_MAX 512
#define PER_THREAD 48
#define WALK 3

enum { EXIT_DETACH, EXIT_DETACH_PENDING, EXIT_ATTACHED, EXIT_OFFLINE,
       EXIT_WAYS };

typedef struct churner {
    stress_run *run;
    ouro_object *keep;
    uint64_t rng;
    int exit_way;
} churner;

static ouro_object *keep_get(ouro_object *keep, uint64_t *rng)
{
    size_t len = ouro_list_len(keep);
    if (!len)
        return NULL;
    return ouro_list_get(keep, (ptrdiff_t)stress_below(rng, len));
}

static void *churn_thread(void *arg)
{
    churner *c = arg;
    if (ouro_thread_attach() != OURO_OK) {
        stress_violation("churn: attach failed");
        return NULL;
    }
    ouro_object *mine[PER_THREAD];
    int n = 1 + (int)stress_below(&c->rng, PER_THREAD);
    for (int i = 0; i < n; i++) {
        mine[i] = node_new(&node_type, 0);
        ouro_object *theirs = keep_get(c->keep, &c->rng);
        if (theirs) {
            node_check(theirs, "churn: published node");
            node_set(mine[i], (unsigned)stress_below(&c->rng, NODE_SLOTS),
                     theirs);
            ouro_decref(theirs);
        }
        if (i > 0 && stress_below(&c->rng, 2))
            node_set(mine[i], NODE_SLOTS - 1, mine[i - 1]);
    }
    for (int i = 0; i < n; i++) {
        if (stress_below(&c->rng, 3) == 0) {
            int err = ouro_list_append(c->keep, mine[i]);
            STRESS_CHECK(err == OURO_OK, "churn: append: %s",
                         ouro_strerror(err));
        }
        if (stress_below(&c->rng, 4) == 0) {
            ouro_object *gone = ouro_list_pop(c->keep, 0);
            if (gone) {
                node_check(gone, "churn: popped");
                ouro_decref(gone);
            }
        }
        if (i % 16 == 15)
            ouro_safepoint();
    }
    /* A cycle through the first and last of ours (garbage unless kept). */
    node_set(mine[n - 1], 0, mine[0]);
    node_set(mine[0], 1, mine[n - 1]);
    for (int i = 0; i < n; i++) {
        node_check(mine[i], "churn: own node");
        ouro_decref(mine[i]);
    }
    stress_op(c->run, (uint64_t)n);
    switch (c->exit_way) {
    case EXIT_DETACH:
        ouro_safepoint();
        ouro_thread_detach();
        break;
    case EXIT_DETACH_PENDING:
        ouro_thread_detach();
        break;
    case EXIT_ATTACHED:
        break;
    case EXIT_OFFLINE:
        ouro_blocking_begin();
        break;
    }
    return NULL;
}

typedef struct reader {
    stress_run *run;
    ouro_object *keep;
    uint64_t rng;
} reader;

static void *reader_thread(void *arg)
{
    reader *r = arg;
    if (ouro_thread_attach() != OURO_OK) {
        stress_violation("churn: attach failed");
        return NULL;
    }
    while (!stress_time_up(r->run)) {
        for (int i = 0; i < 16; i++) {
            ouro_object *o = keep_get(r->keep, &r->rng);
            for (int d = 0; o && d < WALK; d++) {
                node_check(o, "churn: reader");
                ouro_object *next =
                    node_get(o, (unsigned)stress_below(&r->rng, NODE_SLOTS));
                ouro_decref(o);
                o = next;
            }
            ouro_xdecref(o);
        }
        while (ouro_list_len(r->keep) > KEEP_MAX) {
            ouro_object *gone = ouro_list_pop(r->keep, 0);
            if (!gone)
                break;
            node_check(gone, "churn: trimmed");
            ouro_decref(gone);
        }
        ouro_safepoint();
    }
    ouro_thread_detach();
    return NULL;
}

void scenario_churn(stress_run *run)
{
    ouro_config cfg = {.gc_threshold = 500};
    if (!stress_runtime_start(run, cfg))
        return;
    ouro_object *keep = ouro_list_new(0);
    reader rd = {run, keep, stress_seed_for(run->seed, 1000)};
    pthread_t reader_th;
    stress_spawn(1, reader_thread, &rd, 0, &reader_th);

    int n = run->opts->threads;
    churner *cs = calloc((size_t)n, sizeof *cs);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    uint64_t rounds = 0, rng = stress_seed_for(run->seed, 2000);
    while (!stress_time_up(run)) {
        for (int i = 0; i < n; i++)
            cs[i] = (churner){run, keep, stress_rand(&rng) | 1,
                              (int)((rounds + (uint64_t)i) % EXIT_WAYS)};
        stress_spawn(n, churn_thread, cs, sizeof *cs, th);
        stress_join(n, th);
        rounds++;
        ouro_safepoint();
    }
    stress_join(1, &reader_th);
    STRESS_CHECK(rounds >= 2, "churn: only %llu round(s) of threads ran",
                 (unsigned long long)rounds);

    uint64_t live = stress_quiesce();
    uint64_t found = stress_census(&keep, 1);
    STRESS_CHECK(found == live,
                 "churn: %llu objects live but %llu reachable",
                 (unsigned long long)live, (unsigned long long)found);
    ouro_decref(keep);
    free(cs);
    free(th);
    stress_runtime_finish(run);
}
