/*
 * harness.h - what every stress scenario shares: options, the random
 * generator, violation reports, the checking allocator, the canary-carrying
 * node types, the census of exact counts, and the scenario lifecycle.
 *
 * A scenario is a function that gets a stress_run (its seed, thread count,
 * time budget and counters), starts the runtime with stress_runtime_start,
 * drives threads until stress_time_up, and ends with stress_runtime_finish,
 * which checks that everything it allocated was freed exactly once.
 * Every check that fails calls stress_violation: the scenario fails, the
 * run goes on so that one report shows every broken invariant.
 */
#ifndef OURO_STRESS_HARNESS_H
#define OURO_STRESS_HARNESS_H

#include <ouro.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- options (suite.c) --------------------------------------------------- */
typedef struct stress_opts {
    double seconds;        /* working time per scenario */
    uint64_t seed;
    int threads;           /* worker threads per scenario */
    bool progress;         /* show the progress line on stderr */
    bool short_form;       /* CI form: smaller structures */
    const char *only;      /* run this scenario alone (NULL: all) */
    const char *skip;      /* leave this scenario out (NULL: none) */
} stress_opts;

/* ---- one scenario's run (harness.c) --------------------------------------- */
typedef struct stress_run {
    const char *name;
    const stress_opts *opts;
    uint64_t seed;              /* this scenario's seed */
    double started, deadline;   /* stress_now() seconds */
    _Atomic uint64_t ops;       /* operations done by all threads */
    _Atomic uint64_t violations;
    _Atomic int stop;           /* set by stress_time_up once over time */
    uint64_t freed;             /* objects the runtime freed (at the end) */
    uint64_t collections;
    uint64_t pause_p99_ns;
    double seconds;
} stress_run;

double stress_now(void);
/* True once the run's working time is over (cheap; call in every loop). */
bool stress_time_up(stress_run *run);
/* Count one operation of the calling thread (batched into run->ops). */
static inline void stress_op(stress_run *run, uint64_t n)
{
    /* relaxed: a statistic, read by the progress line and at the end. */
    atomic_fetch_add_explicit(&run->ops, n, memory_order_relaxed);
}

/* Report a broken invariant: counted against the current scenario and
 * printed (the first few of each run). */
__attribute__((format(printf, 1, 2))) void stress_violation(const char *fmt,
                                                            ...);
#define STRESS_CHECK(cond, ...)                                               \
    do {                                                                      \
        if (!(cond))                                                          \
            stress_violation(__VA_ARGS__);                                    \
    } while (0)

/* Starts the runtime with the checking allocator and the given settings
 * (malloc_fn/free_fn are filled in), attaches the calling thread, resets
 * the node counters and starts the progress line.  Returns false (and
 * reports) if the runtime does not start. */
bool stress_runtime_start(stress_run *run, ouro_config cfg);
/* The end of a scenario, on the thread that started it, after every other
 * thread of the scenario has been joined: collects until nothing is
 * found, checks that no object is live and every node was destroyed
 * exactly once, shuts down, and checks that the allocator got back every
 * block.  Fills run->freed, collections, pause_p99_ns. */
void stress_runtime_finish(stress_run *run);

/* Quiescence, on the scenario's thread once its other threads are joined:
 * automatic collection off, collections until one finds nothing, all
 * decrements applied.  Returns the live object count. */
uint64_t stress_quiesce(void);

/* Start n threads running fn(arg_i) where arg_i = base + i * stride, and
 * join them.  The threads attach and detach themselves. */
typedef void *(*stress_thread_fn)(void *arg);
void stress_spawn(int n, stress_thread_fn fn, void *base, size_t stride,
                  void *threads_out /* pthread_t[n] */);
void stress_join(int n, void *threads /* pthread_t[n] */);

/* ---- random numbers: xorshift64*, one state per thread ------------------ */
static inline uint64_t stress_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}
/* Uniform in [0, n) (n > 0; the bias is irrelevant here). */
static inline uint64_t stress_below(uint64_t *s, uint64_t n)
{
    return stress_rand(s) % n;
}
/* A nonzero per-thread state derived from a seed and an index. */
uint64_t stress_seed_for(uint64_t seed, uint64_t index);

/* ---- the checking allocator (check_alloc.c) ------------------------------ */
/* Every block carries a header (size, and a tag that encodes its address
 * and whether it is live) and a tail guard.  free checks both, so a double
 * free, a free of a pointer we never returned and a write past the end are
 * reported; freed memory is poisoned and quarantined for a while, and the
 * poison is verified when it leaves quarantine (writes after free). */
void *check_alloc_malloc(size_t size, void *ctx);
void check_alloc_free(void *ptr, void *ctx);
/* Blocks handed out and not yet freed. */
int64_t check_alloc_live(void);
/* Release the quarantine (verifying its poison); call after shutdown. */
void check_alloc_drain(void);

/* Fault injection, per thread: once armed, every `every`-th allocation made
 * by this thread fails (0 disarms).  The injected count is per thread. */
void check_alloc_fail_every(unsigned every);
uint64_t check_alloc_injected(void);

/* ---- nodes: objects that check themselves (node.c) ---------------------- */
/* A node has NODE_SLOTS reference slots, canaries around its payload, a
 * life state and a count of finalizer runs.  node_check verifies all of
 * that: call it on every node a scenario holds, every time it touches it. */
#define NODE_SLOTS 4
extern const ouro_type node_type;       /* no finalizer */
extern const ouro_type fin_node_type;   /* finalizer: node_finalize_hook */

/* What fin_node_type's finalizer does after checking and counting its run;
 * set by the scenario before it creates fin nodes (NULL: nothing). */
extern void (*node_finalize_hook)(ouro_object *self, uint32_t mode);

/* A mode with NODE_MARK set is counted apart (marked_destroyed), so that a
 * scenario can follow one structure while other threads make nodes too. */
#define NODE_MARK 0x80000000u
ouro_object *node_new(const ouro_type *type, uint32_t mode);  /* NULL: ENOMEM */
bool node_is(const ouro_object *o);
/* Verify o is a live, intact node; report otherwise.  Returns o's mode. */
uint32_t node_check(ouro_object *o, const char *where);
/* New reference to slot i's referent (NULL if empty); the caller must be
 * online (it reads a shared object). */
ouro_object *node_get(ouro_object *self, unsigned slot);
/* Store value (new reference taken; NULL clears) into slot i. */
void node_set(ouro_object *self, unsigned slot, ouro_object *value);
uint64_t node_serial(const ouro_object *o);
uint32_t node_finalizer_runs(const ouro_object *o);

struct node_counters {
    uint64_t created, destroyed, finalized;
    uint64_t marked_destroyed;   /* destroyed nodes with NODE_MARK */
};
void node_counters_reset(void);
void node_counters_get(struct node_counters *out);

/* ---- census (census.c) --------------------------------------------------- */
/* At quiescence (no other thread attached, automatic collection off,
 * flushed): walk everything reachable from roots through nodes, lists and
 * tuples; check every node; check that each object's ouro_refcnt equals
 * the references found to it plus `extra_refs` (the references the caller
 * holds to each root, one each).  Returns the number of objects found that
 * are not immortal. */
uint64_t stress_census(ouro_object *const *roots, size_t nroots);

/* ---- the scenarios -------------------------------------------------------- */
void scenario_graph(stress_run *run);
void scenario_hot(stress_run *run);
void scenario_churn(stress_run *run);
void scenario_cascade(stress_run *run);
void scenario_finalizers(stress_run *run);
void scenario_faults(stress_run *run);

#endif /* OURO_STRESS_HARNESS_H */
