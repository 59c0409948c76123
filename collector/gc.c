/*
 * gc.c - the collector thread, its trigger, and the gc API.
 *
 * One background thread, attached like any mutator, runs every collection:
 * automatic ones when the young candidate count reaches the (adaptive)
 * threshold or the old set a quarter of the heap, and the ones
 * ouro_gc_collect() asks for.  It waits offline (a blocking
 * region), so it never delays a grace period while idle.
 */
#include "gc.h"

#include "candidates.h"
#include "dealloc.h"
#include "debug.h"
#include "heap.h"
#include "refcount.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#define DEFAULT_THRESHOLD 10000
#define MAX_THRESHOLD_FACTOR 64
#define MAX_CALLBACKS 32

/* Pacing (docs/collector.md, "Pacing"): while a collection that took N
 * candidates runs, the threads may buffer max(N / PACE_DIVISOR, PACE_FLOOR,
 * H / PACE_HEAP_DIVISOR) new ones, H the tracked objects; past that, each
 * online mutator waits at its next safepoint
 * until the collection ends, or PACE_WAIT_NS at most (a mutator holding a
 * lock that a finalizer needs must not deadlock the collector). */
#define PACE_DIVISOR 2
#define PACE_FLOOR 65536
#define PACE_HEAP_DIVISOR 4
#define PACE_WAIT_NS 5000000   /* default; ouro_config.gc_pace_max_us */

struct callback {
    ouro_gc_callback fn;
    void *arg;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    pthread_t thread;
    bool started, stop;
    uint64_t requested, completed;     /* ouro_gc_collect tickets */
    uint64_t full_requested;           /* last ticket asking for a full one */
    uint64_t young_requested;          /* last one asking for a young one */
    unsigned young_since_full;         /* collector thread only */
    unsigned full_every;               /* collector thread; stats: lock */
    int64_t last_result;
    ouro_gc_stats stats;               /* lock */
    struct callback callbacks[MAX_CALLBACKS];   /* lock */
    int ncallbacks;
    _Atomic int enabled;
    _Atomic uint64_t base_threshold, threshold;
    _Atomic bool auto_pending;
    _Atomic uint64_t old_trigger;      /* old_trigger_now(), as of the last
                                        * collection or threshold change */
    _Atomic uint64_t pace_limit;       /* 0: no collection running */
    uint64_t pace_wait_ns;             /* 0: pacing off */
} gc = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

static __thread bool on_collector_thread;

void ouro__gc_request(void)
{
    if (!atomic_load_explicit(&gc.enabled, memory_order_relaxed) ||
        atomic_exchange_explicit(&gc.auto_pending, true, memory_order_relaxed))
        return;
    pthread_mutex_lock(&gc.lock);
    pthread_cond_signal(&gc.wake);
    pthread_mutex_unlock(&gc.lock);
}

void ouro__gc_candidates_grew(uint64_t n)
{
    uint64_t limit = atomic_load_explicit(&gc.pace_limit, memory_order_relaxed);
    if (OURO_UNLIKELY(limit && n > limit) &&
        !atomic_load_explicit(&ouro__gc_pacing, memory_order_relaxed)) {
        /* Under gc.lock, like pace_end: the collection may have ended
         * since we read the limit, and a flag raised after its end would
         * stay up until the next one. */
        pthread_mutex_lock(&gc.lock);
        if (atomic_load_explicit(&gc.pace_limit, memory_order_relaxed))
            atomic_store_explicit(&ouro__gc_pacing, true, memory_order_relaxed);
        pthread_mutex_unlock(&gc.lock);
    }
    if (n >= atomic_load_explicit(&gc.threshold, memory_order_relaxed))
        ouro__gc_request();
}

/* The old set's size that makes the next automatic collection full, and
 * asks for one: the base threshold, or a quarter of the tracked objects if
 * that is more (docs/collector.md, "Generations"). */
static uint64_t old_trigger_now(void)
{
    uint64_t base = atomic_load_explicit(&gc.base_threshold,
                                         memory_order_relaxed);
    uint64_t quarter = ouro__heap_count() / 4;
    return quarter > base ? quarter : base;
}

/* Recompute the trigger; with `ask`, ask for a collection if the old set
 * has reached it already. */
static void old_trigger_refresh(bool ask)
{
    uint64_t at = old_trigger_now();
    atomic_store_explicit(&gc.old_trigger, at, memory_order_relaxed);
    if (ask && ouro__cand_old_count() >= at)
        ouro__gc_request();
}

/* Past the trigger, every this many insertions ask again: the collector's
 * own insertions may step over the exact value. */
#define OLD_ASK_EVERY 256

void ouro__gc_old_candidates_grew(uint64_t n)
{
    /* Each value of the count is one insertion's: the trigger's own value
     * asks once.  (Summing the registry's shard counts on every insertion
     * would cost more than the insertion; the trigger is refreshed after
     * every collection and threshold change instead.) */
    uint64_t at = atomic_load_explicit(&gc.old_trigger, memory_order_relaxed);
    if (n == at || (n > at && n % OLD_ASK_EVERY == 0))
        ouro__gc_request();
}

void ouro__gc_pace_begin(uint64_t taken)
{
    if (!gc.pace_wait_ns)
        return;   /* pacing off: the limit stays 0 */
    uint64_t limit = taken / PACE_DIVISOR;
    uint64_t heap = ouro__heap_count() / PACE_HEAP_DIVISOR;
    if (limit < heap)
        limit = heap;
    atomic_store_explicit(&gc.pace_limit, limit > PACE_FLOOR ? limit
                                                              : PACE_FLOOR,
                          memory_order_relaxed);
}

/* The collection is over: nobody waits for it any more (the broadcast of
 * gc.done follows, under gc.lock). */
static void pace_end(void)
{
    pthread_mutex_lock(&gc.lock);
    atomic_store_explicit(&gc.pace_limit, 0, memory_order_relaxed);
    atomic_store_explicit(&ouro__gc_pacing, false, memory_order_relaxed);
    pthread_mutex_unlock(&gc.lock);
}

void ouro__gc_pace_wait(void)
{
    /* Offline while waiting: the collection's handshakes must not wait
     * for us.  We are at a safepoint, so we hold no borrowed pointer; the
     * pending decrements wait with us (ouro_blocking_begin would apply
     * every ready batch, a long pause of its own). */
    ouro_thread *t = ouro__self;
    ouro__gp_offline(t->gp);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);   /* gc.done's clock */
    uint64_t ns = (uint64_t)until.tv_nsec + gc.pace_wait_ns;
    until.tv_sec += (time_t)(ns / 1000000000u);
    until.tv_nsec = (long)(ns % 1000000000u);
    pthread_mutex_lock(&gc.lock);
    uint64_t seen = gc.stats.collections;
    gc.stats.paced++;
    while (atomic_load_explicit(&ouro__gc_pacing, memory_order_relaxed) &&
           gc.stats.collections == seen &&
           pthread_cond_timedwait(&gc.done, &gc.lock, &until) == 0)
        ;
    pthread_mutex_unlock(&gc.lock);
    ouro__gp_online(t->gp);
    ouro__quiescent(t);
}

/* Double the threshold while collections find little garbage, halve it
 * back while they find much (docs/collector.md, "Adaptive trigger"). */
static void adapt_threshold(const struct ouro_gc_run *run)
{
    uint64_t base = atomic_load_explicit(&gc.base_threshold,
                                         memory_order_relaxed);
    uint64_t thr = atomic_load_explicit(&gc.threshold, memory_order_relaxed);
    uint64_t seen = run->examined ? run->examined : 1;
    if (run->unreachable * 10 < seen && thr < base * MAX_THRESHOLD_FACTOR)
        thr *= 2;
    else if (run->unreachable * 2 > seen && thr > base)
        thr /= 2;
    if (thr < base)
        thr = base;
    atomic_store_explicit(&gc.threshold, thr, memory_order_relaxed);
}

static void call_callbacks(ouro_gc_event event, const ouro_gc_info *info)
{
    struct callback cbs[MAX_CALLBACKS];
    pthread_mutex_lock(&gc.lock);
    int n = gc.ncallbacks;
    memcpy(cbs, gc.callbacks, (size_t)n * sizeof cbs[0]);
    pthread_mutex_unlock(&gc.lock);
    for (int i = 0; i < n; i++)
        cbs[i].fn(event, info, cbs[i].arg);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

enum kind { AUTOMATIC, YOUNG, FULL };

/* An automatic collection is full every gc.full_every collections (at
 * most OURO_GC_FULL_EVERY_MAX: the completeness bound), or once the old
 * set holds a quarter of the tracked objects: by then a full collection
 * costs about what the young ones saved (docs/collector.md,
 * "Generations"). */
static bool full_due(void)
{
    return gc.young_since_full + 1 >= gc.full_every ||
           ouro__cand_old_count() >= old_trigger_now();
}

/* After a full collection: a full one that found little garbage among
 * what it examined (less than one object in FULL_LEAN_RATIO) was mostly
 * the cost of walking the old live objects again, so the next one waits
 * twice as long, up to OURO_GC_FULL_EVERY_MAX; one that found much (half
 * or more) brings the interval back to OURO_GC_FULL_EVERY. */
#define FULL_LEAN_RATIO 8

static unsigned adapt_full_every(const struct ouro_gc_run *run, unsigned every)
{
    uint64_t seen = run->examined;
    if (!seen)
        return every;   /* it cost nothing */
    if (run->unreachable * FULL_LEAN_RATIO < seen)
        every = every * 2 > OURO_GC_FULL_EVERY_MAX ? OURO_GC_FULL_EVERY_MAX
                                                   : every * 2;
    else if (run->unreachable * 2 >= seen)
        every = OURO_GC_FULL_EVERY;
    return every;
}

static int64_t run_collection(ouro_thread *self, enum kind kind)
{
    struct ouro_gc_run run;
    memset(&run, 0, sizeof run);
    run.young = kind == YOUNG || (kind == AUTOMATIC && !full_due());
    ouro_gc_info info;
    memset(&info, 0, sizeof info);
    info.full = !run.young;
    pthread_mutex_lock(&gc.lock);
    info.collection = gc.stats.collections + 1;
    pthread_mutex_unlock(&gc.lock);
    call_callbacks(OURO_GC_START, &info);
    ouro__gc_report_start(&info, ouro__cand_count());
    uint64_t start = ouro__now_ns(), cpu_start = thread_cpu_ns();
    int64_t found = ouro__gc_collect_once(self, &run);
    ouro_flush();   /* release the holds, free what the garbage released */
    pace_end();     /* after the flush: freeing is part of catching up */
    uint64_t elapsed = ouro__now_ns() - start;
    uint64_t cpu = thread_cpu_ns() - cpu_start;
    adapt_threshold(&run);
    /* Full only if it took the whole old set (not out of memory, nor a
     * young take turned into a whole-heap one by the overflow mark). */
    info.full = run.old_taken;
    gc.young_since_full = run.old_taken ? 0 : gc.young_since_full + 1;
    unsigned full_every = run.old_taken ? adapt_full_every(&run, gc.full_every)
                                        : gc.full_every;

    info.candidates = run.candidates;
    info.unreachable = run.unreachable;
    info.collected = run.collected;
    info.aborted = run.aborted;
    memcpy(info.phase_ns, run.phase_ns, sizeof info.phase_ns);
    pthread_mutex_lock(&gc.lock);
    ouro_gc_stats *st = &gc.stats;
    st->collections++;
    st->unreachable += run.unreachable;
    st->collected += run.collected;
    st->candidates += run.candidates;
    st->examined += run.examined;
    st->aborted += run.aborted;
    st->zombies += run.zombies;
    st->full_collections += run.old_taken;
    st->deferred += run.deferred;
    gc.full_every = st->full_every = full_every;
    st->last_collection_ns = elapsed;
    st->last_collection_cpu_ns = cpu;
    st->total_collection_cpu_ns += cpu;
    for (int p = 0; p < OURO_GC_PHASES; p++) {
        st->last_phase_ns[p] = run.phase_ns[p];
        st->total_phase_ns[p] += run.phase_ns[p];
    }
    pthread_mutex_unlock(&gc.lock);
    ouro__gc_report_stop(&info, run.examined, elapsed);
    call_callbacks(OURO_GC_STOP, &info);
    /* The heap may have changed size; and if the old set reached the
     * trigger while this collection ran (its own insertions, or a request
     * this collection absorbed), the next one is full.  Unless this one
     * was to be full and could not take the old set (no memory): asking
     * again at once would spin on empty collections; the next insertion
     * past the trigger asks. */
    old_trigger_refresh(run.young || run.old_taken);
    return found;
}

static bool should_run_locked(void)
{
    return gc.stop || gc.requested != gc.completed ||
           atomic_load_explicit(&gc.auto_pending, memory_order_relaxed);
}

static void *collector_main(void *arg)
{
    (void)arg;
    /* Visible in top, perf and debuggers (best effort; _GNU_SOURCE). */
    pthread_setname_np(pthread_self(), "ouro-gc");
    /* Out of memory, attaching fails: try again until it works or we are
     * told to stop (allocation failure is transient for us). */
    while (ouro__thread_attach(true) != OURO_OK) {
        pthread_mutex_lock(&gc.lock);
        bool stop = gc.stop;
        pthread_mutex_unlock(&gc.lock);
        if (stop)
            return NULL;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    on_collector_thread = true;
    ouro_thread *self = ouro__self;
    pthread_mutex_lock(&gc.lock);
    for (;;) {
        if (!should_run_locked()) {
            /* Idle: offline, so that we delay nobody.  Never change state
             * with gc.lock held: going offline applies decrements, which
             * may buffer candidates, which may take gc.lock. */
            pthread_mutex_unlock(&gc.lock);
            ouro_blocking_begin();
            pthread_mutex_lock(&gc.lock);
            while (!should_run_locked())
                pthread_cond_wait(&gc.wake, &gc.lock);
            pthread_mutex_unlock(&gc.lock);
            ouro_blocking_end();
            pthread_mutex_lock(&gc.lock);
        }
        if (gc.stop)
            break;
        uint64_t ticket = gc.requested;
        bool automatic = atomic_exchange_explicit(&gc.auto_pending, false,
                                                  memory_order_relaxed);
        if (automatic && ticket == gc.completed &&
            !atomic_load_explicit(&gc.enabled, memory_order_relaxed))
            continue;
        enum kind kind = gc.full_requested > gc.completed    ? FULL
                         : gc.young_requested > gc.completed ? YOUNG
                                                             : AUTOMATIC;
        pthread_mutex_unlock(&gc.lock);
        int64_t found = run_collection(self, kind);
        pthread_mutex_lock(&gc.lock);
        gc.last_result = found;
        gc.completed = ticket;
        pthread_cond_broadcast(&gc.done);
    }
    pthread_mutex_unlock(&gc.lock);
    ouro_thread_detach();
    return NULL;
}

int ouro__gc_start(const ouro_config *config)
{
    uint64_t thr = config->gc_threshold ? config->gc_threshold
                                        : DEFAULT_THRESHOLD;
    atomic_store_explicit(&gc.base_threshold, thr, memory_order_relaxed);
    atomic_store_explicit(&gc.threshold, thr, memory_order_relaxed);
    atomic_store_explicit(&gc.old_trigger, thr, memory_order_relaxed);
    atomic_store_explicit(&gc.enabled, !config->gc_disabled,
                          memory_order_relaxed);
    atomic_store_explicit(&gc.auto_pending, false, memory_order_relaxed);
    atomic_store_explicit(&gc.pace_limit, 0, memory_order_relaxed);
    atomic_store_explicit(&ouro__gc_pacing, false, memory_order_relaxed);
    gc.pace_wait_ns = config->gc_pace_max_us < 0 ? 0
                      : config->gc_pace_max_us ? (uint64_t)config->gc_pace_max_us * 1000
                                               : PACE_WAIT_NS;
    memset(&gc.stats, 0, sizeof gc.stats);
    gc.ncallbacks = 0;
    gc.requested = gc.completed = 0;
    gc.full_requested = gc.young_requested = 0;
    gc.young_since_full = 0;
    gc.full_every = gc.stats.full_every = OURO_GC_FULL_EVERY;
    gc.stop = false;
    int err = ouro__cand_init();
    if (err != OURO_OK)
        return err;
    if (pthread_create(&gc.thread, NULL, collector_main, NULL) != 0) {
        ouro__cand_fini();
        return OURO_ENOMEM;
    }
    gc.started = true;
    return OURO_OK;
}

/* Called on an attached thread during ouro_shutdown. */
void ouro__gc_stop(void)
{
    if (!gc.started)
        return;
    pthread_mutex_lock(&gc.lock);
    gc.stop = true;
    pthread_cond_broadcast(&gc.wake);
    pthread_mutex_unlock(&gc.lock);
    ouro_blocking_begin();
    pthread_join(gc.thread, NULL);
    ouro_blocking_end();
    gc.started = false;
    ouro__gc_collect_fini();
    ouro__gc_debug_fini();
    /* Nobody collects any more: release the remaining candidates; those
     * that died while taken are ours to free. */
    ouro__taken taken;
    ouro__cand_take_all(NULL, false, &taken);   /* both sets */
    ouro_thread *self = ouro__self;
    ouro__taken_cursor cu = ouro__taken_cursor_start();
    unsigned k;
    for (ouro_object *o; (o = ouro__taken_next(&taken, &cu, &k));) {
        if (ouro__try_incref_shared(o)) {
            atomic_fetch_and_explicit(&o->ob_gc, ~(uint32_t)OURO__GC_BUFFERED,
                                      memory_order_relaxed);
            ouro__release_hold(self, o);
        } else {
            ouro__zombie_claim(self, o);
        }
    }
    ouro__taken_free(&taken);
    ouro_flush();
}

void ouro__gc_fini(void)
{
    ouro__cand_fini();
}

static int64_t collect_now(const char *who, bool young)
{
    ouro__self_or_die(who);
    if (on_collector_thread)
        return OURO_ESTATE;   /* from a finalizer or callback: would wait
                                 for itself */
    ouro_flush();   /* our own decrements first: our cycles get buffered */
    ouro_blocking_begin();   /* before gc.lock: see collector_main */
    pthread_mutex_lock(&gc.lock);
    int64_t found = OURO_ESTATE;
    if (gc.started) {
        uint64_t ticket = ++gc.requested;
        if (young)
            gc.young_requested = ticket;
        else
            gc.full_requested = ticket;
        pthread_cond_signal(&gc.wake);
        while (gc.completed < ticket)
            pthread_cond_wait(&gc.done, &gc.lock);
        found = gc.last_result;
    }
    pthread_mutex_unlock(&gc.lock);
    ouro_blocking_end();
    return found;
}

int64_t ouro_gc_collect(void)
{
    return collect_now("ouro_gc_collect", false);
}

int64_t ouro_gc_collect_young(void)
{
    return collect_now("ouro_gc_collect_young", true);
}

void ouro_gc_enable(void)
{
    atomic_store_explicit(&gc.enabled, 1, memory_order_relaxed);
    ouro__gc_candidates_grew(ouro__cand_count());
    old_trigger_refresh(true);   /* requests made while off were dropped */
}

void ouro_gc_disable(void)
{
    atomic_store_explicit(&gc.enabled, 0, memory_order_relaxed);
}

int ouro_gc_isenabled(void)
{
    return atomic_load_explicit(&gc.enabled, memory_order_relaxed);
}

void ouro_gc_set_threshold(uint64_t candidates)
{
    if (candidates == 0)
        candidates = 1;
    atomic_store_explicit(&gc.base_threshold, candidates, memory_order_relaxed);
    atomic_store_explicit(&gc.threshold, candidates, memory_order_relaxed);
    ouro__gc_candidates_grew(ouro__cand_count());
    old_trigger_refresh(true);
}

uint64_t ouro_gc_get_threshold(void)
{
    return atomic_load_explicit(&gc.base_threshold, memory_order_relaxed);
}

uint64_t ouro_gc_get_count(void)
{
    return ouro__cand_count();
}

void ouro_gc_written(ouro_object *o)
{
    if (o)
        ouro__gc_written(o);
}

void ouro_gc_get_stats(ouro_gc_stats *out)
{
    pthread_mutex_lock(&gc.lock);
    *out = gc.stats;
    pthread_mutex_unlock(&gc.lock);
    out->threshold = atomic_load_explicit(&gc.threshold, memory_order_relaxed);
}

int ouro_gc_callback_add(ouro_gc_callback fn, void *arg)
{
    if (!fn)
        return OURO_EINVAL;
    pthread_mutex_lock(&gc.lock);
    int err = OURO_ENOMEM;
    if (gc.ncallbacks < MAX_CALLBACKS) {
        gc.callbacks[gc.ncallbacks++] = (struct callback){fn, arg};
        err = OURO_OK;
    }
    pthread_mutex_unlock(&gc.lock);
    return err;
}

int ouro_gc_callback_remove(ouro_gc_callback fn, void *arg)
{
    pthread_mutex_lock(&gc.lock);
    int err = OURO_EINVAL;
    for (int i = 0; i < gc.ncallbacks; i++) {
        if (gc.callbacks[i].fn == fn && gc.callbacks[i].arg == arg) {
            memmove(&gc.callbacks[i], &gc.callbacks[i + 1],
                    (size_t)(gc.ncallbacks - i - 1) * sizeof gc.callbacks[0]);
            gc.ncallbacks--;
            err = OURO_OK;
            break;
        }
    }
    pthread_mutex_unlock(&gc.lock);
    return err;
}
