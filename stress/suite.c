/*
 * suite.c - the stress suite: every scenario in turn, each with its own
 * seed, thread count and time budget, checking its own invariants.
 *
 *   bazel run //stress:suite -- --short          CI form (a few s each)
 *   bazel run -c opt //stress:suite -- --soak 600 --seed 7 --threads 8
 *
 * Options:
 *   --short          2 s per scenario and smaller structures (the default
 *                    without --soak is 5 s per scenario)
 *   --soak SECONDS   SECONDS per scenario
 *   --seed N         base seed (default: from the clock; printed)
 *   --threads N      worker threads per scenario (default 8)
 *   --only NAME      run one scenario
 *   --skip NAME      leave one scenario out
 *   --progress       progress line on stderr even when it is not a tty
 *   --list           print the scenario names
 * Output: one JSON line per scenario as it ends, then a summary table.
 * Exit status 1 if any scenario failed, 2 for bad usage.
 */
#include "harness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct scenario {
    const char *name;
    void (*run)(stress_run *run);
    const char *what;
} scenarios[] = {
    {"graph", scenario_graph, "shared cyclic graph under a busy collector"},
    {"hot", scenario_hot, "contended counts on a few objects, merges"},
    {"churn", scenario_churn, "threads attach, share, exit"},
    {"cascade", scenario_cascade, "huge trees and chains released"},
    {"finalizers", scenario_finalizers, "finalizers allocate, resurrect"},
    {"faults", scenario_faults, "allocation failures, blocked thread"},
};
#define NSCENARIOS (sizeof scenarios / sizeof scenarios[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: suite [--short | --soak SECONDS] [--seed N] "
               "[--threads N] [--only NAME] [--skip NAME] [--progress] "
               "[--list]\n");
}

static bool parse_number(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || v < 0)
        return false;
    *out = v;
    return true;
}

static bool parse_args(int argc, char **argv, stress_opts *o)
{
    double v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--short")) {
            o->short_form = true;
            o->seconds = 2;
        } else if (!strcmp(a, "--soak") && val && parse_number(val, &v) &&
                   v > 0) {
            o->seconds = v;
            i++;
        } else if (!strcmp(a, "--seed") && val && parse_number(val, &v)) {
            o->seed = strtoull(val, NULL, 10);
            i++;
        } else if (!strcmp(a, "--threads") && val && parse_number(val, &v) &&
                   v >= 1 && v <= 256) {
            o->threads = (int)v;
            i++;
        } else if (!strcmp(a, "--only") && val) {
            o->only = val;
            i++;
        } else if (!strcmp(a, "--skip") && val) {
            o->skip = val;
            i++;
        } else if (!strcmp(a, "--progress")) {
            o->progress = true;
        } else if (!strcmp(a, "--list")) {
            for (size_t s = 0; s < NSCENARIOS; s++)
                printf("%-11s %s\n", scenarios[s].name, scenarios[s].what);
            exit(0);
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else {
            return false;
        }
    }
    return true;
}

static void print_json(const stress_run *r, bool ok)
{
    printf("{\"scenario\":\"%s\",\"ok\":%s,\"ops\":%" PRIu64
           ",\"seconds\":%.2f,\"freed\":%" PRIu64 ",\"violations\":%" PRIu64
           ",\"collections\":%" PRIu64 ",\"pause_p99_ns\":%" PRIu64
           ",\"seed\":%" PRIu64 ",\"threads\":%d}\n",
           r->name, ok ? "true" : "false",
           atomic_load_explicit(&r->ops, memory_order_relaxed), r->seconds,
           r->freed, atomic_load_explicit(&r->violations, memory_order_relaxed),
           r->collections, r->pause_p99_ns, r->seed, r->opts->threads);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    stress_opts opts = {.seconds = 5, .threads = 8};
    opts.seed = (uint64_t)time(NULL);
    if (!parse_args(argc, argv, &opts)) {
        usage(stderr);
        return 2;
    }
    if (isatty(STDERR_FILENO))
        opts.progress = true;
    if (opts.only) {
        bool known = false;
        for (size_t s = 0; s < NSCENARIOS; s++)
            known |= !strcmp(scenarios[s].name, opts.only);
        if (!known) {
            fprintf(stderr, "suite: no scenario named '%s' (see --list)\n",
                    opts.only);
            return 2;
        }
    }
    printf("# stress suite: seed %" PRIu64 ", %d threads, %.0f s per "
           "scenario%s\n", opts.seed, opts.threads, opts.seconds,
           opts.short_form ? " (short)" : "");
    fflush(stdout);

    static stress_run runs[NSCENARIOS];
    bool ran[NSCENARIOS] = {false};
    int failed = 0;
    for (size_t s = 0; s < NSCENARIOS; s++) {
        if ((opts.only && strcmp(opts.only, scenarios[s].name)) ||
            (opts.skip && !strcmp(opts.skip, scenarios[s].name)))
            continue;
        stress_run *r = &runs[s];
        r->name = scenarios[s].name;
        r->opts = &opts;
        r->seed = stress_seed_for(opts.seed, s);
        scenarios[s].run(r);
        ran[s] = true;
        bool ok = atomic_load_explicit(&r->violations,
                                       memory_order_relaxed) == 0;
        failed += !ok;
        print_json(r, ok);
    }

    printf("\n%-11s %-4s %12s %8s %12s %6s %11s %10s\n", "scenario", "ok",
           "ops", "seconds", "freed", "gc", "p99 pause", "violations");
    for (size_t s = 0; s < NSCENARIOS; s++) {
        if (!ran[s])
            continue;
        const stress_run *r = &runs[s];
        uint64_t v = atomic_load_explicit(&r->violations, memory_order_relaxed);
        printf("%-11s %-4s %12" PRIu64 " %8.2f %12" PRIu64 " %6" PRIu64
               " %8.1f us %10" PRIu64 "\n",
               r->name, v ? "FAIL" : "ok",
               atomic_load_explicit(&r->ops, memory_order_relaxed),
               r->seconds, r->freed, r->collections,
               (double)r->pause_p99_ns / 1e3, v);
    }
    printf("%s\n", failed ? "FAILED" : "all scenarios passed");
    return failed ? 1 : 0;
}
