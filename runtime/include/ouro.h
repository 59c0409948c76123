/*
 * ouro.h - the whole public API of the ouro runtime.
 *
 * ouro gives multithreaded C programs Python-style managed objects: every
 * object carries a reference count and is freed once nothing refers to it.
 *
 * Threads.  A thread must be attached (ouro_thread_attach) before it touches
 * any object, and must call ouro_safepoint() from time to time, at a point
 * where it holds no *borrowed* pointers (pointers loaded without taking a
 * reference).  Around a blocking system call it may go offline with
 * ouro_blocking_begin()/ouro_blocking_end() so that nobody waits for it.
 *
 * References.  Every function that returns an object returns a new (owned)
 * reference unless its comment says "borrowed"; release it with
 * ouro_decref().  Every function that stores an object takes its own
 * reference; the caller keeps its own.
 *
 * Deferred decrements.  ouro_decref() only records the decrement; it is
 * applied after a grace period (every attached thread has passed a safepoint
 * or is offline).  Hence a pointer read from a shared container stays valid
 * until the reader's next safepoint, so "load then ouro_incref" needs no lock.
 * See docs/grace-periods.md.
 *
 * Errors.  Functions that can fail return NULL or a negative OURO_E* code and
 * leave every object unchanged.  Misuse that cannot be reported (decrement of
 * a freed object, count underflow, use from an unattached thread) aborts with
 * a message; the checks that cost time on the fast path exist only in debug
 * builds (NDEBUG not defined).
 */
#ifndef OURO_H
#define OURO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Error codes (negative; 0 is success).
 */
enum {
    OURO_OK = 0,
    OURO_ENOMEM = -1,   /* allocation failed; nothing was changed */
    OURO_EINVAL = -2,   /* bad argument (NULL object, wrong type, ...) */
    OURO_ESTATE = -3,   /* call not valid in the current runtime/thread state */
    OURO_EINDEX = -4,   /* index out of range */
    OURO_EKEY = -5,     /* key not present */
};

/* Human-readable name of an error code. */
const char *ouro_strerror(int err);

/* ------------------------------------------------------------------------
 * Objects and types.
 */
typedef struct ouro_object ouro_object;
typedef struct ouro_type ouro_type;

/* The object header: 24 bytes on 64-bit targets (see docs/object-header.md).
 * Fields are private; use the functions below. */
struct ouro_object {
    /* Owner thread id: the only thread allowed to change ob_ref_local.
     * 0 = no owner (counts merged into ob_ref_shared, or immortal). */
    _Atomic uint32_t ob_tid;
    /* State flags (OURO__GC_*): atomic RMW on shared objects; plain
     * (relaxed) load and store on dead or not-yet-shared ones. */
    _Atomic uint32_t ob_gc;
    union {
        struct {
            /* Owner's count: written by the owner only, with plain
             * (relaxed) load and store; UINT32_MAX means immortal. */
            _Atomic uint32_t ob_ref_local;
            /* (count << 2) | state, changed by other threads atomically. */
            _Atomic int32_t ob_ref_shared;
        };
        /* Reused as a link once the count is zero (free work list). */
        ouro_object *_ob_free_next;
    };
    const ouro_type *ob_type;
};

/* Called by a traverse function once per reference the object holds. */
typedef void (*ouro_visit_fn)(ouro_object *referent, void *arg);

/* Type flags. */
enum {
    /* Instances may hold references to other objects and so may be part of
     * a reference cycle: the cycle collector tracks them. */
    OURO_TYPE_GC = 1u << 0,
    /* Instances accept weak references (ouro_weakref_new).  list, dict,
     * records and weakref do. */
    OURO_TYPE_WEAKREFABLE = 1u << 1,
};

/* A type must outlive every object of that type: objects may be freed
 * later than their last ouro_decref (after a grace period, or when the
 * collector releases them), so give types static storage or free them
 * after ouro_shutdown. */
struct ouro_type {
    const char *name;       /* shown by ouro_type_name() and in errors */
    size_t size;            /* bytes per instance, header included */
    uint32_t flags;         /* OURO_TYPE_* */
    uint32_t nslots;        /* record types only: number of reference slots */
    /* Visit every reference the object currently holds (may be NULL when it
     * holds none).  Must not take locks that a finalizer could hold. */
    void (*traverse)(ouro_object *self, ouro_visit_fn visit, void *arg);
    /* Optional.  Runs exactly once, when the object is about to be freed,
     * at a safepoint or flush of an online thread: the one whose decrement
     * freed it, or, for objects left by a detached thread, whichever thread
     * adopts that work (see docs/counting.md).  It may store `self`
     * somewhere (resurrection): the object then stays alive and its
     * finalizer never runs again. */
    void (*finalize)(ouro_object *self);
    /* Optional.  Drop every reference the object holds (used by the cycle
     * collector to break cycles).  Must leave the object valid. */
    void (*clear)(ouro_object *self);
    /* Optional.  Release resources that are not object references (buffers,
     * file descriptors); called after references were released, right
     * before the memory is freed. */
    void (*destroy)(ouro_object *self);
};

/* Allocate an instance of `type` (memory after the header zeroed), with one
 * reference owned by the caller.  NULL when out of memory. */
ouro_object *ouro_new(const ouro_type *type);

/* Introspection. */
const ouro_type *ouro_type_of(const ouro_object *o);
const char *ouro_type_name(const ouro_object *o);
int ouro_is_immortal(const ouro_object *o);

/* Reference count of `o` as the calling thread sees it: applied increments
 * minus applied decrements, minus the decrements of `o` still waiting in the
 * caller's own buffers.  It is exact whenever no other thread has
 * unapplied decrements of `o` (single-threaded code, or after the other
 * threads called ouro_flush() or detached).  Immortal objects report
 * OURO_IMMORTAL_REFCNT. */
#define OURO_IMMORTAL_REFCNT ((int64_t)UINT32_MAX)
int64_t ouro_refcnt(ouro_object *o);

/* Make `o` immortal: counting operations on it become no-ops and it is never
 * freed (a leak you choose).  Only the owning thread may do this to an object
 * it owns (OURO_ESTATE otherwise); call it before sharing the object. */
int ouro_make_immortal(ouro_object *o);

/* Counting.  ouro_incref/ouro_decref are inline (ouro_inline.h); the
 * x-variants accept NULL. */
static inline void ouro_incref(ouro_object *o);
static inline void ouro_decref(ouro_object *o);
static inline void ouro_xincref(ouro_object *o);
static inline void ouro_xdecref(ouro_object *o);
/* Store `value` (new reference taken) into *slot, releasing the old value. */
static inline void ouro_setref(ouro_object **slot, ouro_object *value);

/* ------------------------------------------------------------------------
 * Runtime and threads.
 */
typedef struct ouro_config {
    /* Allocator for objects and runtime memory (both or neither); NULL
     * means malloc/free, with object blocks of up to 512 bytes (a
     * tracked object's 16-byte pre-header included) served from
     * per-thread pools (docs/allocator.md; off under AddressSanitizer).
     * A configured allocator sees one call per object (no pools).
     * malloc_fn returns NULL on failure, and blocks aligned to 16 bytes,
     * as malloc does (a misaligned object block is a fatal error). */
    void *(*malloc_fn)(size_t size, void *ctx);
    void (*free_fn)(void *ptr, void *ctx);
    void *alloc_ctx;
    /* Entries per deferred-decrement batch (0: 2048). */
    uint32_t decref_batch;
    /* Most objects freed per safepoint by one thread (0: 1024). */
    uint32_t free_slice;
    /* Cycle collector: candidates that trigger an automatic collection
     * (0: 10000), and whether automatic collection starts disabled. */
    uint64_t gc_threshold;
    int gc_disabled;
    /* Also time every mutator pause with the thread's CPU clock (a system
     * call: about 1 us more per pause); see ouro_gc_pauses_cpu(). */
    int pause_cpu_clock;
    /* Longest wait, in microseconds, of a safepoint paced because the
     * running collection fell behind (docs/collector.md, "Pacing"):
     * 0 means 5000; a negative value turns pacing off, which trades
     * bounded memory for latency when garbage outruns the collector. */
    int32_t gc_pace_max_us;
} ouro_config;

/* Start the runtime (config may be NULL).  OURO_ESTATE if already running. */
int ouro_init(const ouro_config *config);
/* Stop the runtime.  Every other thread must have detached: it called
 * ouro_thread_detach, or it exited attached (its exit destructor detaches
 * it) and was joined.  Another thread still attached is a fatal error; one
 * whose detach has begun but not finished (it exited and was not joined)
 * is waited for.  The calling thread is detached if it is attached.  Frees
 * the runtime's immortals. */
void ouro_shutdown(void);

/* Attach the calling thread (OURO_ESTATE if already attached or if the
 * runtime is not running, OURO_ENOMEM).  A thread that exits while attached
 * is detached automatically. */
int ouro_thread_attach(void);
/* Detach the calling thread without waiting for anyone: decrements still
 * waiting for their grace period, and objects still to be freed, are handed
 * to a pool that attached threads drain at their safepoints (ouro_flush
 * drains it at once).  Objects the thread owned stay valid. */
void ouro_thread_detach(void);
int ouro_thread_is_attached(void);
/* Small integer id of the calling thread (0 when not attached). */
uint32_t ouro_thread_id(void);

/* A quiescent point: the caller holds no borrowed pointers.  Applies
 * decrements whose grace period has passed and frees at most one slice of
 * dead objects (their finalizers run here; not inside a blocking region). */
void ouro_safepoint(void);

/* Go offline around a blocking call (pthread_join included); while offline
 * the thread must not read shared containers, but it may still incref/decref
 * objects it holds references to.  Going offline ends the protection of
 * borrowed pointers, like a safepoint.  Nests. */
void ouro_blocking_begin(void);
void ouro_blocking_end(void);

/* Apply all of the calling thread's decrements, and the work detached
 * threads left behind, now: passes quiescent points, waits for grace
 * periods (other attached threads must reach safepoints or be offline) and
 * frees everything that became dead.  Use before reading exact counts or
 * measuring memory.  Inside a blocking region it comes online meanwhile. */
void ouro_flush(void);

/* ------------------------------------------------------------------------
 * Statistics (a racy but consistent-enough snapshot of all threads).
 */
typedef struct ouro_stats {
    uint64_t live_objects;      /* allocated, not yet freed, not immortal */
    uint64_t immortal_objects;  /* heap objects made immortal */
    uint64_t allocated;         /* objects ever allocated */
    uint64_t freed;             /* objects ever freed */
    uint64_t finalized;         /* finalizers run */
    uint64_t resurrected;       /* objects kept alive by their finalizer */
    uint64_t merges;            /* biased counts merged into the shared count */
    uint64_t queued_merges;     /* merges requested from another thread */
    uint64_t grace_periods;     /* grace periods started */
    uint64_t batches_applied;   /* deferred-decrement batches applied */
    uint64_t max_free_slice_ns; /* longest slice of freeing work */
    uint64_t max_free_slice_objects;
    /* Bytes the object pools hold, blocks in use and free alike: they are
     * reused, never returned before ouro_shutdown (docs/allocator.md); 0
     * when the pools are off (a configured allocator, or AddressSanitizer). */
    uint64_t pool_bytes;
    uint32_t attached_threads;  /* user threads (not the collector's) */
} ouro_stats;

void ouro_get_stats(ouro_stats *out);

/* ------------------------------------------------------------------------
 * The cycle collector: Python's gc module, in C (docs/collector.md).
 *
 * A collector thread finds and frees garbage cycles while the other threads
 * run; they only acknowledge handshakes at their safepoints.  Finalizers of
 * objects in garbage cycles run on the collector thread.
 */

/* Run a full collection now and wait for it (the caller goes offline while
 * it waits).  Returns the number of unreachable objects found (a list that
 * contains itself: 1; a two-object cycle: 2), or a negative OURO_E* code. */
int64_t ouro_gc_collect(void);

/* Generations.  An object that a collection examined and kept is old.
 * Automatic collections are young: they examine only candidates that are
 * not old (the old ones wait in the old set, and do not count for the
 * threshold), and their walks stop at old objects.  Every
 * OURO_GC_FULL_EVERY-th automatic collection, or sooner once the old set
 * holds a quarter of the tracked objects, is full, as is
 * every ouro_gc_collect().  While full collections find little garbage
 * (less than an eighth of what they examine) the interval doubles, up to
 * OURO_GC_FULL_EVERY_MAX; a full one that finds half or more sets it back
 * (ouro_gc_stats.full_every).  A garbage cycle with no old member is freed
 * by the next collection; one with an old member, by the next full one
 * (docs/collector.md, "Generations"). */
#define OURO_GC_FULL_EVERY 64
#define OURO_GC_FULL_EVERY_MAX 512
/* Run a young collection now and wait for it; returns as ouro_gc_collect. */
int64_t ouro_gc_collect_young(void);

/* Automatic collection (on by default). */
void ouro_gc_enable(void);
void ouro_gc_disable(void);
int ouro_gc_isenabled(void);

/* Candidate count that triggers an automatic collection. */
void ouro_gc_set_threshold(uint64_t candidates);
uint64_t ouro_gc_get_threshold(void);
/* Young candidates buffered since the last collection (a decrement of an
 * old object puts it in the old set, which this does not count). */
uint64_t ouro_gc_get_count(void);

/* A user type whose objects change the references they hold after being
 * shared must call this after each change (built-in containers do). */
void ouro_gc_written(ouro_object *o);

enum ouro_gc_phase {
    OURO_GC_PHASE_CANDIDATES,   /* take, hold and walk their subgraph */
    OURO_GC_PHASE_TRIAL,        /* trial deletion: colour white or black */
    OURO_GC_PHASE_VALIDATE,     /* mark, handshake, recount, handshake */
    OURO_GC_PHASE_FINALIZE,     /* finalizers and their re-validation */
    OURO_GC_PHASE_FREE,         /* free the garbage, release the rest */
    OURO_GC_PHASES
};

typedef struct ouro_gc_stats {
    uint64_t collections;         /* completed */
    uint64_t unreachable;         /* objects found unreachable */
    uint64_t collected;           /* objects freed by the collector */
    uint64_t candidates;          /* candidates examined */
    uint64_t examined;            /* objects visited by trial deletion */
    uint64_t aborted;             /* suspects dropped by validation */
    uint64_t zombies;             /* candidates that died while taken */
    uint64_t threshold;           /* the adaptive threshold now */
    uint64_t last_phase_ns[OURO_GC_PHASES];
    uint64_t total_phase_ns[OURO_GC_PHASES];
    uint64_t last_collection_ns;  /* wall time of the last collection */
    uint64_t last_collection_cpu_ns;  /* CPU time the collector used for it */
    uint64_t paced;               /* safepoints that waited for a collection
                                     that had fallen behind (pacing) */
    uint64_t full_collections;    /* of `collections`, the full ones */
    uint64_t deferred;            /* old candidates a young collection left
                                     to the next full one */
    uint64_t full_every;          /* automatic collections from one full
                                     one to the next, at most, now */
    uint64_t total_collection_cpu_ns;  /* CPU time the collector used for
                                          all of them */
} ouro_gc_stats;

void ouro_gc_get_stats(ouro_gc_stats *out);

/* Callbacks around every collection (on the collector thread). */
typedef enum { OURO_GC_START, OURO_GC_STOP } ouro_gc_event;
typedef struct ouro_gc_info {
    uint64_t collection;          /* 1, 2, ... */
    uint64_t candidates;          /* at STOP: this collection's figures */
    uint64_t unreachable;
    uint64_t collected;
    uint64_t aborted;
    uint64_t phase_ns[OURO_GC_PHASES];
    int full;                     /* 1: a full collection, 0: a young one */
} ouro_gc_info;
typedef void (*ouro_gc_callback)(ouro_gc_event event, const ouro_gc_info *info,
                                 void *arg);
int ouro_gc_callback_add(ouro_gc_callback fn, void *arg);     /* ENOMEM */
int ouro_gc_callback_remove(ouro_gc_callback fn, void *arg);  /* EINVAL */

/* ---- introspection (docs/leak-hunting.md gives each call's snapshot
 * semantics).  All are safe while other threads run and the collector
 * works; the calls that return objects read shared state, so they are for
 * online threads (not inside a blocking region).
 *
 * Object arguments.  These calls return NULL only when out of memory, so
 * a bad object argument is not reported through the result: a NULL one
 * aborts with a message naming the call, in every build; a dead one (its
 * last reference already released) aborts in debug builds. */

/* New list of every tracked object alive during the call (only those of
 * `type` when it is not NULL): immortal objects are not tracked, so not
 * listed (see ouro_gc_is_tracked).  The list holds them, so they stay
 * alive while it does.  NULL out of memory. */
ouro_object *ouro_gc_get_objects(const ouro_type *type);
/* New list of the tracked objects that refer directly to any of objs[0..n),
 * and of the immortal ones of OURO_TYPE_GC types that do (the garbage
 * list, say: what holds an object matters even when the collector never
 * examines the holder). */
ouro_object *ouro_gc_get_referrers(size_t n, ouro_object *const *objs);
/* New list of the objects that objs[0..n) refer to directly (what their
 * traverse visits, tracked or not). */
ouro_object *ouro_gc_get_referents(size_t n, ouro_object *const *objs);
/* For both: objs may be NULL only when n is 0 (an empty list); a NULL
 * array otherwise, or a NULL element, aborts. */
/* The collector may examine it: its type has OURO_TYPE_GC and it is not
 * immortal (frozen objects are still tracked, as in Python).  o must not
 * be NULL (aborts). */
int ouro_gc_is_tracked(const ouro_object *o);
/* Its finalizer has run (or is running).  o must not be NULL (aborts). */
int ouro_gc_is_finalized(const ouro_object *o);

/* Freeze every tracked object alive now: collections never examine them
 * (they count as held from outside) until ouro_gc_unfreeze.  Returns how
 * many were newly frozen.  Immortals are not tracked: neither frozen nor
 * counted, here or by ouro_gc_get_freeze_count. */
uint64_t ouro_gc_freeze(void);
/* Unfreeze them all, making them candidates again.  OURO_ENOMEM leaves
 * them frozen. */
int ouro_gc_unfreeze(void);
uint64_t ouro_gc_get_freeze_count(void);

/* Debug flags, as in Python's gc.set_debug.  Reports go to `out` (NULL:
 * stderr), written on the collector thread; the stream must stay open
 * while it is set.  Once a call returns, no report is being written to the
 * stream it replaced and none will be: ouro_gc_set_debug(0, NULL) and
 * then fclose is safe while collections run.  (The call waits for a report
 * line being written; so the stream's own I/O must not call
 * ouro_gc_set_debug.) */
enum {
    OURO_GC_DEBUG_STATS = 1u << 0,        /* a line at start and end */
    OURO_GC_DEBUG_COLLECTABLE = 1u << 1,  /* a line per garbage object */
    OURO_GC_DEBUG_SAVEALL = 1u << 5,      /* keep garbage in the garbage
                                             list instead of freeing it */
    OURO_GC_DEBUG_LEAK = OURO_GC_DEBUG_COLLECTABLE | OURO_GC_DEBUG_SAVEALL,
};
int ouro_gc_set_debug(unsigned flags, FILE *out);   /* OURO_EINVAL */
unsigned ouro_gc_get_debug(void);
/* The garbage list (gc.garbage): where DEBUG_SAVEALL puts what each
 * collection found, after clearing its weak references and running its
 * finalizers.  A list the runtime holds (a new reference to it; it is
 * immortal).  Empty it before ouro_shutdown: what is left there is
 * released without a collection. */
ouro_object *ouro_gc_garbage(void);

/* ---- leak tools (docs/leak-hunting.md).  Object arguments as for the
 * introspection calls above: a dead one aborts in debug builds. */

/* Write objects as a graph: every object of the list `objects` (the garbage
 * list, say), or, when it is NULL, the whole tracked heap.  JSON: one line
 * per object, {"addr", "type", "refcnt", "outside", ["value",] "referents"}.
 * DOT: a Graphviz digraph; objects held from outside the set drawn bold,
 * referents outside the set dashed (with their value if int or str).
 * "outside" is the object's count less the references from the set's
 * objects (and from the list given): what holds it from elsewhere.
 * OURO_EINVAL for a bad argument (objects not a list) or a write error,
 * OURO_ENOMEM. */
enum { OURO_GC_DUMP_JSON = 0, OURO_GC_DUMP_DOT = 1 };
int ouro_gc_dump(FILE *out, int format, ouro_object *objects);

/* Why is `o` alive?  A new list: a chain [root, ..., o] in which each
 * element refers to the next, and the root is held from outside the
 * tracked heap (its count exceeds the references tracked objects hold to
 * it; the caller's one reference to `o` is not counted).  An empty list:
 * nothing outside reaches `o`, it is garbage not yet collected.  NULL out
 * of memory.  For exact counts, ouro_flush first (pending decrements count
 * as references).  o must not be NULL (aborts). */
ouro_object *ouro_gc_why_alive(ouro_object *o);
/* Print such a chain, one line per object, naming each reference: [index]
 * of a list or tuple, ['key'] of a dict, .slotN of a record, #N otherwise.
 * Keys (every byte, NULs included, up to 80 and then "...") and type
 * names are escaped (\' \\ \n \r \t, other unprintable bytes as \xNN),
 * so every object stays on one line; the dumps escape type names and str
 * values as JSON and DOT require. */
int ouro_gc_print_why_alive(FILE *out, ouro_object *chain);

/* gc.get_stats: ouro_gc_get_stats above (one generation, cumulative), and
 * per collection the ouro_gc_info given to callbacks at OURO_GC_STOP. */

/* Mutator pauses: time each thread spent in collector-induced and
 * reclamation work at its safepoints (handshake acknowledgements, applying
 * deferred decrements, freeing slices), in a log-linear histogram summed
 * over all threads, detached ones included. */
#define OURO_PAUSE_BUCKETS 608
typedef struct ouro_pause_stats {
    uint64_t count;
    uint64_t total_ns;
    uint64_t p50_ns, p90_ns, p99_ns, p999_ns, max_ns;
} ouro_pause_stats;
/* hist, if not NULL, receives OURO_PAUSE_BUCKETS counts; bucket i covers
 * [ouro_pause_bucket_floor(i), ouro_pause_bucket_floor(i + 1)) ns. */
void ouro_gc_pauses(ouro_pause_stats *out, uint64_t *hist);
uint64_t ouro_pause_bucket_floor(unsigned bucket);
/* The same pauses timed with each thread's CPU clock, if
 * ouro_config.pause_cpu_clock is set (count 0 otherwise).  A pause much
 * longer by the wall clock than by the CPU clock was spent waiting for a
 * CPU (preempted by other threads or processes), not working. */
void ouro_gc_pauses_cpu(ouro_pause_stats *out, uint64_t *hist);
/* Start both histograms over, while other threads keep pausing: a pause
 * that ends after the call counts, one that ended before does not (a pause
 * under way during the call may go either way). */
void ouro_gc_pauses_reset(void);

/* ------------------------------------------------------------------------
 * Weak references (docs/weakrefs.md).
 *
 * A weak reference does not keep its referent alive.  Dereferencing it
 * returns a new reference, or NULL once the referent is dead: from the
 * instant its count reached zero, or the collector proved it garbage.  A
 * dereference racing with the last release returns either the object,
 * with a reference taken before its death, or NULL; never a freed object.
 *
 * The optional callback runs once, after the referent died and before its
 * finalizer, with the cleared weak reference (its get returns NULL) and
 * `data` (borrowed).  It runs on the thread that frees the referent: at
 * that thread's safepoint, or on the collector thread for garbage cycles,
 * and it may do anything a finalizer may.  The callback of a weak reference
 * that is itself garbage in the same collection is not called.
 */
typedef void (*ouro_weakref_callback)(ouro_object *weakref, ouro_object *data);
extern const ouro_type ouro_weakref_type;

/* A weak reference to `referent` (its type must have
 * OURO_TYPE_WEAKREFABLE); callback and data may be NULL; the weak reference
 * holds `data` strongly.  NULL if the type does not accept weak references
 * or out of memory.  A NULL referent aborts; so, in debug builds, does a
 * dead referent or data (its last reference already released). */
ouro_object *ouro_weakref_new(ouro_object *referent,
                              ouro_weakref_callback callback,
                              ouro_object *data);
/* New reference to the referent, or NULL if it is dead.  `weakref` must
 * be a weak reference: NULL or another object aborts (a NULL result would
 * read as a dead referent).  A read of shared state: online only, like
 * container reads (not inside a blocking region). */
ouro_object *ouro_weakref_get(ouro_object *weakref);
/* New reference to the weak reference's data (NULL if none).  `weakref`
 * must be a weak reference (aborts otherwise). */
ouro_object *ouro_weakref_data(ouro_object *weakref);
/* Weak references to `o` that are not yet cleared.  o must not be NULL
 * (aborts); a dead o aborts in debug builds. */
size_t ouro_weakref_count(ouro_object *o);

/* ------------------------------------------------------------------------
 * Built-in types.  Every getter returns a new reference (NULL when the
 * index or key is absent); every setter takes its own reference.
 */
extern const ouro_type ouro_none_type, ouro_int_type, ouro_str_type,
    ouro_tuple_type, ouro_list_type, ouro_dict_type;

/* None: an immortal singleton (borrowed; no reference needed). */
ouro_object *ouro_none(void);

/* int: 64-bit signed.  -5..256 are cached immortal objects. */
ouro_object *ouro_int_new(int64_t value);
int64_t ouro_int_value(const ouro_object *o);

/* str: immutable bytes (not necessarily NUL-free; stored NUL-terminated). */
ouro_object *ouro_str_new(const char *bytes, size_t len);
ouro_object *ouro_str_from(const char *cstr);
/* The interned (immortal, shared) string with these bytes: two calls with
 * equal bytes return the same object.  Safe from any attached, online
 * thread (not inside a blocking region). */
ouro_object *ouro_intern(const char *bytes, size_t len);
ouro_object *ouro_intern_cstr(const char *cstr);
const char *ouro_str_data(const ouro_object *o);   /* valid while o lives */
size_t ouro_str_len(const ouro_object *o);
int ouro_str_equal(const ouro_object *a, const ouro_object *b);

/* tuple: fixed, immutable. items may be NULL only when n == 0. */
ouro_object *ouro_tuple_new(size_t n, ouro_object *const *items);
ouro_object *ouro_tuple_pack(size_t n, ...);
size_t ouro_tuple_len(const ouro_object *t);
ouro_object *ouro_tuple_get(ouro_object *t, size_t i);

/* list: thread-safe.  Reads are lock-free; writers take the list's lock.
 * Indices may be negative (from the end), as in Python. */
ouro_object *ouro_list_new(size_t capacity_hint);
int ouro_list_append(ouro_object *list, ouro_object *item);
ouro_object *ouro_list_get(ouro_object *list, ptrdiff_t index);
int ouro_list_set(ouro_object *list, ptrdiff_t index, ouro_object *item);
/* Remove and return the item at index (-1 = last); NULL if out of range. */
ouro_object *ouro_list_pop(ouro_object *list, ptrdiff_t index);
size_t ouro_list_len(ouro_object *list);

/* dict with str keys: thread-safe, lock-free reads. */
ouro_object *ouro_dict_new(void);
int ouro_dict_set(ouro_object *dict, ouro_object *key, ouro_object *value);
ouro_object *ouro_dict_get(ouro_object *dict, ouro_object *key);
ouro_object *ouro_dict_get_cstr(ouro_object *dict, const char *key);
int ouro_dict_set_cstr(ouro_object *dict, const char *key, ouro_object *value);
int ouro_dict_del(ouro_object *dict, ouro_object *key);   /* OURO_EKEY */
size_t ouro_dict_len(ouro_object *dict);
/* New list of the keys present at some instant during the call. */
ouro_object *ouro_dict_keys(ouro_object *dict);

/* Records: user types with `nslots` reference slots, each initially empty. */
void ouro_record_type_init(ouro_type *type, const char *name, uint32_t nslots,
                           void (*finalize)(ouro_object *self));
ouro_object *ouro_record_new(const ouro_type *type);
ouro_object *ouro_record_get(ouro_object *rec, uint32_t slot);
int ouro_record_set(ouro_object *rec, uint32_t slot, ouro_object *value);

#ifdef __cplusplus
}
#endif

#include "ouro_inline.h"

#endif /* OURO_H */
