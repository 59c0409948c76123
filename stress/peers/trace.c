/*
 * trace.c - storing and writing request-boundary traces (trace.h).
 */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>

int trace_init(trace *t, size_t cap)
{
    t->ts = malloc(cap * sizeof *t->ts);
    t->n = 0;
    t->cap = t->ts ? cap : 0;
    return t->ts ? 0 : -1;
}

void trace_free(trace *t)
{
    free(t->ts);
    t->ts = NULL;
    t->n = t->cap = 0;
}

/* The format is little-endian; so is every machine this project runs on
 * (x86-64), and the reader checks the thread count for sanity. */
static int write_u64(FILE *f, uint64_t v)
{
    return fwrite(&v, sizeof v, 1, f) == 1 ? 0 : -1;
}

int trace_write(const char *path, const trace *traces, int nthreads)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int rc = write_u64(f, (uint64_t)nthreads);
    for (int i = 0; rc == 0 && i < nthreads; i++) {
        rc = write_u64(f, (uint64_t)traces[i].n);
        if (rc == 0 && traces[i].n &&
            fwrite(traces[i].ts, sizeof *traces[i].ts, traces[i].n, f) !=
                traces[i].n)
            rc = -1;
    }
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}
