/*
 * trace.h - request-boundary traces: each mutator stores the monotonic
 * clock at the start of its first request and at the end of every request,
 * so t[i+1] - t[i] is the latency of request i, and a gap much longer than
 * the usual one is a pause, whatever caused it (a collector's safepoint
 * work, a stopped world, a lock, the OS).  Every system, CPython included,
 * writes the same file format, and one script (traces.py) turns them all
 * into figures.
 *
 * File format, all little-endian uint64: the number of threads, then for
 * each thread its number of timestamps followed by the timestamps.
 */
#ifndef PEERS_TRACE_H
#define PEERS_TRACE_H

#include <stddef.h>
#include <stdint.h>

typedef struct trace {
    uint64_t *ts;
    size_t n, cap;
} trace;

/* Room for cap timestamps; 0, or -1 out of memory. */
int trace_init(trace *t, size_t cap);
void trace_free(trace *t);

/* Store one timestamp; 0 once the trace is full. */
static inline int trace_mark(trace *t, uint64_t now_ns)
{
    if (t->n == t->cap)
        return 0;
    t->ts[t->n++] = now_ns;
    return 1;
}

/* Write nthreads traces to path; 0, or -1 on a write error. */
int trace_write(const char *path, const trace *traces, int nthreads);

#endif /* PEERS_TRACE_H */
