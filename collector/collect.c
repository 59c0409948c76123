/*
 * collect.c - one collection: take candidates, trial deletion, mark,
 * validate across two handshakes, finalize, free.
 *
 * The phases and the invariant each one establishes (the full argument is
 * in docs/collector.md):
 *
 *   take      the candidate set is emptied into a list of its nonzero
 *             bitmap words; no object is touched.  A taken candidate keeps BUFFERED until it is held,
 *             so a thread that decides its death meanwhile finds it missing
 *             from the set and leaves it to us (a zombie).
 *   trial     every object reached is held (candidates by try-increment)
 *             and marked IN_GC in the same step, before its count is read;
 *             from then on increments set TOUCHED and reference changes set
 *             DIRTY.  The white set S is a guess (reads race with mutators).
 *   W1        after this handshake every online thread sees the marks, and
 *             has diverted its inline increments (ouro__gc_active), so
 *             even an owner's increment of a member sets TOUCHED.
 *   validate  members whose count != references from members, or that
 *             are QUEUED in a merge queue (one snapshot with the count),
 *             are black with all they reach (recorded edges): S'.
 *   W2, settle  after the handshake W2, with walks shut out and each
 *             member's side lock held in turn, TOUCHED, DIRTY or QUEUED
 *             members are black likewise (the refine); members with a
 *             weak side are read again under every side lock: S'' is
 *             unreachable; it leaves the registry and weak table.
 *   finalize  finalizers run on this thread; if any ran, validate again, so
 *             that what they resurrected survives.
 *   free      references from the garbage to the rest are released at once
 *             (nobody can read the garbage), then the garbage is freed;
 *             every other hold is released at once, without buffering.
 */
#include "candidates.h"
#include "dealloc.h"
#include "debug.h"
#include "decref_buffer.h"
#include "gc.h"
#include "heap.h"
#include "refcount.h"
#include "settle.h"
#include "table.h"

#define QUIESCE_EVERY 1024
#define PREFETCH_AHEAD 8
/* Trial deletion reads a node this many nodes after it was added (below). */
#define DRAIN_LAG 32

typedef struct gc_ctx {
    ouro_thread *self;
    gc_table tab;
    uint32_t *stack;
    size_t sp, scap;
    int64_t cur;                 /* node being traversed */
    size_t drained;              /* nodes trial deletion has read */
    bool oom;
    bool handshaken;             /* W1 done: every claim is before it */
    bool tdst_lost;              /* trial's edges not all recorded */
    struct ouro_gc_run *run;
    ouro__taken taken;           /* the taken candidates, address order */
    size_t finger;               /* the word the last search ended at */
    /* Of the garbage after the last settle: members with a finalizer, and
     * with references to release (`outside`); then, how many were freed. */
    size_t finalizers, outsiders, freed;
    uint32_t *weak;              /* settle: the members with a weak side */
    size_t nweak, weak_cap;
    /* Where each node's recorded edges start (edge_index); built once per
     * validation's recording, NULL until then. */
    size_t *edge_start;
    /* Validation: the run of trial deletion's recorded targets of the node
     * being traversed, [replay, replay_end) in tdst (visit_count). */
    size_t replay, replay_end;
    /* A young collection's references to old objects it did not enter, in
     * table order of their sources: validation and the free read those
     * objects again (a lookup, a release), and prefetch them from here a
     * few nodes ahead.  A hint only: lost without memory. */
    struct gc_far { size_t src; const ouro_object *obj; } *far;
    size_t nfar, far_cap;
    bool far_lost;
} gc_ctx;

/* A quiescent point every QUIESCE_EVERY steps of a loop over the
 * candidates or the table, at a step's start, so that other threads' grace
 * periods (and their pending decrements) keep moving through a long
 * collection.  No borrowed pointer lives across a step: a traversal loads
 * and uses its referents within one.  What a step starts from is held,
 * proven garbage, a taken candidate (which only our zombie claim frees),
 * or no object at all. */
static inline void quiesce_every(gc_ctx *c, size_t i)
{
    if ((i & (QUIESCE_EVERY - 1)) == QUIESCE_EVERY - 1)
        ouro__quiescent(c->self);
}

static bool tracked(const ouro_object *o)
{
    /* Frozen objects are never entered: to the collector they are held
     * from outside. */
    return (o->ob_type->flags & OURO_TYPE_GC) && !ouro__is_immortal(o) &&
           !(atomic_load_explicit(&((ouro_object *)o)->ob_gc,
                                  memory_order_relaxed) & OURO__GC_FROZEN);
}

/* Append x to the array *v (*n used of *cap, doubling from `first`);
 * false when out of memory (the array is unchanged). */
static bool append_u32(uint32_t **v, size_t *n, size_t *cap, uint32_t x,
                       size_t first)
{
    if (*n == *cap &&
        !gc_grow_array((void **)v, cap, sizeof **v, *n + 1, *n, first))
        return false;
    (*v)[(*n)++] = x;
    return true;
}

/* Note that node c->cur refers to `obj`, which is no node (see gc_ctx). */
static void note_far(gc_ctx *c, const ouro_object *obj)
{
    if (c->nfar == c->far_cap &&
        (c->far_lost || !gc_grow_array((void **)&c->far, &c->far_cap,
                                       sizeof *c->far, c->nfar + 1, c->nfar,
                                       256))) {
        c->far_lost = true;
        return;
    }
    c->far[c->nfar++] = (struct gc_far){(size_t)c->cur, obj};
}

/* Prefetch the far references of the nodes up to `upto` (for writing, if
 * `write`); *k is the cursor into c->far. */
static inline void prefetch_far(const gc_ctx *c, size_t *k, size_t upto,
                                bool write)
{
    for (; *k < c->nfar && c->far[*k].src <= upto; ++*k) {
        if (write)
            __builtin_prefetch(c->far[*k].obj, 1);
        else
            __builtin_prefetch(c->far[*k].obj);
    }
}

static void push(gc_ctx *c, uint32_t i)
{
    if (!append_u32(&c->stack, &c->sp, &c->scap, i, 1024))
        c->oom = true;
}

/* A handshake: a grace period the collector starts; every attached thread
 * acknowledges at its next safepoint, this thread stays quiescent. */
static void handshake(ouro_thread *self)
{
    ouro__wait_grace_period(self, ouro__gp_advance());
}

/* A collection whose validation found nothing white did no handshake.
 * release_rest compares counts, and a decrement that read BUFFERED before
 * our mark may not have changed its count yet (a thread preempted between
 * the two): one handshake first, which waits for every online thread to
 * pass a quiescent point, and so to finish such a decrement (completeness
 * step 2; threads apply decrements only while online). */
static void await_decrements_in_flight(gc_ctx *c)
{
    if (!c->handshaken && !c->oom && c->tab.n)
        handshake(c->self);
}

/* Unmark an examined object that lives on, and make it old (one CAS). */
static void clear_marks_make_old(ouro_object *o)
{
    uint32_t keep = OURO__GC_FLAGS_MASK &
                    ~(uint32_t)(OURO__GC_IN_GC | OURO__GC_TOUCHED |
                                OURO__GC_DIRTY | OURO__GC_HELD);
    uint32_t gc = atomic_load_explicit(&o->ob_gc, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        &o->ob_gc, &gc, (gc & keep) | OURO__GC_OLD, memory_order_relaxed,
        memory_order_relaxed))
        ;
}

/* ---- take and trial deletion -------------------------------------------- */

/* Mark held node `index` (its object): one CAS sets HELD and IN_GC,
 * numbers the node in the header (collector/table.h), and, for a taken
 * candidate, clears BUFFERED so that its next decrement buffers it again. */
static void mark_node(const gc_table *t, ouro_object *o, int64_t index,
                      bool candidate)
{
    uint32_t node = gc_table_number(t, (size_t)index);
    uint32_t clear = OURO__GC_TOUCHED | OURO__GC_DIRTY |
                     (candidate ? OURO__GC_BUFFERED : 0);
    uint32_t gc = atomic_load_explicit(&o->ob_gc, memory_order_relaxed);
    /* seq_cst: the count is read after this (trial_drain), and a decrement
     * applies its count change and reads BUFFERED in the other order, with
     * a seq_cst fence before (ouro__gp_poll, when its batch became ready).
     * Store-buffering case: either the decrement sees BUFFERED cleared and
     * buffers, or our count read sees every count change made before its
     * fence (completeness step 2). */
    while (!atomic_compare_exchange_weak_explicit(
        &o->ob_gc, &gc,
        (gc & OURO__GC_FLAGS_MASK & ~clear) | OURO__GC_HELD | OURO__GC_IN_GC |
            (node << OURO__GC_NODE_SHIFT),
        memory_order_seq_cst, memory_order_relaxed))
        ;
}

/* A taken candidate: hold it, or, if its death was decided while it was
 * out of the set, free it (the dying thread left it to us). */
static bool hold_candidate(gc_ctx *c, ouro_object *o)
{
    if (!ouro__try_incref_shared(o)) {
        ouro__zombie_claim(c->self, o);
        c->run->zombies++;
        return false;
    }
    return true;
}

/* A held, taken candidate that this collection does not examine after
 * all: its candidacy starts over in the set (BUFFERED cleared, then
 * buffered again if it can be), and our hold goes. */
static void rebuffer_and_release(gc_ctx *c, ouro_object *o)
{
    atomic_fetch_and_explicit(&o->ob_gc, ~(uint32_t)OURO__GC_BUFFERED,
                              memory_order_relaxed);
    ouro__maybe_buffer(o);
    ouro__release_hold(c->self, o);
}

/* Mark `o`, just held as node j.  A taken candidate (still BUFFERED: only
 * the collector ends the candidacy of a taken one that is alive) loses
 * BUFFERED in the same CAS that sets IN_GC, whoever reaches it first, the
 * loop over the candidates or a walk from an earlier one.  A decrement
 * that saw BUFFERED therefore read ob_gc before IN_GC was set: it is not
 * paired with a touch (completeness step 2). */
static void mark_held(gc_ctx *c, ouro_object *o, int64_t j, bool candidate)
{
    mark_node(&c->tab, o, j, candidate);
    if (candidate) {
        c->tab.nodes[j].candidate = true;
        c->run->candidates++;
    }
}

/* Is `o` among the taken candidates (and not untaken)?  A galloping
 * search of the taken words from where the last one ended: a walk reaches
 * what was allocated next to what it came from, so the answer is mostly
 * in the same word or the next, and never more than 2 log n probes.  The
 * words' spans are distinct and in address order, so the first word whose
 * base is not below o's word's base is o's word if any is. */
static bool in_cands(gc_ctx *c, const ouro_object *o)
{
    uintptr_t a = (uintptr_t)o;
    uintptr_t key = a & ~(OURO__CAND_WORD_SPAN - 1);
    const ouro__taken_word *v = c->taken.words;
    size_t n = c->taken.nwords;
    if (!n || (a & ((1u << OURO__CAND_GRANULE_SHIFT) - 1)) ||
        key < v[0].base || key > v[n - 1].base)
        return false;
    size_t f = c->finger < n ? c->finger : n - 1;
    /* Find the first index whose base is >= key, between lo (exclusive,
     * SIZE_MAX meaning none) and hi (inclusive, n meaning none). */
    size_t lo, hi, step = 1, probes = 1;
    if (v[f].base < key) {
        lo = f;
        hi = f + 1;
        while (hi < n && v[hi].base < key) {
            lo = hi;
            step *= 2;
            hi = step < n - f ? f + step : n;
            probes++;
        }
    } else {
        hi = f;
        lo = f ? f - 1 : SIZE_MAX;
        while (lo != SIZE_MAX && v[lo].base >= key) {
            hi = lo;
            step *= 2;
            lo = step <= f ? f - step : SIZE_MAX;
            probes++;
        }
    }
    while (hi - lo > 1) {   /* lo + 1 wraps to 0 when lo is SIZE_MAX */
        size_t mid = lo + (hi - lo) / 2;
        probes++;
        if (v[mid].base < key)
            lo = mid;
        else
            hi = mid;
    }
    c->finger = hi < n ? hi : n - 1;
    struct ouro__search_count *count = atomic_load_explicit(
        &ouro__take_search_count, memory_order_relaxed);
    if (OURO_UNLIKELY(count != NULL)) {
        count->searches++;
        count->probes += probes;
    }
    unsigned k = (unsigned)(a >> OURO__CAND_GRANULE_SHIFT) & 63;
    return hi < n && v[hi].base == key && ((v[hi].bits >> k) & 1);
}

/* Is `o`, BUFFERED, among the candidates taken for this collection? */
static bool taken_and_buffered(gc_ctx *c, ouro_object *o)
{
    if (!(atomic_load_explicit(&o->ob_gc, memory_order_relaxed) &
          OURO__GC_BUFFERED))
        return false;
    return c->taken.words && in_cands(c, o);
}

/* Taken candidate k of word w: its candidacy ended without a node (a
 * zombie, frozen, or no room).  Forget that it was taken, so that no walk
 * later in this loop takes it (or an object allocated at its address
 * since) for a taken candidate and strips BUFFERED from an entry of the
 * live set. */
static void untake(gc_ctx *c, size_t w, unsigned k)
{
    c->taken.words[w].bits &= ~((uint64_t)1 << k);
}

static void visit_gray(ouro_object *child, void *arg)
{
    gc_ctx *c = arg;
    if (!tracked(child))
        return;
    int64_t j = gc_table_lookup(&c->tab, child);
    if (j < 0) {
        uint32_t gc = atomic_load_explicit(&child->ob_gc,
                                           memory_order_relaxed);
        if (c->run->young && (gc & OURO__GC_OLD)) {
            /* A young collection stops at old objects.  A cycle through
             * this one is left to the next full collection, which must
             * therefore start a walk here: a candidate of the old set
             * (docs/collector.md, "Generations").  Held while it is
             * placed, so that it cannot die meanwhile; `child` is a
             * borrowed pointer, safe as below. */
            if (!(gc & OURO__GC_BUFFERED)) {
                ouro_incref(child);
                ouro__cand_buffer_old(child);
                ouro__release_hold(c->self, child);
            }
            note_far(c, child);
            return;
        }
        j = gc_table_add(&c->tab, child);
        if (j < 0) {
            c->oom = true;
            return;
        }
        /* `child` is a borrowed pointer read by traverse; this thread has
         * passed no quiescent point since, so the increment is safe. */
        ouro_incref(child);
        mark_held(c, child, j, taken_and_buffered(c, child));
    }
    c->tab.nodes[j].in_edges++;
    if (!c->tdst_lost &&
        OURO_UNLIKELY(!gc_table_add_tdst(&c->tab, (uint32_t)j)))
        c->tdst_lost = true;   /* the scan reads the objects instead */
}

static void visit_black(ouro_object *child, void *arg)
{
    gc_ctx *c = arg;
    int64_t j = gc_table_lookup(&c->tab, child);
    if (j >= 0 && c->tab.nodes[j].color == GC_WHITE) {
        c->tab.nodes[j].color = GC_BLACK;
        push(c, (uint32_t)j);
    }
}

/* Black spreads from the nodes on the stack to what they reference: along
 * the references trial deletion recorded (the graph it counted, read from
 * the table alone), or, if it could not record them all, by traversing
 * the objects again. */
static void scan_black(gc_ctx *c)
{
    gc_table *t = &c->tab;
    for (size_t k = 0; c->sp; k++) {
        quiesce_every(c, k);
        uint32_t i = c->stack[--c->sp];
        if (OURO_UNLIKELY(c->tdst_lost)) {
            ouro_object *o = t->objs[i];
            if (o->ob_type->traverse)
                o->ob_type->traverse(o, visit_black, c);
            continue;
        }
        size_t end = gc_table_tdst_end(t, i);
        for (size_t e = (size_t)t->nodes[i].recount; e < end; e++) {
            gc_node *d = &t->nodes[t->tdst[e]];
            if (d->color == GC_WHITE) {
                d->color = GC_BLACK;
                push(c, t->tdst[e]);
            }
        }
    }
}

/* Trial deletion of the nodes added and not read yet, in table order,
 * until `lag` are left: read each one's count (it is held and IN_GC
 * already) and add what it references, held and marked, to the table.
 *
 * The table is the work queue.  The loop over the candidates adds them in
 * address order and calls this with a lag, so that a node is read some
 * nodes after its hold brought its header into cache, and a reference to
 * a candidate a little further on finds it in the table already (held as
 * a candidate) instead of chasing it: a ring of candidates is read in
 * address order, not one dependent load after another.  The order is
 * free: all that matters is that each node is held and marked before its
 * count is read. */
static void trial_drain(gc_ctx *c, size_t lag)
{
    while (c->tab.n - c->drained > lag && !c->oom) {
        size_t i = c->drained++;
        gc_node *node = &c->tab.nodes[i];
        ouro_object *o = c->tab.objs[i];
        const ouro_type *tp = o->ob_type;
        void (*hook)(ouro_object *) = atomic_load_explicit(
            &ouro__drain_test_hook, memory_order_relaxed);
        if (OURO_UNLIKELY(hook != NULL))
            hook(o);
        node->count = gc_count_of(ouro__raw_refcnt(o) - 1);   /* less our hold */
        node->finalizer = tp->finalize != NULL;
        /* Where its references' run starts (table.h, tdst). */
        if (OURO_UNLIKELY(c->tab.ntdst > INT32_MAX))
            c->tdst_lost = true;
        node->recount = (int32_t)c->tab.ntdst;
        c->cur = (int64_t)i;
        if (tp->traverse)
            tp->traverse(o, visit_gray, c);
        /* Every node reached is held: passing a quiescent point here is
         * safe and keeps other threads' grace periods moving. */
        if (c->drained % QUIESCE_EVERY == 0)
            ouro__quiescent(c->self);
    }
}

/* The guess: white if every reference counted is from an examined node,
 * then black with everything reachable from outside references. */
static void trial_color(gc_ctx *c)
{
    c->run->examined += c->tab.n;
    if (c->oom)
        return;
    for (size_t i = 0; i < c->tab.n; i++) {
        gc_node *node = &c->tab.nodes[i];
        if (node->color == GC_DEAD)
            continue;
        if ((int64_t)node->count != (int64_t)node->in_edges) {   /* outside refs, or a race */
            node->color = GC_BLACK;
            push(c, (uint32_t)i);
        } else {
            node->color = GC_WHITE;
        }
    }
    scan_black(c);
}

/* ---- mark and validate ------------------------------------------------- */

/* Node index of `child`, the next reference of the node validation is
 * traversing.  Trial deletion recorded that node's references to nodes in
 * traversal order (tdst); while they are read back unchanged, each is
 * found there, at the cost of an entry in objs, without the lookup's read
 * of the child's header: a cache miss when the child lies elsewhere, as a
 * request's graph does in a recycled heap.  The answer is the lookup's:
 * the table holds each object once, so objs[j] == child means node j. */
static int64_t replayed_lookup(gc_ctx *c, ouro_object *child)
{
    const gc_table *t = &c->tab;
    if (c->replay < c->replay_end) {
        uint32_t j = t->tdst[c->replay];
        if (t->objs[j] == child) {
            c->replay++;
#ifndef NDEBUG
            /* Debug builds check every answer against the table's. */
            if (OURO_UNLIKELY(gc_table_lookup(t, child) != (int64_t)j))
                ouro__fatal("validation's replay found node %u for an object "
                            "the table has at node %lld", j,
                            (long long)gc_table_lookup(t, child));
#endif
            return j;
        }
    }
    /* A reference to no node (not recorded), or one that changed: ask the
     * table.  The run stays where it is, for the next reference. */
    return gc_table_lookup(t, child);
}

static void visit_count(ouro_object *child, void *arg)
{
    gc_ctx *c = arg;
    int64_t j = replayed_lookup(c, child);
    if (j < 0 || c->tab.nodes[j].color != GC_WHITE) {
        c->tab.nodes[c->cur].outside = true;
        return;
    }
    if (!gc_table_add_edge(&c->tab, (uint32_t)c->cur, (uint32_t)j))
        c->oom = true;
    c->tab.nodes[j].in_edges++;
}

/* Where each node's run of recorded edges starts, node i's being
 * [start[i], start[i + 1]).  Validation records the edges node by node in
 * table order (pass 3), so they are grouped by source already; the index
 * is built once per recording (a scan of them all per popped node would be
 * quadratic, and so would a rebuild per spread: the settle's last step may
 * spread once per round).  NULL when out of memory. */
static const size_t *edge_index(gc_ctx *c)
{
    gc_table *t = &c->tab;
    if (c->edge_start)
        return c->edge_start;
    size_t *start = ouro__mem_calloc((t->n + 1) * sizeof *start);
    if (!start)
        return NULL;
    for (size_t e = 0; e < t->nedges; e++)
        start[t->edges[e].src + 1]++;
    for (size_t i = 0; i < t->n; i++)
        start[i + 1] += start[i];
    c->edge_start = start;
    return start;
}

/* The edges change: the next spread builds the index again. */
static void edge_index_drop(gc_ctx *c)
{
    ouro__mem_free(c->edge_start);
    c->edge_start = NULL;
}

/* Blacken everything reachable from the nodes on the stack, along the
 * recorded edges (not the current ones: see docs/collector.md, step 3).
 * The white nodes' `outside` marks are left to mark_outside, once black
 * has stopped spreading. */
static void blacken_recorded(gc_ctx *c)
{
    gc_table *t = &c->tab;
    const size_t *start = edge_index(c);
    if (!start) {
        /* Without memory, be conservative: everything is black. */
        for (size_t i = 0; i < t->n; i++)
            t->nodes[i].color = GC_BLACK;
        c->sp = 0;
        c->oom = true;
        return;
    }
    for (size_t k = 0; c->sp; k++) {
        quiesce_every(c, k);
        uint32_t i = c->stack[--c->sp];
        for (size_t e = start[i]; e < start[i + 1]; e++) {
            gc_node *d = &t->nodes[t->edges[e].dst];
            if (d->color == GC_WHITE) {
                d->color = GC_BLACK;
                push(c, t->edges[e].dst);
            }
        }
    }
}

/* After black spread: a white node's reference to a node now black is one
 * the free must release. */
static void mark_outside(gc_ctx *c)
{
    gc_table *t = &c->tab;
    for (size_t e = 0; e < t->nedges; e++) {
        quiesce_every(c, e);
        if (t->nodes[t->edges[e].src].color == GC_WHITE &&
            t->nodes[t->edges[e].dst].color != GC_WHITE)
            t->nodes[t->edges[e].src].outside = true;
    }
}

static size_t count_white(const gc_ctx *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->tab.n; i++)
        n += c->tab.nodes[i].color == GC_WHITE;
    return n;
}

/* Black roots among white nodes: those for which `bad` holds.  Whether
 * there was any. */
static bool blacken_if(gc_ctx *c, bool (*bad)(gc_ctx *c, size_t i))
{
    for (size_t i = 0; i < c->tab.n; i++) {
        quiesce_every(c, i);
        gc_node *node = &c->tab.nodes[i];
        if (node->color == GC_WHITE && bad(c, i)) {
            node->color = GC_BLACK;
            push(c, (uint32_t)i);
        }
    }
    if (!c->sp)   /* nothing to spread from: the common case for garbage */
        return false;
    blacken_recorded(c);
    if (!c->oom)   /* else everything is black: no marks to make */
        mark_outside(c);
    return true;
}

/* A QUEUED object is in its owner's merge queue, which will read it:
 * never garbage until that merge is done (docs/counting.md, C5a). */
static bool queued(ouro_object *o)
{
    return (atomic_load_explicit(&o->ob_ref_shared, memory_order_acquire) &
            OURO__SHARED_STATE_MASK) == OURO__SHARED_QUEUED;
}

/* Counts only (QUEUED members carry GC_COUNT_QUEUED).  TOUCHED and DIRTY
 * are not cleared between this pass and the refine (only before a
 * validation after finalizers), so a flag raised before this pass is still
 * there when the refine reads them after W2, and black spreads the same
 * way.  This pass reads the table alone. */
static bool miscounted(gc_ctx *c, size_t i)
{
    const gc_node *n = &c->tab.nodes[i];
    return (int64_t)n->recount != (int64_t)n->in_edges;
}

/* Steps 4-7 of docs/collector.md on the current white set; returns the
 * size of S' (the refine, step 8, is the settle step's, under its locks).
 * `again` is the re-validation after finalizers ran on this thread (step
 * 9). */
static size_t validate(gc_ctx *c, bool again)
{
    gc_table *t = &c->tab;
    /* First round: marked IN_GC since they were held (trial deletion);
     * TOUCHED and DIRTY have accumulated since then, which only adds black
     * roots.  Again: what the finalizers did is in the counts read after
     * W1 (a resurrection is a new counted reference), so their flags are
     * cleared, and their decrements are applied after W1 (a grace period),
     * so that a finalizer that merely changes its own fields does not keep
     * the garbage alive. */
    /* The edges this pass records run between white nodes: at most the
     * references trial deletion counted into them, if the graph kept its
     * shape.  Room for them at once, not by doubling (a hint). */
    size_t before = 0, expect_edges = 0;
    for (size_t i = 0; i < t->n; i++) {
        gc_node *node = &t->nodes[i];
        if (node->color == GC_WHITE) {
            before++;
            expect_edges += node->in_edges;
            if (again)
                atomic_fetch_and_explicit(
                    &t->objs[i]->ob_gc,
                    ~(uint32_t)(OURO__GC_TOUCHED | OURO__GC_DIRTY),
                    memory_order_relaxed);
        }
        node->in_edges = 0;
        node->outside = false;
        node->left = false;   /* settle's mark, from the round before */
    }
    if (!before)
        return 0;
    t->nedges = 0;   /* the last round's edges are done with */
    edge_index_drop(c);
    gc_table_reserve_edges(t, expect_edges + expect_edges / 8 + 1024);
    if (again)
        ouro__decbuf_seal(c->self);
    handshake(c->self);                                           /* W1 */
    c->handshaken = true;
    if (again)
        ouro__decbuf_apply_ready(c->self);
    bool replay = !again && !c->tdst_lost;
    c->replay = c->replay_end = 0;
    size_t far = 0;
    for (size_t i = 0; i < t->n; i++) {
        quiesce_every(c, i);
        ouro_object *o = t->objs[i];
        /* Before the colour test: the cursor passes every node. */
        prefetch_far(c, &far, i + PREFETCH_AHEAD, false);
        if (t->nodes[i].color != GC_WHITE)
            continue;
        if (i + PREFETCH_AHEAD < t->n)
            __builtin_prefetch(t->objs[i + PREFETCH_AHEAD]);
        /* After W1, like every read of this pass; miscounted() compares
         * it with in_edges once all of them are counted. */
        /* QUEUED is read here, before W2, not only by the refine: an owner
         * offline through W2 (or detaching offline) merges meanwhile, and
         * its merge still writes to the object after the CAS that clears
         * QUEUED.  From the same load as the count: a snapshot before that
         * CAS is QUEUED, one after it counts the merger's own reference
         * (miscounted either way).  An object queued after this read was
         * decremented through a reference this count includes
         * (miscounted), or a member's slot (the member is DIRTY), or one
         * taken after W1 (TOUCHED): docs/collector.md, step 6. */
        /* Trial deletion's run of recorded targets for this node, before
         * `recount` (its start until now) is overwritten.  Only the first
         * validation has them: the one after finalizers finds counts in
         * these fields. */
        if (replay) {
            c->replay = (size_t)t->nodes[i].recount;
            c->replay_end = gc_table_tdst_end(t, i);
        }
        bool was_queued;
        int64_t count = ouro__raw_refcnt_queued(o, &was_queued);
        t->nodes[i].recount = was_queued ? GC_COUNT_QUEUED : gc_count_of(count - 1);
        void (*hook)(ouro_object *) = atomic_load_explicit(
            &ouro__recount_test_hook, memory_order_relaxed);
        if (OURO_UNLIKELY(hook != NULL))
            hook(o);
        if (!o->ob_type->traverse)
            continue;
        c->cur = (int64_t)i;
        o->ob_type->traverse(o, visit_count, c);
    }
    if (c->oom) {
        for (size_t i = 0; i < t->n; i++)
            t->nodes[i].color = GC_BLACK;
        return 0;
    }
    bool spread = blacken_if(c, miscounted);                      /* S' */
    handshake(c->self);                                           /* W2 */
    if (c->oom) {   /* could not spread black: nothing is proven garbage */
        for (size_t i = 0; i < t->n; i++)
            if (t->nodes[i].color == GC_WHITE)
                t->nodes[i].color = GC_BLACK;
        return 0;
    }
    size_t after = spread ? count_white(c) : before;
    c->run->aborted += before - after;
    return after;
}

/* ---- settle: close the garbage against weak paths (settle.h) ------------ */

static bool is_white(ouro_object *o, void *arg)
{
    gc_ctx *c = arg;
    int64_t j = gc_table_lookup(&c->tab, o);
    return j >= 0 && c->tab.nodes[j].color == GC_WHITE;
}

/* The most members pass 1 settles under one hold of a side lock: a
 * mutator that needs that lock (to link a new object, or unlink a dying
 * one) waits for one batch, never for the pass. */
#define SETTLE_BATCH 256

/* A member flagged since validation read it: TOUCHED or DIRTY (reached
 * without a counted reference, or changed), or QUEUED. */
static bool flagged(ouro_object *o, uint32_t gc)
{
    return (gc & (OURO__GC_TOUCHED | OURO__GC_DIRTY)) || queued(o);
}

/* Remember white node i, which has a weak side, for the last step. */
static void note_weak_side(gc_ctx *c, uint32_t i)
{
    if (!append_u32(&c->weak, &c->nweak, &c->weak_cap, i, 64))
        c->oom = true;   /* nothing is proven then */
}

/* Pass 1 of the settle step, under the side lock of each member's stripe
 * in turn (batches of up to SETTLE_BATCH table entries, in table order,
 * whose white members share a stripe): flagged members are black roots,
 * the others leave the registry, and those with a weak side are noted for
 * the last step.  Their totals are kept as we go (recounted if black
 * spreads); `*n` is the number left white. */
static void settle_registry(gc_ctx *c, bool first, size_t *n)
{
    gc_table *t = &c->tab;
    for (size_t i = 0; i < t->n;) {
        if (t->nodes[i].color != GC_WHITE) {
            i++;
            continue;
        }
        pthread_mutex_t *m = ouro__side_mutex(t->objs[i]);
        pthread_mutex_lock(m);
        for (size_t stop = i + SETTLE_BATCH; i < t->n && i < stop; i++) {
            quiesce_every(c, i);
            gc_node *node = &t->nodes[i];
            if (i + PREFETCH_AHEAD < t->n)
                __builtin_prefetch((const ouro__heap_link *)
                                       t->objs[i + PREFETCH_AHEAD] - 1, 1);
            if (node->color != GC_WHITE)
                continue;
            ouro_object *o = t->objs[i];
            if (ouro__side_mutex(o) != m)
                break;   /* another stripe: the next batch */
            /* Under o's lock: ordered with every weak reference made to o
             * (W3) and every dereference of one (W4). */
            uint32_t gc = atomic_load_explicit(&o->ob_gc,
                                               memory_order_relaxed);
            if (flagged(o, gc)) {
                node->color = GC_BLACK;
                push(c, (uint32_t)i);
                continue;
            }
            ouro__settle_leave_locked(o);
            node->left = true;
            if (ouro__settle_has_weak_side(o, gc))
                note_weak_side(c, (uint32_t)i);
            node->was_white |= first;
            (*n)++;
            c->finalizers += node->finalizer;
            c->outsiders += node->outside;
        }
        pthread_mutex_unlock(m);
        void (*hook)(void) = atomic_load_explicit(&ouro__settle_batch_test_hook,
                                                  memory_order_relaxed);
        if (OURO_UNLIKELY(hook != NULL))
            hook();
    }
}

/* The last step of the settle, for the members pass 1 noted with a weak
 * side (they have weak references, or are one: a weak reference is also
 * reached without a counted reference when its referent dies by counting,
 * for its callback).  Under every side lock their flags are read again (a
 * reach since pass 1 left TOUCHED).  If none that is still white is
 * flagged, their weak references are cleared under the same locks;
 * otherwise the locks are released, black spreads from the flagged ones,
 * and the step starts over (each round blackens one more at least).  The
 * locks are held for a pass over these members alone.  Whether black
 * spread. */
static bool settle_weak(gc_ctx *c, ouro__weak_pending *due)
{
    gc_table *t = &c->tab;
    bool spread = false;
    for (;;) {
        ouro__settle_lock();
        for (size_t k = 0; k < c->nweak; k++) {
            quiesce_every(c, k);
            uint32_t i = c->weak[k];
            ouro_object *o = t->objs[i];
            if (t->nodes[i].color == GC_WHITE &&
                flagged(o, atomic_load_explicit(&o->ob_gc,
                                                memory_order_relaxed))) {
                t->nodes[i].color = GC_BLACK;
                push(c, i);
            }
        }
        if (!c->sp && !c->oom) {   /* final: clear, under the same locks */
            for (size_t k = 0; k < c->nweak; k++) {
                quiesce_every(c, k);
                uint32_t i = c->weak[k];
                if (t->nodes[i].color == GC_WHITE)
                    ouro__settle_weak_locked(t->objs[i], is_white, c, due);
            }
        }
        ouro__settle_unlock();
        if (!c->sp || c->oom)
            return spread;
        void (*hook)(void) = atomic_load_explicit(&ouro__settle_round_test_hook,
                                                  memory_order_relaxed);
        if (OURO_UNLIKELY(hook != NULL))
            hook();
        blacken_recorded(c);
        spread = true;
        if (c->oom)   /* everything is black: nothing to clear */
            return spread;
    }
}

/* After W2: close the garbage against weak dereferences and registry walks
 * (docs/weakrefs.md, W4), and take it out of the registry and the weak
 * table.  Walks wait at the gate meanwhile.  Pass 1 (settle_registry)
 * holds one side lock at a time; only the members with a weak side are
 * decided under every lock (settle_weak), so a garbage set without weak
 * references stops no mutator.  A member that black reaches after it left
 * the registry is linked again before the gate opens, so no walk sees the
 * difference.  The weak references' callbacks run after that.  `before` is
 * the size of S'; `first`, the settle after the first validation (its
 * garbage is was_white).  Returns the size of the garbage set, S''. */
static size_t settle(gc_ctx *c, size_t before, bool first)
{
    gc_table *t = &c->tab;
    ouro__weak_pending due = {NULL, NULL};
    size_t n = 0;
    void (*hook)(void) = atomic_load_explicit(&ouro__settle_test_hook,
                                              memory_order_relaxed);
    if (OURO_UNLIKELY(hook != NULL))
        hook();
    c->finalizers = c->outsiders = 0;
    ouro__settle_begin();
    c->nweak = 0;
    settle_registry(c, first, &n);
    bool spread = c->sp != 0;
    if (c->sp)
        blacken_recorded(c);
    if (c->nweak && !c->oom)
        spread |= settle_weak(c, &due);
    /* Rare: black spread and took some back, or a push found no memory
     * (the stack may be empty then), and nothing is proven. */
    if (spread || c->oom) {
        if (!c->oom)
            mark_outside(c);
        n = c->finalizers = c->outsiders = 0;
        for (size_t i = 0; i < t->n; i++) {
            quiesce_every(c, i);
            gc_node *node = &t->nodes[i];
            if (c->oom && node->color == GC_WHITE)
                node->color = GC_BLACK;   /* could not spread: no proof */
            if (node->left && node->color != GC_WHITE) {
                ouro__settle_keep(t->objs[i]);   /* linked again */
                node->left = false;
                /* Only the first settle sets was_white: it was clear. */
                node->was_white &= !first;
            }
            if (node->color == GC_WHITE) {
                n++;
                c->finalizers += node->finalizer;
                c->outsiders += node->outside;
            }
        }
    }
    /* A node's `left` stays set until the next validation clears it. */
    ouro__settle_end();
    ouro__weak_run_callbacks(&due);
    c->run->aborted += before - n;
    return n;
}

/* ---- finalize and free --------------------------------------------------- */

static bool run_finalizers(gc_ctx *c)
{
    bool ran = false;
    if (!c->finalizers)
        return false;
    for (size_t i = 0; i < c->tab.n; i++) {
        ouro_object *o = c->tab.objs[i];
        if (c->tab.nodes[i].color != GC_WHITE || !c->tab.nodes[i].finalizer)
            continue;
        uint32_t old = atomic_fetch_or_explicit(&o->ob_gc, OURO__GC_FINALIZED,
                                                memory_order_relaxed);
        if (old & OURO__GC_FINALIZED)
            continue;
        o->ob_type->finalize(o);
        OURO__COUNT(c->self, finalized, 1);
        ran = true;
    }
    return ran;
}

static void visit_release(ouro_object *child, void *arg)
{
    gc_ctx *c = arg;
    int64_t j = gc_table_lookup(&c->tab, child);
    if (j >= 0 && c->tab.nodes[j].color == GC_WHITE)
        return;   /* garbage too: freed without a decrement */
    /* Held by unreachable garbage: released at once (docs/grace-periods.md,
     * G4). */
    ouro__apply_decref(c->self, child);
}

/* Two passes: the releases read the referents' headers (is it white?),
 * so no member is freed before all of them are done.  Only the members
 * that validation saw refer to something that is not garbage (`outside`)
 * have any to do: a member's references are those validation counted,
 * since a change would have made it DIRTY, hence black, and nobody can
 * reach it since (a finalizer's writes are the exception: the validation
 * after finalizers counts again, and recomputes `outside`). */
static void free_garbage(gc_ctx *c)
{
    gc_table *t = &c->tab;
    size_t far = 0;
    for (size_t i = 0; c->outsiders && i < t->n; i++) {
        quiesce_every(c, i);
        ouro_object *o = t->objs[i];
        prefetch_far(c, &far, i + PREFETCH_AHEAD, true);   /* released */
        if (t->nodes[i].color != GC_WHITE || !t->nodes[i].outside)
            continue;
        o->ob_type->traverse(o, visit_release, c);
    }
    for (size_t i = 0; i < t->n; i++) {
        quiesce_every(c, i);
        ouro_object *o = t->objs[i];
        if (i + PREFETCH_AHEAD < t->n)
            __builtin_prefetch(t->objs[i + PREFETCH_AHEAD], 1);
        if (t->nodes[i].color != GC_WHITE)
            continue;
        ouro__cand_forget(o);   /* buffered again during the collection */
        if (o->ob_type->destroy)
            o->ob_type->destroy(o);
        ouro__release_object(c->self, o);
        c->run->collected++;
        c->freed++;
    }
}

/* The debug flags (debug.h): report the garbage, or keep it in the garbage
 * list instead of freeing it (it is black from then on: the list holds
 * it). */
static void report_garbage(gc_ctx *c)
{
    unsigned debug = ouro__gc_debug_flags();
    if (!(debug & (OURO_GC_DEBUG_COLLECTABLE | OURO_GC_DEBUG_SAVEALL)))
        return;
    for (size_t i = 0; i < c->tab.n; i++) {
        gc_node *node = &c->tab.nodes[i];
        if (node->color != GC_WHITE)
            continue;
        if (debug & OURO_GC_DEBUG_COLLECTABLE)
            ouro__gc_report_collectable(c->tab.objs[i]);
        if (debug & OURO_GC_DEBUG_SAVEALL)
            ouro__gc_save_garbage(c->tab.objs[i]);
    }
    /* Saved, or, if the list had no room for one, kept for the next
     * collection (found again: was_white buffers it): the saved objects may
     * point at it, so with SAVEALL nothing is freed. */
    if (debug & OURO_GC_DEBUG_SAVEALL)
        for (size_t i = 0; i < c->tab.n; i++)
            if (c->tab.nodes[i].color == GC_WHITE)
                c->tab.nodes[i].color = GC_BLACK;
}

/* Unmark and release everything that is not garbage. */
static void release_rest(gc_ctx *c)
{
    gc_table *t = &c->tab;
    for (size_t i = 0; i < t->n; i++) {
        quiesce_every(c, i);
        gc_node *node = &t->nodes[i];
        ouro_object *o = t->objs[i];
        if (node->color == GC_DEAD || (node->color == GC_WHITE && !c->oom))
            continue;   /* freed */
        if (node->was_white)
            ouro__settle_keep(o);   /* settled as garbage, kept after all */
        clear_marks_make_old(o);
        /* Buffer again, so that a later collection looks at it:
         *  - a candidate whose count moved since trial deletion read it (a
         *    decrement may have seen it still BUFFERED just before our
         *    hold and so not buffered it: completeness step 2);
         *  - anything validated as garbage and then kept (after finalizers
         *    ran), since nothing else may ever decrement it again;
         *  - candidates, if we ran out of memory. */
        if ((node->candidate &&
             (c->oom || ouro__raw_refcnt(o) - 1 != (int64_t)node->count)) ||
            node->was_white)
            ouro__maybe_buffer(o);
        ouro__release_hold(c->self, o);
    }
}

void (*_Atomic ouro__walk_test_hook)(ouro_object *candidate);
void (*_Atomic ouro__recount_test_hook)(ouro_object *o);
void (*_Atomic ouro__drain_test_hook)(ouro_object *o);
atomic_bool ouro__trial_edges_test_off;
struct ouro__search_count *_Atomic ouro__take_search_count;

static bool examinable(ouro_object *o, void *arg)
{
    (void)arg;
    return !ouro__is_immortal(o) &&
           !(atomic_load_explicit(&o->ob_gc, memory_order_relaxed) &
             OURO__GC_FROZEN);
}

/* A buffering ran out of memory, so some garbage cycle may have no member
 * in the set: every tracked object is a candidate this time
 * (docs/collector.md, completeness step 2).  The registry snapshot holds
 * each one; all of them enter the table before any is walked, since a walk
 * that reached one not yet there would hold it a second time and read a
 * count that includes the snapshot's hold.  Those also taken from the set
 * lose BUFFERED as they are marked; the others keep it (they may be in the
 * set, buffered since the take). */
static void take_whole_heap(gc_ctx *c)
{
    ouro_object **all;
    size_t n;
    if (ouro__heap_snapshot(examinable, NULL, &all, &n) != OURO_OK) {
        ouro__cand_overflow_set();   /* the next collection tries again */
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ouro_object *o = all[i];
        int64_t j = gc_table_add(&c->tab, o);   /* each one is there once */
        if (j < 0) {
            ouro__cand_overflow_set();   /* no room: the next time */
            ouro__release_hold(c->self, o);
            continue;
        }
        /* The snapshot's hold is the node's; every node is a candidate,
         * and one also taken from the set loses BUFFERED here. */
        mark_node(&c->tab, o, j, taken_and_buffered(c, o));
        c->tab.nodes[j].candidate = true;
        c->run->candidates++;
    }
    ouro__mem_free(all);
    trial_drain(c, 0);
}

static uint64_t phase_end(struct ouro_gc_run *run, int phase, uint64_t start)
{
    uint64_t now = ouro__now_ns();
    run->phase_ns[phase] += now - start;
    return now;
}

/* The side table outlives a collection (the collector thread alone uses
 * it): its arrays are large, and fresh ones cost a page fault per page on
 * first touch, a third of the collector's time in a busy heap. */
static gc_table kept_table;

void ouro__gc_collect_fini(void)
{
    gc_table_free(&kept_table);
}

int64_t ouro__gc_collect_once(ouro_thread *self, struct ouro_gc_run *run)
{
    gc_ctx c = {.self = self, .run = run, .tab = kept_table};
    c.tdst_lost = atomic_load_explicit(&ouro__trial_edges_test_off,
                                       memory_order_relaxed);
    /* Every node is a tracked object: the heap bounds the table, but for
     * what is allocated during the collection (hashed, if it comes to
     * that). */
    size_t heap = ouro__heap_count();
    gc_table_reset(&c.tab, heap + heap / 4);
    uint64_t t = ouro__now_ns();
    /* release: a thread that reads the new wr_seq at a quiescent point of
     * the first handshake sees the flag, and diverts its increments. */
    atomic_store_explicit(&ouro__gc_active, 1, memory_order_release);

    /* With the whole heap to take (a buffering found no memory), this
     * collection is a full one. */
    if (run->young && ouro__cand_overflow_pending())
        run->young = false;
    /* In address order: every later pass walks the nodes in table order,
     * and objects allocated together lie together.  Quiescent as it goes
     * (it reads no object). */
    run->old_taken = ouro__cand_take_all(c.self, run->young, &c.taken) ==
                         OURO_OK &&
                     !run->young;
    size_t ncand = c.taken.n;
    ouro__gc_pace_begin(ncand);
    /* Before any candidate is marked, so that the snapshot's holds are not
     * touches, and the candidates' walks find its objects in the table
     * already (and hold none twice). */
    if (ouro__cand_overflow_take()) {
        /* Every tracked object is a node: no boundary.  (If the mark went
         * up after the young take began, the old set was not taken: the
         * collection does not count as full.) */
        run->young = false;
        take_whole_heap(&c);
    }
    gc_table_reserve(&c.tab, c.tab.n + ncand + ncand / 4 + 1024);
    /* `ahead` runs PREFETCH_AHEAD candidates before `at`: the first touch
     * of each candidate, so its misses start early. */
    ouro__taken_cursor at = ouro__taken_cursor_start(),
                       ahead = ouro__taken_cursor_start();
    unsigned k;
    for (size_t i = 0; i < PREFETCH_AHEAD; i++) {
        ouro_object *p = ouro__taken_next(&c.taken, &ahead, &k);
        if (p)
            __builtin_prefetch(p, 1);
    }
    ouro_object *o;
    for (size_t i = 0; (o = ouro__taken_next(&c.taken, &at, &k)); i++) {
        quiesce_every(&c, i);
        unsigned pk;
        ouro_object *p = ouro__taken_next(&c.taken, &ahead, &pk);
        if (p)
            __builtin_prefetch(p, 1);
        size_t w = at.w;
        c.finger = w;
        /* Safe to read before the hold: a taken candidate is freed only
         * after our zombie claim (candidates.c). */
        if (gc_table_lookup(&c.tab, o) >= 0)
            continue;   /* reached from an earlier one: marked there */
        if (!hold_candidate(&c, o)) {
            untake(&c, w, k);   /* a zombie, freed: its address may return */
            continue;
        }
        if (atomic_load_explicit(&o->ob_gc, memory_order_relaxed) &
            OURO__GC_FROZEN) {
            /* Frozen since it was buffered: dropped, never examined. */
            untake(&c, w, k);
            atomic_fetch_and_explicit(&o->ob_gc, ~(uint32_t)OURO__GC_BUFFERED,
                                      memory_order_relaxed);
            ouro__release_hold(c.self, o);
            continue;
        }
        if (run->young && (atomic_load_explicit(&o->ob_gc,
                                                memory_order_relaxed) &
                           OURO__GC_OLD)) {
            /* Old: left to the next full collection, in the old set.
             * Moved under our hold, so that its death cannot be decided
             * while it is in no set (docs/collector.md, "Generations"). */
            untake(&c, w, k);
            if (ouro__cand_defer(o)) {
                run->deferred++;
                ouro__release_hold(c.self, o);
            } else {   /* no memory: back in a set (the old one), if it can */
                rebuffer_and_release(&c, o);
            }
            continue;
        }
        int64_t j = gc_table_add(&c.tab, o);
        if (j < 0) {
            /* No room to examine it: back in the set for the next time. */
            untake(&c, w, k);
            rebuffer_and_release(&c, o);
            continue;
        }
        mark_held(&c, o, j, true);
        /* With the test hook, no lag: it runs once this candidate's
         * subgraph has been read. */
        void (*hook)(ouro_object *) = atomic_load_explicit(
            &ouro__walk_test_hook, memory_order_relaxed);
        trial_drain(&c, OURO_UNLIKELY(hook != NULL) ? 0 : DRAIN_LAG);
        if (OURO_UNLIKELY(hook != NULL))
            hook(o);
    }
    trial_drain(&c, 0);
    ouro__taken_free(&c.taken);
    t = phase_end(run, OURO_GC_PHASE_CANDIDATES, t);

    trial_color(&c);
    t = phase_end(run, OURO_GC_PHASE_TRIAL, t);

    size_t garbage = 0;
    if (!c.oom) {
        garbage = validate(&c, false);
        if (garbage)   /* weak references cleared; was_white set */
            garbage = settle(&c, garbage, true);
        t = phase_end(run, OURO_GC_PHASE_VALIDATE, t);
        run->unreachable += garbage;
        if (garbage && !c.oom && run_finalizers(&c)) {
            garbage = validate(&c, true);   /* resurrected ones live */
            if (garbage)
                garbage = settle(&c, garbage, false);
        }
        t = phase_end(run, OURO_GC_PHASE_FINALIZE, t);
        if (!c.oom) {
            report_garbage(&c);
            free_garbage(&c);
        }
    }
    await_decrements_in_flight(&c);
    if (c.freed < c.tab.n)   /* else every node was garbage, and is freed */
        release_rest(&c);
    atomic_store_explicit(&ouro__gc_active, 0, memory_order_relaxed);
    phase_end(run, OURO_GC_PHASE_FREE, t);
    ouro__mem_free(c.stack);
    ouro__mem_free(c.weak);
    ouro__mem_free(c.far);
    edge_index_drop(&c);
    gc_table_trim(&c.tab);
    kept_table = c.tab;
    return (int64_t)run->unreachable;
}
