/*
 * collector.pml - SPIN model of ouro's concurrent cycle collector.
 *
 * Specification: docs/collector.md (algorithm, safety argument) and
 * docs/grace-periods.md (deferred decrements, grace periods); the code it
 * follows is collector/collect.c, collector/candidates.c and
 * runtime/refcount.c.  Each part below names the step it models; every
 * simplification is marked ABSTRACTION and argued where it is made.
 * README.md summarises.
 *
 * Checked properties (safety), as assertions:
 *   - an object is freed (by reference counting, as a zombie, or by the
 *     collector) only when it is unreachable: not held (counted) or
 *     borrowed by a mutator, not reachable along slots from those or from
 *     the global root, and not referenced from a slot of any object that
 *     stays alive; and no decrement of it is still pending;
 *   - nothing is freed twice, and no freed object is ever used: loaded
 *     from, stored into, incremented, decremented, try-incremented or read
 *     by the collector;
 *   - an object the collector holds never dies under reference counting;
 *   - a BUFFERED garbage member is in the candidate set (ouro__cand_forget
 *     would call ouro__fatal otherwise).
 *
 * Switches (spin -DNAME ...):
 *   BROKEN_NO_VALIDATION  free S right after trial deletion: no
 *                         handshakes, no validation, no refine.  SPIN must
 *                         find an assertion violation.
 *   BROKEN_NO_DIRTY       the write barrier never sets DIRTY.
 *   BROKEN_NO_TOUCHED     increments never set TOUCHED.
 *   BROKEN_NO_REFINE      no refine after W2 (S'' = S').
 *   BROKEN_NO_W2          no handshake W2 (refine right after pass 3).
 *   BROKEN_NO_ZCLAIM      a dying thread that finds its object taken frees
 *                         it at once (the first, single-party zombie rule).
 *   ABSTRACT_TRIAL        S is any subset of the held candidates instead
 *                         of trial deletion's result: checks the
 *                         validation on its own, for every S.
 *   SANITY_FREES_CYCLE    assert that the collector never frees a member
 *                         pointing to another member; SPIN must violate it
 *                         (the model does reach the collector's real work).
 *   BUDGET0=n, BUDGET1=n  heap actions of mutator 0 / 1 (default 2 / 1).
 *   INITSET=mask, ANYSET  the candidate set at the start (see init).
 *   NCOLL=n               collections run by the collector (default 1).
 */

/* ------------------------------------------------------------------ */
/* Sizes                                                               */
/* ------------------------------------------------------------------ */

#define NOBJ    4           /* objects 0..3; 0 is the global root       */
#define ROOT    0
#define NIL     4           /* the null pointer                         */
#define NMUT    2           /* mutator threads 0 and 1                  */
#define COLL    2           /* the collector's thread index             */
#define MUTMASK 3           /* the mutators' bits in a set of threads   */

#ifndef BUDGET0
#define BUDGET0 2
#endif
#ifndef BUDGET1
#define BUDGET1 1
#endif
#ifndef NCOLL
#define NCOLL   1
#endif
/* The candidate set at the start, as a bitmask of objects (default {1, 3}:
 * a member of the cycle, and an object whose only reference a mutator can
 * drop, which makes it a zombie if the collector has taken it); ANYSET:
 * any subset of {1, 2, 3}.  Decrements that leave a count positive add
 * candidates as the model runs.                                           */
#ifndef INITSET
#define INITSET 10
#endif

/* Room for a mutator's pending deferred decrements: at most one per heap
 * action.  (The collector records none: it releases at once.)           */
#define NPT     4
#if BUDGET0 > NPT || BUDGET1 > NPT
#error "a mutator's budget must be at most NPT"
#endif

#define BIT(x)  (1 << (x))

/* Event lines for reading a counterexample: `spin -t collector.pml` (or
 * check.sh with VERBOSE=1) prints them; pan ignores printf.              */
#define EV      printf
inline print_set(set)
{
    printf("{");
    if
    :: set & BIT(1) -> printf(" 1")
    :: else
    fi;
    if
    :: set & BIT(2) -> printf(" 2")
    :: else
    fi;
    if
    :: set & BIT(3) -> printf(" 3")
    :: else
    fi;
    printf(" }\n")
}

/* ------------------------------------------------------------------ */
/* The heap                                                            */
/* ------------------------------------------------------------------ */

/* ABSTRACTION: each object has one reference slot (a record with one
 * slot).  Enough for cycles (1->2->1, self loops, 1->2->3->1), chains, and
 * objects reachable from a cycle's subgraph but outside S.  Slots hold NIL
 * or a tracked object 1..3; the root (object 0, an immortal global that
 * every thread can read) is never stored anywhere.                       */
byte slot[NOBJ];

/* The applied reference count.  ABSTRACTION: ouro's biased count
 * (ob_ref_local + ob_ref_shared, merges, the merge queue) is one atomic
 * counter, read in one atomic load; the real reads are arranged never to
 * undercount a merge in progress (ouro__raw_refcnt).  It counts references
 * from slots, mutators' counted references, collector holds, and
 * references whose deferred decrement is pending.  Not kept for the root. */
byte rc[NOBJ];

bit freed[NOBJ];

/* ob_gc flags (HELD and the node index are the collector's table here).  */
bit in_gc[NOBJ];
bit touched[NOBJ];
bit dirty[NOBJ];
bit buffered[NOBJ];     /* BUFFERED                                     */
bit zclaim[NOBJ];       /* ZCLAIM                                       */

/* The candidate set (collector/candidates.c), which holds no reference.
 * ABSTRACTION: one shard; its lock makes each set operation one step.    */
bit in_set[NOBJ];

/* ouro__gc_active, and the mutators whose inline increments are diverted
 * (bit 31 of their fast-path id, set at a quiescent point while a
 * collection runs).                                                      */
bit gc_active;
byte div;

/* Mutator roots, as bitmasks of objects.  held[m]: the objects m holds a
 * counted reference to (at most one each).  borrowed[m]: the pointers m
 * has loaded since its last quiescent point (valid until the next one),
 * whether or not it has incremented them since.                          */
byte held[NMUT];
byte borrowed[NMUT];

/* ------------------------------------------------------------------ */
/* Grace periods (docs/grace-periods.md, runtime/gp.c)                 */
/* ------------------------------------------------------------------ */

/* ABSTRACTION of wr_seq / slot.seq / goals.  A goal g = ouro__gp_advance()
 * is reached once every slot is offline or has seq >= g, i.e. once every
 * thread that was online when g was taken has passed a quiescent point
 * (which stores seq = wr_seq >= g) or gone offline.  The model keeps that
 * relation without the unbounded counters: a goal is the set of threads
 * that still have to pass, taken as the set of online threads when the
 * goal is taken; a quiescent point or going offline removes the thread
 * from every goal; the goal is reached when its set is empty.  A thread
 * coming online joins no existing goal (gp_online stores the current
 * wr_seq, >= every goal taken before).  Steps are sequentially consistent;
 * gp.c's release/acquire pairs and seq_cst fences provide this.
 *
 * online: the mutators are online throughout.  ABSTRACTION: no blocking
 * regions and no detach.  ouro_blocking_begin (gp_offline) drops the
 * borrowed pointers and leaves every goal, as a quiescent point does;
 * offline the thread may not read containers, only drop or increment what
 * it holds; ouro_blocking_end is gp_online plus a quiescent point (which
 * diverts it).  An online mutator that passes a safepoint, idles, and
 * passes another covers the same behaviour here.
 * The collector is online only from loading a child pointer until it
 * holds it, the one place where it needs a grace period's protection;
 * offline everywhere else is the weakest assumption about it (it never
 * delays a grace period).                                                */
byte online = MUTMASK;

/* The collector's handshake (W1, W2): the mutators still to pass.        */
byte hs_wait;

/* Deferred decrements: per mutator m, a FIFO queue in pend_obj[m*NPT ..],
 * compact (no holes, NIL after the last), each entry's goal in pend_wait.
 * ABSTRACTION (over-approximation): a decrement's batch is sealed and its
 * goal taken as soon as it is recorded, not at the thread's next safepoint
 * or when the batch fills.  The goal is then the same or earlier, so every
 * application time the real code allows is still allowed, and G1 holds
 * (the goal is taken after the decrement is recorded).  The head is
 * applied once its goal is reached, at any time (the real code applies at
 * safepoints and when a buffer fills).  Goals only lose threads, and a
 * newer goal starts from a superset (the collector can only have gone
 * offline in between, leaving the older one), so goals along a queue are
 * increasing and FIFO order loses nothing.                               */
byte pend_obj[NMUT * NPT];
byte pend_wait[NMUT * NPT];

/* Scratch for d_step computations; each resets what it used to 0, so they
 * never tell states apart.                                               */
byte reach, gi, gj, dead, gx, gs, gf, gc2;

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* Thread t passes a quiescent point (ouro__gp_quiescent) or goes offline:
 * it leaves every goal, the handshake's included.  Inside an atomic step. */
inline leave_goals(t)
{
    gi = 0;
    do
    :: gi < NMUT * NPT -> pend_wait[gi] = pend_wait[gi] & ~BIT(t); gi++
    :: else -> break
    od;
    hs_wait = hs_wait & ~BIT(t);
    gi = 0
}

/* ouro_decref(o) by mutator t: append to t's queue; the goal (see above)
 * is the set of threads online now.  Recording is thread-local: nobody can
 * observe it before the goal is reached.  Inside an atomic step.         */
inline record(t, o)
{
    gi = t * NPT;
    do
    :: gi < (t + 1) * NPT && pend_obj[gi] != NIL -> gi++
    :: else -> break
    od;
    assert(gi < (t + 1) * NPT);     /* NPT is large enough */
    pend_obj[gi] = o;
    pend_wait[gi] = online;
    gi = 0
}

/* ouro__maybe_buffer / ouro__buffer_candidate: under the shard lock, an
 * object not BUFFERED is marked BUFFERED and added to the set.           */
inline maybe_buffer(o)
{
    if
    :: !buffered[o] -> buffered[o] = 1; in_set[o] = 1
    :: else
    fi
}

/* object_died's decision (runtime/refcount.c), once o's count reached
 * zero: a BUFFERED object still in the set is removed and freed (fr); one
 * the collector has taken is a zombie, settled by a claim (cl); anything
 * else is freed.  The load of BUFFERED and the removal under the shard lock
 * are one step: once the count is zero nobody can set BUFFERED again, and
 * only the collector's hold (impossible now) or a claim clears it.        */
inline died_decide(o, fr, cl)
{
    if
    :: buffered[o] && in_set[o] -> in_set[o] = 0; buffered[o] = 0; fr = 1
    :: buffered[o] && !in_set[o] ->
#ifdef BROKEN_NO_ZCLAIM
        buffered[o] = 0; fr = 1     /* BROKEN: "its to free" */
#else
        cl = 1
#endif
    :: !buffered[o] -> fr = 1
    fi
}

/* ouro__zombie_claim: fetch-or ZCLAIM; the party that finds it already set
 * frees the object (fr), the other never touches it again.               */
inline zombie_claim(o, fr)
{
    if
    :: zclaim[o] -> zclaim[o] = 0; buffered[o] = 0; fr = 1;
        EV("   zombie %d: second claim, frees it\n", o)
    :: else -> zclaim[o] = 1;
        EV("   zombie %d: first claim, leaves it\n", o)
    fi
}

/* reach := the objects reachable from the root and from every mutator's
 * counted and borrowed references, along the slots of objects not freed.
 * The collector's holds are not roots: it frees objects it holds.       */
inline compute_reach()
{
    reach = BIT(ROOT) | held[0] | held[1] | borrowed[0] | borrowed[1];
    gj = 0;
    do
    :: gj < NOBJ ->                 /* NOBJ rounds reach the fixpoint */
        gi = 0;
        do
        :: gi < NOBJ ->
            if
            :: (reach & BIT(gi)) && !freed[gi] && slot[gi] != NIL ->
                reach = reach | BIT(slot[gi])
            :: else
            fi;
            gi++
        :: else -> break
        od;
        gj++
    :: else -> break
    od;
    gi = 0;
    gj = 0
}

/* The safety assertions, when x is freed.  `dying`: the objects freed
 * together with x (the collector's S''), whose slots may point to x.    */
inline assert_dead(x, dying)
{
    assert(x != ROOT);
    assert(!freed[x]);              /* not freed twice */
    assert(!in_set[x]);             /* the set never holds a freed object */
    compute_reach();
    /* SAFETY: x is not reachable from a mutator or the global root. */
    assert((reach & BIT(x)) == 0);
    reach = 0;
    gi = 0;
    do
    :: gi < NOBJ ->
        /* SAFETY: no object that stays alive still points to x. */
        assert(freed[gi] || (dying & BIT(gi)) || slot[gi] != x);
        gi++
    :: else -> break
    od;
    gi = 0;
    do
    :: gi < NMUT * NPT ->
        /* SAFETY: no decrement of x is pending (it would be applied to
         * freed memory). */
        assert(pend_obj[gi] != x);
        gi++
    :: else -> break
    od;
    gi = 0
}

/* A decrement applied at once, inside a d_step (the release of a dead
 * object's references, G4): ouro__apply_decref with its buffering
 * (count > 1: make it a candidate first), and object_died on zero; an
 * object to free joins `dead`.                                           */
inline decref_now(o)
{
    assert(o != ROOT && o != NIL);
    assert(!freed[o]);              /* no use of a freed object */
    assert(rc[o] > 0);              /* no underflow */
    if
    :: rc[o] > 1 -> maybe_buffer(o)
    :: else
    fi;
    rc[o]--;
    if
    :: rc[o] == 0 ->
        assert(!in_gc[o]);          /* holds keep examined objects alive */
        gf = 0; gc2 = 0;
        died_decide(o, gf, gc2);
        if
        :: gc2 -> zombie_claim(o, gf)
        :: else
        fi;
        if
        :: gf -> dead = dead | BIT(o)
        :: else
        fi;
        gf = 0; gc2 = 0
    :: else
    fi
}

/* Free every object in `dead` and release its reference at once (the
 * dead list; runtime/dealloc.c).  Referents that die join `dead`.
 * ABSTRACTION: the whole cascade is one indivisible step.  It touches only
 * objects that are unreachable (asserted) and counts no thread can
 * observe reaching zero; the real code frees the dead list in slices.    */
inline free_dead()
{
    do
    :: dead != 0 ->
        gx = 1;
        do
        :: (dead & BIT(gx)) == 0 -> gx++
        :: else -> break
        od;
        dead = dead & ~BIT(gx);
        EV("   object %d: count 0, freed\n", gx);
        assert(!in_gc[gx]);
        assert_dead(gx, 0);
        freed[gx] = 1;
        rc[gx] = 0;
        touched[gx] = 0;
        dirty[gx] = 0;
        gs = slot[gx];
        slot[gx] = NIL;
        if
        :: gs != NIL -> decref_now(gs)
        :: else
        fi;
        gs = 0;
        gx = 0
    :: else -> break
    od;
    dead = 0
}

/* object_died(o) in a process (mutator or collector): the decision, then
 * the claim if o is a zombie.  The free (push_dead, then the dead list)
 * goes with the step that decides it: nobody can reach o by then, nor
 * find it in the set.  fr, cl: the caller's locals, left at 0.           */
inline object_died(o, fr, cl)
{
    d_step {
        died_decide(o, fr, cl);
        if
        :: fr -> dead = BIT(o); free_dead(); fr = 0
        :: else
        fi
    }
    if
    :: cl ->
        d_step {
            zombie_claim(o, fr);
            cl = 0;
            if
            :: fr -> dead = BIT(o); free_dead(); fr = 0
            :: else
            fi
        }
    :: else
    fi
}

#define HAS_READY(m)   (pend_obj[(m)*NPT] != NIL && pend_wait[(m)*NPT] == 0)

/* ------------------------------------------------------------------ */
/* Mutators                                                            */
/* ------------------------------------------------------------------ */

/* Pointers thread `me` may dereference: the root, what it holds, what it
 * has borrowed.                                                          */
#define CAN_USE(me, x) \
    ((x) == ROOT || ((held[me] | borrowed[me]) & BIT(x)))

/* Pointers `me` has (counted or borrowed), which it may store or
 * increment.                                                             */
#define HAS(me, x)  (((held[me] | borrowed[me]) & BIT(x)) != 0)

/* A load from x's slot that gives `me` a pointer it does not have yet.
 * Loading NIL or a pointer it already has adds no behaviour, so those
 * loads are left out.                                                    */
#define LOADABLE(me, x) \
    (CAN_USE(me, x) && slot[x] != NIL && !HAS(me, slot[x]))

/* An increment (ouro_incref): the count, then, on the out-of-line path,
 * note_touch (IN_GC => TOUCHED) as a separate step.  A thread whose
 * fast-path id is not diverted may be the owner on the inline path, which
 * checks no flag; the model lets every such increment skip the check (the
 * weakest choice: TOUCHED only ever adds black roots).  acq: `me` keeps
 * the new reference.                                                     */
inline incref(me, o, f, acq)
{
    d_step {
        assert(!freed[o]);          /* no use of a freed object */
        rc[o]++;
        if
        :: acq -> held[me] = held[me] | BIT(o)
        :: else
        fi;
        f = (div & BIT(me)) != 0
    }
    if
    :: f ->
        d_step {
#ifndef BROKEN_NO_TOUCHED
            if
            :: in_gc[o] -> touched[o] = 1
            :: else
            fi;
#endif
            f = 0
        }
    :: else
    fi
}

/* Each mutator makes at most BUDGETm heap actions (LOAD, STORE, DROP).
 * ACQUIRE (the increment that follows a load), safepoints and applying
 * ready decrements are not counted, and it goes on doing those forever.
 * Every choice and every interleaving with the other mutator and with the
 * collector is explored.                                                 */
proctype mutator(byte me)
{
    byte budget = (me == 0 -> BUDGET0 : BUDGET1);
    byte p = NIL, v = NIL, old = NIL, a = NIL;
    bit f, dy, fr, cl;

    do
    /* LOAD: the atomic load (acquire) of a slot of an object the thread
     * can reach: ouro_record_get's first half.  The result is borrowed:
     * valid until the thread's next quiescent point.                     */
    :: atomic {
        if
        :: budget > 0 && LOADABLE(me, 0) -> p = 0
        :: budget > 0 && LOADABLE(me, 1) -> p = 1
        :: budget > 0 && LOADABLE(me, 2) -> p = 2
        :: budget > 0 && LOADABLE(me, 3) -> p = 3
        fi;
        budget--;
        assert(!freed[p]);          /* no use of a freed object */
        EV("M%d: load %d.slot -> %d (borrowed)\n", me, p, slot[p]);
        borrowed[me] = borrowed[me] | BIT(slot[p]);
        p = NIL
       }

    /* ACQUIRE: ouro_record_get's second half, the increment of the
     * borrowed pointer; it becomes a counted reference.                  */
    :: atomic {
        if
        :: (borrowed[me] & ~held[me]) & BIT(1) -> p = 1
        :: (borrowed[me] & ~held[me]) & BIT(2) -> p = 2
        :: (borrowed[me] & ~held[me]) & BIT(3) -> p = 3
        fi;
        EV("M%d: incref %d, keeps it\n", me, p)
       }
       incref(me, p, f, 1);
       p = NIL

    /* STORE (ouro_record_set): v is NIL or a pointer the thread has; p is
     * an object it can reach.
     *   1. increment v                 (ouro_xincref(value))
     *   2. old = exchange(p's slot, v) (one atomic RMW, acq_rel)
     *   3. write barrier               (ouro__gc_written: IN_GC => DIRTY)
     *   4. record the decrement of old (G2: after the unlinking store)
     * 3 and 4 are one step: 4 is thread-local.                           */
    :: atomic {
        budget > 0 ->
        budget--;
        if
        :: p = ROOT
        :: HAS(me, 1) -> p = 1
        :: HAS(me, 2) -> p = 2
        :: HAS(me, 3) -> p = 3
        fi;
        if
        :: v = NIL
        :: HAS(me, 1) -> v = 1
        :: HAS(me, 2) -> v = 2
        :: HAS(me, 3) -> v = 3
        fi
       }
       if
       :: v != NIL -> incref(me, v, f, 0)
       :: else
       fi;
       d_step {
        assert(!freed[p]);          /* no use of a freed object */
        old = slot[p];
        EV("M%d: store %d.slot := %d (was %d; 4 is NIL)\n", me, p, v, old);
        slot[p] = v;
        v = NIL
       }
       d_step {
#ifndef BROKEN_NO_DIRTY
        if
        :: in_gc[p] -> dirty[p] = 1
        :: else
        fi;
#endif
        if
        :: old != NIL -> record(me, old)
        :: else
        fi;
        old = NIL;
        p = NIL
       }

    /* DROP: ouro_decref of a counted reference: record the decrement.   */
    :: atomic {
        if
        :: budget > 0 && (held[me] & BIT(1)) -> p = 1
        :: budget > 0 && (held[me] & BIT(2)) -> p = 2
        :: budget > 0 && (held[me] & BIT(3)) -> p = 3
        fi;
        budget--;
        EV("M%d: drop %d (decrement deferred)\n", me, p);
        held[me] = held[me] & ~BIT(p);
        record(me, p);
        p = NIL
       }

    /* SAFEPOINT: ouro_safepoint -> ouro__quiescent.  The thread forgets
     * its borrowed pointers (the user's contract); ouro__gp_quiescent
     * removes it from every goal, the collector's handshake included; then
     * it diverts its inline increments iff a collection is running.       */
    :: d_step {
        EV("M%d: safepoint\n", me);
        borrowed[me] = 0;
        leave_goals(me);
        if
        :: gc_active -> div = div | BIT(me)
        :: else -> div = div & ~BIT(me)
        fi
       }

    /* APPLY the oldest pending decrement once its goal is reached
     * (ouro__apply_decref -> decref_shared): a decrement that will leave
     * the count positive first makes the object a candidate, while this
     * thread still holds the reference; then the decrement (one CAS); at
     * zero, object_died.                                                 */
    :: d_step {
        HAS_READY(me) ->
        a = pend_obj[me * NPT];
        gj = me * NPT;
        do
        :: gj < (me + 1) * NPT - 1 ->
            pend_obj[gj] = pend_obj[gj + 1];
            pend_wait[gj] = pend_wait[gj + 1];
            gj++
        :: else -> break
        od;
        pend_obj[gj] = NIL;
        pend_wait[gj] = 0;
        gj = 0;
        assert(!freed[a]);          /* no use of a freed object */
        if
        :: rc[a] > 1 -> maybe_buffer(a)
        :: else
        fi
       }
       d_step {
        assert(!freed[a]);
        assert(rc[a] > 0);          /* no underflow */
        rc[a]--;
        EV("M%d: applies decrement of %d: count %d\n", me, a, rc[a]);
        dy = (rc[a] == 0)
       }
       if
       :: dy -> assert(!in_gc[a]); object_died(a, fr, cl)
       :: else
       fi;
       d_step { a = NIL; dy = 0 }
    od
}

/* ------------------------------------------------------------------ */
/* The collector (docs/collector.md, "The algorithm, one collection"; */
/* collector/collect.c, ouro__gc_collect_once)                         */
/* ------------------------------------------------------------------ */

/* x := the smallest member of `set` above x (the caller checks that there
 * is one, with MORE).                                                    */
inline next_member(x, set)
{
    x++;
    do
    :: (set & BIT(x)) == 0 -> x++
    :: else -> break
    od
}
#define MORE(x, set)    (((set) >> ((x) + 1)) != 0)

/* black := its closure along the recorded edges edge[] within `set`
 * (blacken_recorded).  i, j: loop counters, left at 0.                   */
inline spread_black(black, set, i, j)
{
    j = 0;
    do
    :: j < NOBJ ->
        i = 1;
        do
        :: i < NOBJ ->
            if
            :: (black & BIT(i)) && edge[i] != NIL && (set & BIT(edge[i])) ->
                black = black | BIT(edge[i])
            :: else
            fi;
            i++
        :: else -> break
        od;
        j++
    :: else -> break
    od;
    i = 0;
    j = 0
}

/* A handshake: a grace period the collector starts and waits for, offline,
 * until every mutator online at its start has passed a quiescent point.  */
inline handshake()
{
    hs_wait = online & MUTMASK;
    (hs_wait == 0)
}

proctype collector()
{
    byte ncoll = 0;
    byte taken, sub, cand, todo, S, Sp, Spp, black, x, c, i, j;
    byte edge[NOBJ];    /* edges read: trial deletion, then pass 3       */
    byte tdcnt[NOBJ];   /* counts read by trial deletion (node->count)   */
    byte vcnt[NOBJ];    /* counts read by pass 3                         */
    byte ine[NOBJ];     /* in_edges                                      */
    bit flag[NOBJ];     /* TOUCHED | DIRTY read by pass 3                */
    bit ok, dy, fr, cl;

    do
    :: ncoll == NCOLL -> break
    :: ncoll < NCOLL ->

    /* START and TAKE (ouro__cand_take_all).  gc_active is set (release),
     * then the set is swapped for an empty one under its lock; no object
     * is touched, and taken candidates keep BUFFERED.
     * ABSTRACTION: one shard, and the store of gc_active is in the same
     * step (a quiescent point between the two would divert the thread
     * just the same).                                                    */
    d_step {
        ncoll++;
        gc_active = 1;
        x = 1;
        do
        :: x < NOBJ ->
            if
            :: in_set[x] -> in_set[x] = 0; taken = taken | BIT(x)
            :: else
            fi;
            x++
        :: else -> break
        od;
        x = 0;
        EV("C: start, takes candidates "); print_set(taken)
    }

    /* HOLD each taken candidate (hold_candidate): ouro__try_incref_shared
     * fails exactly when the count is zero (a zombie, settled by a claim);
     * otherwise mark_node's CAS sets HELD and IN_GC and clears TOUCHED,
     * DIRTY and BUFFERED.                                                */
    do
    :: MORE(x, taken) ->
        d_step {
            next_member(x, taken);
            assert(!freed[x]);      /* the set never hands out freed memory */
            if
            :: rc[x] > 0 -> rc[x]++; ok = 1;
                EV("C: holds candidate %d\n", x)
            :: else -> ok = 0;
                EV("C: candidate %d is dead (zombie)\n", x)
            fi
        }
        if
        :: ok ->
            d_step {
                in_gc[x] = 1; touched[x] = 0; dirty[x] = 0; buffered[x] = 0;
                sub = sub | BIT(x);
                cand = cand | BIT(x);
                todo = todo | BIT(x);
                ok = 0
            }
        :: else ->
            d_step {
                zombie_claim(x, fr);
                if
                :: fr -> dead = BIT(x); free_dead(); fr = 0
                :: else
                fi
            }
        fi
    :: else -> break
    od;
    x = 0;
    taken = 0;

#ifdef ABSTRACT_TRIAL
    /* TRIAL DELETION, ABSTRACTED: S is any subset of the held candidates.
     * Safety must not depend on how good trial deletion's guess is, so
     * this checks the validation on its own, for every S.  Without trial
     * deletion the count read for re-buffering is not taken: re-buffering
     * is a free choice below.                                            */
    atomic {
        if
        :: sub & BIT(1) -> S = S | BIT(1)
        :: true
        fi;
        if
        :: sub & BIT(2) -> S = S | BIT(2)
        :: true
        fi;
        if
        :: sub & BIT(3) -> S = S | BIT(3)
        :: true
        fi;
        todo = 0;
        EV("C: S = "); print_set(S)
    }
#else
    /* TRIAL DELETION (concurrent).  Pop a node: read its count (less the
     * hold), then traverse it (load its slot).  A tracked child not yet in
     * the table is held with ouro_incref, load-then-increment, protected
     * by a grace period: the collector is online from the load to the
     * increment.  Every edge found counts as an in-edge of its target.
     * ABSTRACTION: nodes are popped in index order; a child's increment
     * and its mark_node are one step (a mutator action in between comes
     * before W1 either way, and the mark would erase its flags).          */
    do
    :: todo == 0 -> break
    :: todo != 0 ->
        d_step {
            x = 0;
            next_member(x, todo);
            todo = todo & ~BIT(x);
            assert(!freed[x]);
            tdcnt[x] = rc[x];
            EV("C: trial deletion reads count(%d) = %d\n", x, rc[x])
        }
        d_step {
            assert(!freed[x]);
            c = slot[x];
            edge[x] = c;
            EV("C: trial deletion reads edge %d -> %d\n", x, c);
            if
            :: c != NIL -> ine[c]++
            :: else
            fi;
            if
            :: c != NIL && (sub & BIT(c)) == 0 ->
                online = online | BIT(COLL)     /* gp_online, then load */
            :: else -> c = 0
            fi;
            x = 0
        }
        if
        :: c != 0 ->
            d_step {
                assert(!freed[c]);  /* the grace period protects it */
                rc[c]++;
                EV("C: holds %d\n", c);
                online = online & ~BIT(COLL);
                leave_goals(COLL);
                in_gc[c] = 1; touched[c] = 0; dirty[c] = 0;
                sub = sub | BIT(c);
                todo = todo | BIT(c);
                c = 0
            }
        :: else
        fi
    od;
    skip;   /* (a break may not jump into a d_step) */

    /* White iff count - hold == in_edges; the rest are black roots, and
     * black spreads (scan_black).  ABSTRACTION: black spreads along the
     * edges read above, where scan_black reads the slots once more: either
     * way S is a guess that the validation must not trust (and
     * ABSTRACT_TRIAL checks it for every S).  Side-table work only.       */
    d_step {
        black = 0;
        x = 1;
        do
        :: x < NOBJ ->
            if
            :: (sub & BIT(x)) && tdcnt[x] - 1 != ine[x] ->
                black = black | BIT(x)
            :: else
            fi;
            ine[x] = 0;
            x++
        :: else -> break
        od;
        x = 0;
        spread_black(black, sub, i, j);
        S = sub & ~black;
        EV("C: trial deletion: S = "); print_set(S);
        black = 0;
        edge[1] = 0; edge[2] = 0; edge[3] = 0
    }
#endif

#ifdef BROKEN_NO_VALIDATION
    /* BROKEN: trust trial deletion and free S. */
    Spp = S;
#else
    if
    :: S == 0 -> Spp = 0
    :: S != 0 ->
        /* (4. MARK: done at the holds; flags have accumulated since.)
         * 5. HANDSHAKE W1                                                */
        EV("C: W1 starts\n");
        handshake();
        EV("C: W1 ends\n");

        /* 6. VALIDATE (pass 3): traverse every member (load its slot) and
         * record the edges between members; then, member by member, read
         * its flags and its count (blacken_if(miscounted)).  Each step
         * races with the mutators.
         * ABSTRACTION: a member's flags and count are read in one step.
         * The code reads only the count here (and QUEUED, not modelled)
         * and leaves the flags to refine.  Flags are never cleared
         * between the hold and the free, and refine reads them again
         * after W2, so reading them here, earlier, later or not at all
         * changes nothing (a flag seen here is seen by refine, and black
         * spreads the same way).                                         */
        do
        :: MORE(x, S) ->
            d_step {
                next_member(x, S);
                assert(!freed[x]);
                c = slot[x];
                if
                :: c != NIL && (S & BIT(c)) -> edge[x] = c
                :: else -> edge[x] = NIL
                fi;
                EV("C: pass 3 reads edge %d -> %d\n", x, c);
                c = 0
            }
        :: else -> break
        od;
        x = 0;
        do
        :: MORE(x, S) ->
            d_step {
                next_member(x, S);
                assert(!freed[x]);
                flag[x] = touched[x] | dirty[x];
                vcnt[x] = rc[x];
                EV("C: pass 3 reads count(%d) = %d, TOUCHED %d, DIRTY %d\n",
                   x, rc[x], touched[x], dirty[x])
            }
        :: else -> break
        od;
        x = 0;

        /* Black roots: c(x) - holds(x) != internal(x), or TOUCHED or
         * DIRTY; black spreads along the recorded edges; the rest is S'.
         * This is tau, the end of the pass.                              */
        d_step {
            black = 0;
            x = 1;
            do
            :: x < NOBJ ->
                if
                :: S & BIT(x) ->
                    c = 0;              /* internal(x) */
                    i = 1;
                    do
                    :: i < NOBJ ->
                        if
                        :: (S & BIT(i)) && edge[i] == x -> c++
                        :: else
                        fi;
                        i++
                    :: else -> break
                    od;
                    if
                    :: vcnt[x] - 1 != c || flag[x] -> black = black | BIT(x)
                    :: else
                    fi
                :: else
                fi;
                x++
            :: else -> break
            od;
            spread_black(black, S, i, j);
            Sp = S & ~black;
            EV("C: tau: S' = "); print_set(Sp);
            black = 0; c = 0; x = 0;
            vcnt[1] = 0; vcnt[2] = 0; vcnt[3] = 0;
            flag[1] = 0; flag[2] = 0; flag[3] = 0
        }

#ifndef BROKEN_NO_W2
        /* 7. HANDSHAKE W2.  ABSTRACTION: skipped when S' is empty (then
         * nothing is freed, and the wait only delays the release).        */
        if
        :: Sp != 0 -> EV("C: W2 starts\n"); handshake(); EV("C: W2 ends\n")
        :: else
        fi;
#endif

#ifndef BROKEN_NO_REFINE
        /* 8. REFINE: members of S' now TOUCHED or DIRTY are black roots;
         * black spreads along the recorded edges; the rest is S''.
         * ABSTRACTION: the flags of all members are read in one step.
         * Flags are never cleared until the free, so reading them all at
         * the first read sees a subset of what reading them one by one
         * would: S'' can only get larger.                                */
        d_step {
            black = 0;
            x = 1;
            do
            :: x < NOBJ ->
                if
                :: (Sp & BIT(x)) ->
                    assert(!freed[x]);
                    if
                    :: touched[x] || dirty[x] -> black = black | BIT(x)
                    :: else
                    fi
                :: else
                fi;
                x++
            :: else -> break
            od;
            spread_black(black, S, i, j);
            Spp = Sp & ~black;
            EV("C: refine: S'' = "); print_set(Spp);
            black = 0; x = 0
        }
#else
        /* BROKEN: no refine */
        Spp = Sp;
#endif
        d_step { edge[1] = 0; edge[2] = 0; edge[3] = 0; Sp = 0 }
        /* 9. FINALIZE: not modelled (no type has a finalizer). */
    fi;
#endif

    /* 10. FREE (free_garbage), member by member: take it out of the set
     * if it was buffered again (ouro__cand_forget), free it (the safety
     * assertions are in assert_dead) and release its reference to a
     * non-member at once (G4); a referent that dies is freed in turn (the
     * dead list).  ABSTRACTION: one step per member, where the code first
     * releases every member's references, then frees them all.  Members
     * are unreachable (asserted), so only the releases are visible, and
     * they happen in the same order.                                     */
    do
    :: MORE(x, Spp) ->
        d_step {
            next_member(x, Spp);
#ifdef SANITY_FREES_CYCLE
            /* Non-vacuity: SPIN must be able to violate this, i.e. reach
             * a state where the collector frees a member that points to
             * another member (a garbage cycle or chain in S''). */
            assert(slot[x] == NIL || (Spp & BIT(slot[x])) == 0);
#endif
            assert(!freed[x]);
            EV("C: frees member %d\n", x);
            if
            :: buffered[x] ->
                assert(in_set[x]);  /* else ouro__fatal */
                in_set[x] = 0;
                buffered[x] = 0
            :: else
            fi;
            assert_dead(x, Spp);
            freed[x] = 1;
            rc[x] = 0;
            in_gc[x] = 0; touched[x] = 0; dirty[x] = 0;
            gs = slot[x];
            slot[x] = NIL;
            if
            :: gs != NIL && (Spp & BIT(gs)) == 0 ->
                dead = 0;
                decref_now(gs);
                free_dead()
            :: else
            fi;
            gs = 0
        }
    :: else -> break
    od;
    x = 0;

    /* RELEASE the rest (release_rest), per held object: clear its marks,
     * buffer it again if it is a candidate whose count moved since trial
     * deletion read it, then drop the hold at once without buffering
     * (ouro__release_hold); at zero, object_died.
     * ABSTRACTION: the first three are one step.  Between them the object
     * is no longer examined, so flags no longer matter, and a mutator's
     * buffering in between leaves the same state as after.               */
    d_step { sub = sub & ~Spp; S = 0; Spp = 0 }
    do
    :: MORE(x, sub) ->
        d_step {
            next_member(x, sub);
            assert(!freed[x]);
            assert(rc[x] > 0);
            in_gc[x] = 0; touched[x] = 0; dirty[x] = 0;
#ifdef ABSTRACT_TRIAL
            if
            :: cand & BIT(x) -> maybe_buffer(x)
            :: true
            fi
#else
            if
            :: (cand & BIT(x)) && rc[x] != tdcnt[x] -> maybe_buffer(x)
            :: else
            fi
#endif
            ;
            rc[x]--;
            EV("C: releases hold on %d: count %d\n", x, rc[x]);
            dy = (rc[x] == 0)
        }
        if
        :: dy -> object_died(x, fr, cl)
        :: else
        fi;
        d_step { dy = 0; tdcnt[x] = 0 }
    :: else -> break
    od;
    skip;   /* (a break may not jump into a d_step) */
    d_step { x = 0; sub = 0; cand = 0 }

    /* END: gc_active = 0; threads stop diverting at their next quiescent
     * point.                                                             */
    gc_active = 0

    od
}

/* ------------------------------------------------------------------ */
/* Initial heap                                                         */
/* ------------------------------------------------------------------ */

/*   root -> 1 <-> 2      3 -> NIL      mutator 0 holds 2, mutator 1 holds 3
 *   rc[1] = 2 (root, 2)   rc[2] = 2 (1, mutator 0)   rc[3] = 1 (mutator 1)
 * A live cycle, reachable from the root and from a thread.  The mutators
 * can cut the root's edge, drop, load and re-link (garbage cycles, chains,
 * self-loops, 3 joining or leaving the cycle) while the collector runs.
 * The candidate set starts as INITSET (earlier decrements that left the
 * counts positive); later decrements add to it.                          */
init {
    atomic {
        slot[ROOT] = 1;
        slot[1] = 2;
        slot[2] = 1;
        slot[3] = NIL;
        rc[1] = 2;
        rc[2] = 2;
        rc[3] = 1;
        held[0] = BIT(2);
        held[1] = BIT(3);
        gi = 1;
        do
        :: gi < NOBJ ->
#ifdef ANYSET
            if
            :: buffered[gi] = 1; in_set[gi] = 1
            :: skip
            fi;
#else
            if
            :: INITSET & BIT(gi) -> buffered[gi] = 1; in_set[gi] = 1
            :: else
            fi;
#endif
            gi++
        :: else -> break
        od;
        gi = 0;
        do
        :: gi < NMUT * NPT -> pend_obj[gi] = NIL; gi++
        :: else -> break
        od;
        gi = 0;
        run mutator(0);
        run mutator(1);
        run collector()
    }
}
