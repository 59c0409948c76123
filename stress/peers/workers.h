/*
 * workers.h - run a body on N threads that start together, and time them:
 * wall time from the first thread's start to the last thread's end, the
 * threads' CPU time, and the time they waited for a CPU (runqueue.h).  Each body calls worker_start() once it is ready (an
 * ouro thread attaches first) and worker_stop() when its measured work is
 * done, so setup and teardown stay outside the figures.
 */
#ifndef PEERS_WORKERS_H
#define PEERS_WORKERS_H

#include <stdint.h>

typedef struct workers workers;

typedef struct worker {
    workers *all;
    int id;
    void *arg;
    uint64_t cpu0;
    int64_t runq0;
    uint64_t start;
} worker;

typedef struct workers_result {
    uint64_t wall_ns;   /* first start to last stop */
    uint64_t cpu_ns;    /* summed over the threads, start to stop */
    uint64_t start_ns;  /* the first start (monotonic clock) */
    uint64_t span_ns;   /* summed over the threads, start to stop */
    int64_t runq_ns;    /* summed time waiting for a CPU; -1 if unknown */
} workers_result;

/* Wait for every other worker, then start this one's clocks. */
void worker_start(worker *w);
/* Stop this worker's clocks. */
void worker_stop(worker *w);

/* Run body(w) on n new threads (1 <= n <= 64) and wait for them; 0, or -1
 * when n is out of range.  Aborts if a thread cannot be created. */
int workers_run(int n, void (*body)(worker *w), void *arg,
                workers_result *out);

#endif /* PEERS_WORKERS_H */
