/*
 * collector.pml - SPIN model of ouro's concurrent cycle collector.
 *
 * Specification: docs/collector.md (the protocol and its safety argument)
 * and docs/grace-periods.md (deferred decrements, grace periods).  Each
 * part below names the real-code step it models; every abstraction is
 * marked ABSTRACTION and argued where it is made.  README.md summarises.
 *
 * Checked property (safety), as assertions:
 *   - an object is freed (by reference counting or by the collector) only
 *     when it is unreachable: not held (counted) or borrowed by a mutator,
 *     not reachable along slots from those or from the global root, and not
 *     referenced from a slot of any object that stays alive;
 *   - no decrement of it is still pending when it is freed;
 *   - no freed object is ever used: loaded from, stored into, incremented,
 *     decremented, or read by the collector.
 *
 * Switches (spin -DNAME ...):
 *   BROKEN_NO_VALIDATION  free S right after trial deletion: no mark, no
 *                         handshakes, no validation, no refine.  SPIN must
 *                         find an assertion violation.
 *   BROKEN_NO_DIRTY       the write barrier never sets DIRTY.
 *   BROKEN_NO_TOUCHED     increments never set TOUCHED.
 *   BROKEN_NO_W2          no handshake W2 (refine right after pass 3).
 *   BROKEN_NO_REFINE      no refine (S'' = S').
 *   ABSTRACT_TRIAL        S is any subset of the held objects instead of
 *                         the result of trial deletion (checks validation
 *                         alone, for every S).
 *   BUDGET0=n, BUDGET1=n  heap actions of mutator 0 / 1 (default 2 / 1).
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
#define NTHR    3
#define MUTMASK 3           /* the mutators' bits in a thread set       */

#ifndef BUDGET0
#define BUDGET0 2
#endif
#ifndef BUDGET1
#define BUDGET1 1
#endif
#ifndef NCOLL
#define NCOLL   1
#endif

/* Room for pending deferred decrements, per thread.  A mutator records at
 * most one per heap action, the collector one per hold (at most 3).      */
#define NPT     4
#if BUDGET0 > NPT || BUDGET1 > NPT
#error "a mutator's budget must be at most NPT"
#endif

#define BIT(x)  (1 << (x))

/* ------------------------------------------------------------------ */
/* The heap                                                            */
/* ------------------------------------------------------------------ */

/* ABSTRACTION: each object has one reference slot (a record with one
 * slot).  Enough for cycles (1->2->1, self loops, 1->2->3->1), chains,
 * and an object that is both in a cycle's subgraph and outside S.
 * Slots hold NIL or a tracked object 1..3; the root (object 0, an
 * immortal global that every thread can read) is never stored anywhere.  */
byte slot[NOBJ];

/* The applied reference count.  ABSTRACTION: ouro's biased count
 * (ob_ref_local + ob_ref_shared, merges, the merge queue) is one atomic
 * counter; reading it is one atomic load.  It counts references from
 * slots, mutators' counted references, collector holds, and references
 * whose deferred decrement is still pending.  The root's is not kept.    */
byte rc[NOBJ];

bit freed[NOBJ];

/* ob_gc flags.  ABSTRACTION: IN_GC and bit 31 of ob_tid are one flag.
 * Both are set before W1 starts, so an increment observes them the same
 * way relative to its thread's quiescent point in W1, which is all the
 * argument uses (owner fast path: bit 31; other threads: IN_GC).         */
bit in_gc[NOBJ];
bit touched[NOBJ];
bit dirty[NOBJ];

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
 * wr_seq, which is >= every goal taken before).  All steps are
 * sequentially consistent; the release/acquire pairs and the two seq_cst
 * fences of gp.c are what make the real code behave like this.
 *
 * online: the mutators are online throughout (ABSTRACTION: no blocking
 * regions, no detach).  The collector is online only from loading a child
 * pointer until it holds it (trial deletion), the one place where it needs
 * a grace period's protection; being offline everywhere else is the
 * weakest assumption about it, since it then never delays a grace period.  */
byte online = MUTMASK;

/* The collector's handshake (W1, W2): the mutators still to pass.        */
byte hs_wait;

/* Deferred decrements: per thread t, a FIFO queue in
 * pend_obj[t*NPT ..], compact (no holes), with each entry's goal in
 * pend_wait.  NIL marks the end of the queue.
 * ABSTRACTION (over-approximation): a decrement's batch is sealed and its
 * goal taken as soon as the decrement is recorded, not at the thread's
 * next safepoint or when the batch fills.  The goal is then the same or
 * earlier, so every application time the real code allows is still
 * allowed, and G1 holds (the goal is taken after the decrement is
 * recorded).  The head is applied once its goal is reached, at any time
 * (the real code applies at safepoints and in decref_slow).  Goals only
 * lose threads, and a newer goal starts from a superset (the collector can
 * only have gone offline in between, which removed it from the older one),
 * so goals along a queue are increasing: FIFO order loses nothing.        */
byte pend_obj[NTHR * NPT];
byte pend_wait[NTHR * NPT];

/* Scratch for d_step computations; each one resets what it used to 0, so
 * they never tell states apart.                                          */
byte reach, gi, gj, dead, gx, gs, ga;

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* Thread t passes a quiescent point (ouro__gp_quiescent) or goes offline:
 * it leaves every goal, the handshake's included.  Inside an atomic step. */
inline leave_goals(t)
{
    gi = 0;
    do
    :: gi < NTHR * NPT -> pend_wait[gi] = pend_wait[gi] & ~BIT(t); gi++
    :: else -> break
    od;
    hs_wait = hs_wait & ~BIT(t);
    gi = 0
}

/* ouro_decref(o) by thread t: append to t's queue; the goal (see above) is
 * the set of threads online now.  Recording is thread-local: no other
 * thread can observe it until the goal is reached.  Inside an atomic
 * step.                                                                  */
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
    assert(x != ROOT && !freed[x]);
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
    :: gi < NTHR * NPT ->
        /* SAFETY: no decrement of x is pending (it would be applied to
         * freed memory). */
        assert(pend_obj[gi] != x);
        gi++
    :: else -> break
    od;
    gi = 0
}

/* Free x0 and release its references at once (G4: nobody can read a dead
 * object, so no grace period is needed; runtime/dealloc.c).  A referent
 * whose count reaches zero is freed in turn (the dead list).  Slots that
 * point into `dying` are just cleared: the collector frees those itself.
 * ABSTRACTION: the cascade is one indivisible step.  It touches only
 * objects that are unreachable (asserted) and counts that no thread can
 * observe; the real code frees the dead list in slices.                 */
inline free_cascade(x0, dying)
{
    dead = BIT(x0);
    do
    :: dead != 0 ->
        gx = 1;
        do
        :: (dead & BIT(gx)) == 0 -> gx++
        :: else -> break
        od;
        dead = dead & ~BIT(gx);
        assert_dead(gx, dying);
        freed[gx] = 1;
        rc[gx] = 0;
        in_gc[gx] = 0;
        touched[gx] = 0;
        dirty[gx] = 0;
        gs = slot[gx];
        slot[gx] = NIL;
        if
        :: gs != NIL && (dying & BIT(gs)) == 0 ->
            assert(!freed[gs]);     /* no use of a freed object */
            assert(rc[gs] > 0);     /* no underflow */
            rc[gs]--;
            if
            :: rc[gs] == 0 -> dead = dead | BIT(gs)
            :: else
            fi
        :: else
        fi;
        gs = 0;
        gx = 0
    :: else -> break
    od;
    dead = 0
}

/* Apply a decrement whose goal is reached (ouro__apply_decref). */
inline apply_decref(o)
{
    assert(o != ROOT && o != NIL);
    assert(!freed[o]);              /* no use of a freed object */
    assert(rc[o] > 0);              /* no underflow */
    rc[o]--;
    if
    :: rc[o] == 0 -> free_cascade(o, 0)
    :: else
    fi
}

/* Thread t applies the head of its queue (ouro__decbuf_apply_ready).    */
#define HAS_READY(t)   (pend_obj[(t)*NPT] != NIL && pend_wait[(t)*NPT] == 0)
#define HAS_PENDING(t) (pend_obj[(t)*NPT] != NIL)

inline apply_one_ready(t)
{
    d_step {
        ga = pend_obj[t * NPT];
        gj = t * NPT;
        do
        :: gj < (t + 1) * NPT - 1 ->
            pend_obj[gj] = pend_obj[gj + 1];
            pend_wait[gj] = pend_wait[gj + 1];
            gj++
        :: else -> break
        od;
        pend_obj[gj] = NIL;
        pend_wait[gj] = 0;
        gj = 0;
        apply_decref(ga);
        ga = 0
    }
}

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

/* Each mutator makes at most BUDGETm heap actions (LOAD, STORE, DROP).
 * ACQUIRE (the increment that follows a load), safepoints and applying
 * ready decrements are not counted, and it goes on doing those forever.
 * Every choice and every interleaving with the other mutator and with the
 * collector is explored.
 *
 * Increments (ACQUIRE, and the first step of STORE) follow the owner's
 * inline path, the most permissive order: observe ob_tid bit 31 / IN_GC,
 * increment, then (slow path) set TOUCHED.  Another thread increments
 * first and checks IN_GC after, which only adds TOUCHED flags set
 * spuriously after the mark; those only make objects black.             */
proctype mutator(byte me)
{
    byte budget = (me == 0 -> BUDGET0 : BUDGET1);
    byte p = NIL, v = NIL, old = NIL;
    bit f;

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
        assert(!freed[p]);
        f = in_gc[p]
       }
       atomic { assert(!freed[p]); rc[p]++; held[me] = held[me] | BIT(p) }
#ifndef BROKEN_NO_TOUCHED
       atomic { if :: f -> touched[p] = 1 :: else fi; f = 0; p = NIL }
#else
       atomic { f = 0; p = NIL }
#endif

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
        fi;
        if
        :: v != NIL -> assert(!freed[v]); f = in_gc[v]
        :: else
        fi
       }
       if
       :: v != NIL ->
            atomic { assert(!freed[v]); rc[v]++ }
#ifndef BROKEN_NO_TOUCHED
            atomic { if :: f -> touched[v] = 1 :: else fi; f = 0 }
#else
            f = 0
#endif
       :: else
       fi;
       atomic {
        assert(!freed[p]);          /* no use of a freed object */
        old = slot[p];
        slot[p] = v;
        v = NIL
       }
       atomic {
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
        held[me] = held[me] & ~BIT(p);
        record(me, p);
        p = NIL
       }

    /* SAFEPOINT: ouro_safepoint, a quiescent point.  The thread forgets
     * its borrowed pointers (the user's contract), and ouro__gp_quiescent
     * removes it from every goal, the collector's handshake included.
     * ABSTRACTION: handing over candidate buffers (W0) is not modelled.   */
    :: d_step { borrowed[me] = 0; leave_goals(me) }

    /* APPLY the oldest pending decrement once its goal is reached; may
     * free objects, which cascades.                                      */
    :: HAS_READY(me) -> apply_one_ready(me)
    od
}

/* ------------------------------------------------------------------ */
/* The collector (docs/collector.md, "The algorithm, one collection")  */
/* ------------------------------------------------------------------ */

/* x := the smallest member of `set` above x (x < NOBJ on entry; the
 * caller checks that there is one).                                      */
inline next_member(x, set)
{
    x++;
    do
    :: (set & BIT(x)) == 0 -> x++
    :: else -> break
    od
}
#define MORE(x, set)    (((set) >> ((x) + 1)) != 0)

/* black := its closure along the edges edge[] within `set` (i, j: loop
 * counters, left at 0).                                                  */
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

/* A handshake: a grace period the collector starts and waits for,
 * offline, until every mutator online at its start has passed a
 * quiescent point.                                                       */
inline handshake()
{
    hs_wait = online & MUTMASK;
    (hs_wait == 0)
}

proctype collector()
{
    byte ncoll = 0;
    byte sub, todo, S, Sp, Spp, black, x, c, i, j;
    byte edge[NOBJ];    /* edges read (trial deletion, then pass 3)    */
    byte cnt[NOBJ];     /* counts read                                  */
    bit flag[NOBJ];     /* TOUCHED | DIRTY read in pass 3               */
    short scratch;

    do
    :: ncoll == NCOLL -> break
    :: ncoll < NCOLL ->

    /* 1-2. CANDIDATES.  ABSTRACTION: buffering and handshake W0 are not
     * modelled.  Any set of live tracked objects may be the candidates
     * (an over-approximation of what the buffers can hold); the buffer's
     * reference is the collector's hold on each, taken atomically with
     * the choice (the object is alive then, as when the applying thread
     * buffered it).  The empty choice is an empty collection.            */
    atomic {
        ncoll++;
        if
        :: !freed[1] -> rc[1]++; sub = sub | BIT(1)
        :: true
        fi;
        if
        :: !freed[2] -> rc[2]++; sub = sub | BIT(2)
        :: true
        fi;
        if
        :: !freed[3] -> rc[3]++; sub = sub | BIT(3)
        :: true
        fi;
        todo = sub
    }

#ifdef ABSTRACT_TRIAL
    /* 3. TRIAL DELETION, ABSTRACTED: S is any subset of the held objects.
     * Safety must not depend on how good trial deletion's guess is, so
     * this checks validation on its own, for every S.                    */
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
        todo = 0
    }
#else
    /* 3. TRIAL DELETION, concurrent with the mutators.
     * Walk the tracked subgraph from the candidates: load each slot of a
     * held object (traverse), and hold (increment) each new child before
     * reading its count.  Load-then-increment is protected by a grace
     * period: the collector comes online (gp_online) before the load and
     * goes offline after the increment.                                  */
    do
    :: todo == 0 -> break
    :: atomic {
        todo != 0 ->
        x = 0;
        next_member(x, todo);
        todo = todo & ~BIT(x);
        assert(!freed[x]);          /* holds keep it alive */
        c = slot[x];
        edge[x] = c;
        if
        :: c != NIL && (sub & BIT(c)) == 0 ->
            online = online | BIT(COLL)
        :: else -> c = NIL
        fi;
        x = 0
       }
       if
       :: c != NIL ->
            atomic {
                assert(!freed[c]);  /* the grace period protects it */
                rc[c]++;
                sub = sub | BIT(c);
                todo = todo | BIT(c);
                online = online & ~BIT(COLL);
                leave_goals(COLL);
                c = 0
            }
       :: else -> c = 0
       fi
    od;

    /* Read each count, racing with the mutators. */
    do
    :: MORE(x, sub) ->
        d_step { next_member(x, sub); assert(!freed[x]); cnt[x] = rc[x] }
    :: else -> break
    od;
    x = 0;

    /* mark gray, scan, collect white: on the side table only (no shared
     * state).  scratch = count - hold - edges from the subgraph; scratch
     * > 0 is a black root; black spreads along the edges read; the rest
     * is S.                                                              */
    d_step {
        black = 0;
        x = 1;
        do
        :: x < NOBJ ->
            if
            :: sub & BIT(x) ->
                scratch = cnt[x] - 1;
                i = 1;
                do
                :: i < NOBJ ->
                    if
                    :: (sub & BIT(i)) && edge[i] == x -> scratch--
                    :: else
                    fi;
                    i++
                :: else -> break
                od;
                if
                :: scratch > 0 -> black = black | BIT(x)
                :: else
                fi
            :: else
            fi;
            x++
        :: else -> break
        od;
        spread_black(black, sub, i, j);
        S = sub & ~black;
        black = 0; scratch = 0; x = 0;
        edge[1] = 0; edge[2] = 0; edge[3] = 0;
        cnt[1] = 0; cnt[2] = 0; cnt[3] = 0
    }
#endif

#ifdef BROKEN_NO_VALIDATION
    /* BROKEN: trust trial deletion and free S. */
    Spp = S;
#else
    if
    :: S == 0 -> Spp = 0
    :: S != 0 ->
        /* 4. MARK each member of S: set IN_GC, clear TOUCHED and DIRTY (one
         * RMW of ob_gc), and bit 31 of ob_tid; 5. then start HANDSHAKE W1.
         * ABSTRACTION: all marks and the start of W1 are one step.  Any
         * mutator action between a mark and the start of W1 comes before
         * that mutator's quiescent point in W1, exactly as if it came
         * after the start; an action before a mark that does not see it
         * comes before that quiescent point too.                         */
        atomic {
            x = 1;
            do
            :: x < NOBJ ->
                if
                :: S & BIT(x) ->
                    assert(!freed[x]);
                    in_gc[x] = 1; touched[x] = 0; dirty[x] = 0
                :: else
                fi;
                x++
            :: else -> break
            od;
            x = 0;
            hs_wait = online & MUTMASK
        }
        (hs_wait == 0);             /* W1 ends */

        /* 6. VALIDATE (pass 3).  Per member: load its slot and record the
         * edge if it points to a member; then read its count and flags.
         * Each step races with the mutators.
         * ABSTRACTION: count and flags are read in one step.  Flags only
         * get set after the mark, and refine reads them again after W2,
         * so reading them here earlier or later changes nothing (a flag
         * seen here is seen by refine, and black spreads the same way).  */
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
                c = 0
            }
            d_step {
                assert(!freed[x]);
                cnt[x] = rc[x];
                flag[x] = touched[x] | dirty[x]
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
                    scratch = 0;        /* internal(x) */
                    i = 1;
                    do
                    :: i < NOBJ ->
                        if
                        :: (S & BIT(i)) && edge[i] == x -> scratch++
                        :: else
                        fi;
                        i++
                    :: else -> break
                    od;
                    if
                    :: cnt[x] - 1 != scratch || flag[x] ->
                        black = black | BIT(x)
                    :: else
                    fi
                :: else
                fi;
                x++
            :: else -> break
            od;
            spread_black(black, S, i, j);
            Sp = S & ~black;
            black = 0; scratch = 0; x = 0;
            cnt[1] = 0; cnt[2] = 0; cnt[3] = 0;
            flag[1] = 0; flag[2] = 0; flag[3] = 0
        }

#ifndef BROKEN_NO_W2
        /* 7. HANDSHAKE W2 */
        if
        :: Sp != 0 -> handshake()
        :: else
        fi;

#endif
#ifndef BROKEN_NO_REFINE
        /* 8. REFINE: members of S' now TOUCHED or DIRTY are black roots;
         * black spreads along the recorded edges; the rest is S''.
         * ABSTRACTION: the flags of all members are read in one step.
         * Flags are never cleared between W1 and the free, so reading them
         * all at the first read sees a subset of what reading them one by
         * one would: S'' can only get larger.                            */
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

    /* 10. FREE each member of S'' (the safety assertions are in
     * assert_dead): unmark it, release its references to non-members at
     * once, free it.                                                     */
    do
    :: MORE(x, Spp) ->
        d_step { next_member(x, Spp); free_cascade(x, Spp) }
    :: else -> break
    od;

    /* Unmark everything else, and drop every other hold with an ordinary
     * deferred decrement (thread-local records: one step).  The collector
     * is offline: the goal is the set of mutators.                       */
    atomic {
        x = 1;
        do
        :: x < NOBJ ->
            if
            :: S & BIT(x) & ~Spp -> in_gc[x] = 0
            :: else
            fi;
            if
            :: sub & BIT(x) & ~Spp -> record(COLL, x)
            :: else
            fi;
            x++
        :: else -> break
        od;
        x = 0; sub = 0; todo = 0; S = 0; Spp = 0
    }

    /* Apply the collector's decrements as their goal is reached (it waits
     * for them, offline, like ouro_flush).                               */
    do
    :: HAS_READY(COLL) -> apply_one_ready(COLL)
    :: !HAS_PENDING(COLL) -> break
    od

    od
}

/* ------------------------------------------------------------------ */
/* Initial heap                                                         */
/* ------------------------------------------------------------------ */

/*   root -> 1 <-> 2      3 -> NIL      mutator 0 holds 2, mutator 1 holds 3
 *   rc[1] = 2 (root, 2)   rc[2] = 2 (1, mutator 0)   rc[3] = 1 (mutator 1)
 * A live cycle, reachable from the root and from a thread.  The mutators
 * can cut the root's edge, drop, load and re-link (garbage cycles, chains,
 * self-loops, 3 joining or leaving the cycle) while the collector runs.  */
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
        gi = 0;
        do
        :: gi < NTHR * NPT -> pend_obj[gi] = NIL; gi++
        :: else -> break
        od;
        gi = 0;
        run mutator(0);
        run mutator(1);
        run collector()
    }
}
