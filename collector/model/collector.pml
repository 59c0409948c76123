/*
 * collector.pml - SPIN model of ouro's concurrent cycle collector.
 *
 * Specification: docs/collector.md (the protocol and its safety argument)
 * and docs/grace-periods.md (deferred decrements, grace periods).  What is
 * modelled, what is abstracted and why is stated next to each part below
 * and summarised in README.md.
 *
 * Checked property (safety), as assertions:
 *   - an object is freed (by reference counting or by the collector) only
 *     when it is unreachable: not the global root, not held (counted) or
 *     borrowed by any mutator, not reachable along slots from any of those,
 *     and not referenced from the slot of any object that stays alive;
 *   - no freed object is ever used: loaded from, stored into, incremented,
 *     decremented, or read by the collector;
 *   - no deferred decrement is still pending on an object when it is freed
 *     (it would be applied to freed memory later).
 *
 * Switches (spin -DNAME ...):
 *   BROKEN_NO_VALIDATION  free S right after trial deletion: no mark, no
 *                         handshakes, no validation, no refine.  SPIN must
 *                         find an assertion violation.
 *   BROKEN_NO_DIRTY       the write barrier never sets DIRTY.
 *   BROKEN_NO_TOUCHED     increments never set TOUCHED.
 *   BROKEN_NO_W2          skip handshake W2 and the refine step.
 *   BROKEN_NO_REFINE      do W2 but not the refine step.
 *   BUDGET=n              heap actions per mutator (default 3).
 *   NCOLL=n               collections run by the collector (default 1).
 */

/* ------------------------------------------------------------------ */
/* Sizes                                                               */
/* ------------------------------------------------------------------ */

#define NOBJ    4           /* objects 0..3; 0 is the global root       */
#define ROOT    0
#define NIL     4           /* the null pointer                         */
#define NMUT    2           /* mutator threads 0..NMUT-1                */
#define COLL    NMUT        /* the collector's thread index (2)         */
#define NTHR    (NMUT + 1)
#define MUTMASK 3           /* bits of the mutators in a thread mask    */

#ifndef BUDGET
#define BUDGET  3           /* heap actions (load, acquire, store, drop)
                               per mutator; safepoints and applying ready
                               decrements are free                       */
#endif
#ifndef NCOLL
#define NCOLL   1
#endif

/* Pending deferred decrements per thread.  A mutator records at most one
 * per heap action, the collector at most one per hold (3 tracked objects),
 * so NPT >= max(BUDGET, 3) never overflows (asserted in record()).     */
#define NPT     4
#if BUDGET > NPT
#error "BUDGET must be at most NPT (4)"
#endif

#define BIT(x)  (1 << (x))

/* ------------------------------------------------------------------ */
/* The heap                                                            */
/* ------------------------------------------------------------------ */

/* Each object has one reference slot (a record with one slot, or the one
 * slot of a list that matters).  Slots hold NIL or a tracked object 1..3:
 * the root is never stored anywhere (no thread ever holds it).          */
byte slot[NOBJ];

/* The applied reference count, ob_ref_local + ob_ref_shared of the real
 * header.  ABSTRACTION: biased counting (owner/shared halves, merges) is
 * one atomic counter here.  Counts references from slots, mutators'
 * counted references, collector holds, and references whose deferred
 * decrement is still pending.  The root is immortal: its count is not
 * kept.                                                                 */
byte rc[NOBJ];

bit freed[NOBJ];
/* ob_gc flags.  ABSTRACTION: IN_GC and bit 31 of ob_tid are one flag; the
 * collector sets both before W1, so each increment observes both the same
 * way relative to its thread's quiescent point in W1.                  */
bit in_gc[NOBJ];
bit touched[NOBJ];
bit dirty[NOBJ];

/* Mutator roots.  held[m]: bitmask of objects m holds a counted reference
 * to (at most one each); borrowed[m]: the one pointer m loaded and has not
 * incremented (valid until m's next quiescent point), or NIL.           */
byte held[NMUT];
byte borrowed[NMUT];

/* ------------------------------------------------------------------ */
/* Grace periods                                                       */
/* ------------------------------------------------------------------ */

/* ABSTRACTION of wr_seq / slot.seq / goals (docs/grace-periods.md).  A goal
 * g taken by ouro__gp_advance is reached once every slot is offline or has
 * seq >= g, i.e. once every thread online when g was taken has passed a
 * quiescent point after it or gone offline.  We record that directly: a
 * goal is the set of threads still to pass (a bitmask), fixed when the goal
 * is taken as the set of online threads; a quiescent point or going
 * offline removes the thread from every goal; the goal is reached when the
 * set is empty.  A thread coming online is not added to existing goals
 * (gp_online stores the current wr_seq, >= every goal taken before).  This
 * is the same relation without the unbounded counters.
 *
 * online: bit m for each mutator (mutators are online throughout: the
 * model has no blocking regions or detach), bit COLL while the collector
 * is online, which it is only between loading a child pointer and taking
 * its hold (see the collector).                                         */
byte online = MUTMASK;

/* Handshake W1 / W2: the goal of the collector's grace period.          */
byte hs_wait;

/* Deferred decrements.  pend_obj[t*NPT+i] is the object (NIL: free entry)
 * and pend_wait[t*NPT+i] its goal, for thread t.
 * ABSTRACTION (over-approximation): a decrement's batch is sealed, and its
 * goal taken, at once when it is recorded instead of at the thread's next
 * safepoint or when the batch fills.  The goal is then taken earlier, so
 * the entry may become ready earlier; every application time the real code
 * allows is still allowed (a thread online at the later seal and not
 * passing a quiescent point in between is in the earlier goal too).  G1
 * holds: the goal is taken after the decrement is recorded.  Likewise,
 * ready entries are applied in any order and at any time, not only in FIFO
 * order at safepoints.                                                 */
byte pend_obj[NTHR * NPT];
byte pend_wait[NTHR * NPT];

/* Scratch for the d_step computations below.  Every d_step that uses them
 * resets them to 0 before it ends, so they never distinguish states.     */
byte reach, gi, gj, dead, gx, gs, ga;

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* A quiescent point of thread t (ouro__gp_quiescent), or t going offline:
 * t leaves every goal: pending decrements and the handshake.  Used inside
 * the caller's atomic step.                                             */
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

/* ouro_decref(o) by thread t: append to the current batch.  With the
 * over-approximation above, the batch is sealed at once: goal = the
 * threads online now.  Runs inside the caller's atomic step.            */
inline record(t, o)
{
    gi = t * NPT;               /* append at the tail of t's queue */
    do
    :: gi < (t + 1) * NPT && pend_obj[gi] != NIL -> gi++
    :: else -> break
    od;
    assert(gi < (t + 1) * NPT);     /* NPT large enough */
    pend_obj[gi] = o;
    pend_wait[gi] = online;
    gi = 0
}

/* reach := objects reachable from the root and from every mutator's
 * counted and borrowed references, along slots of objects not freed.
 * Collector holds are not roots: the collector frees objects it holds.   */
inline compute_reach()
{
    reach = BIT(ROOT);
    gi = 0;
    do
    :: gi < NMUT ->
        reach = reach | held[gi];
        if
        :: borrowed[gi] != NIL -> reach = reach | BIT(borrowed[gi])
        :: else
        fi;
        gi++
    :: else -> break
    od;
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

/* The safety assertions at the moment x is freed.  `dying` is the set of
 * objects being freed together with x (the collector's S''), whose slots
 * may still point to x.                                                 */
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
        /* SAFETY: no live object outside `dying` still points to x. */
        assert(freed[gi] || (dying & BIT(gi)) || slot[gi] != x);
        gi++
    :: else -> break
    od;
    gi = 0;
    do
    :: gi < NTHR * NPT ->
        /* SAFETY: no decrement of x is still pending. */
        assert(pend_obj[gi] != x);
        gi++
    :: else -> break
    od;
    gi = 0
}

/* Free x and release its references at once (G4: nobody can read a dead
 * object, so no grace period is needed; runtime/dealloc.c).  Referents
 * whose count reaches zero are freed in turn (the dead list).
 * `dying`: see assert_dead; slots pointing into it are just cleared (the
 * collector frees those members itself).
 * ABSTRACTION: the whole cascade is one indivisible step.  It only touches
 * unreachable objects and counts no live thread can observe reaching
 * zero; the real code frees the dead list in slices.                   */
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
            /* immediate decrement of a referent */
            assert(!freed[gs]);
            assert(rc[gs] > 0);
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

/* Apply a decrement (the grace period is over): ouro__apply_decref.      */
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

/* Thread t applies the oldest of its pending decrements once its goal is
 * reached (FIFO, as ouro__decbuf_apply_ready does with batches).  The
 * queue t*NPT .. t*NPT+NPT-1 is kept compact (no holes), so a thread's
 * pending decrements have one representation.                           */
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

/* Goals only lose threads, so an older entry's goal is a subset of a
 * newer one's: the head is always the first to be ready.               */
#define HAS_READY(t)   (pend_obj[(t)*NPT] != NIL && pend_wait[(t)*NPT] == 0)
#define HAS_PENDING(t) (pend_obj[(t)*NPT] != NIL)

/* Pointers thread `me` can dereference: the root, objects it holds a
 * counted reference to, its borrowed pointer.                           */
#define CAN_USE(me, x) \
    ((x) == ROOT || (held[me] & BIT(x)) || borrowed[me] == (x))

/* Pointers thread `me` has and may store or increment: counted or
 * borrowed (never the root).                                            */
#define HAS(me, x)  ((held[me] & BIT(x)) || borrowed[me] == (x))

/* A load from x's slot gives `me` something new: a pointer it neither
 * holds nor has borrowed.  (Loading what it already has, or NIL, adds no
 * behaviour; leaving those loads out keeps the state space small.)      */
#define LOADABLE(me, x) \
    (CAN_USE(me, x) && slot[x] != NIL && !HAS(me, slot[x]))

/* An increment by a mutator (ouro_incref / ouro_xincref), split the way
 * the owner's inline path does it (the most permissive order): observe
 * ob_tid bit 31 / IN_GC, increment, then (slow path) set TOUCHED.  A
 * non-owner increments first and checks IN_GC after; that order only adds
 * TOUCHED flags set spuriously after the mark, which only make objects
 * black.  `extra` is a thread-local update done with the increment.      */
inline incref(o, f, extra)
{
    atomic { assert(!freed[o]); f = in_gc[o] }
    atomic { assert(!freed[o]); rc[o]++; extra }
#ifndef BROKEN_NO_TOUCHED
    if
    :: f -> touched[o] = 1
    :: else
    fi;
#endif
    f = 0
}

/* ------------------------------------------------------------------ */
/* Mutators                                                            */
/* ------------------------------------------------------------------ */

/* Each mutator performs at most BUDGET heap actions (LOAD, STORE, DROP);
 * ACQUIRE (the increment after a load), safepoints and applying ready
 * decrements are not counted, and it keeps doing those forever.  Every
 * choice of the actions and every interleaving with the other mutator and
 * the collector is explored.                                             */
proctype mutator(byte me)
{
    byte budget = BUDGET;
    byte p = NIL, v = NIL, old = NIL;
    bit f;

    do
    /* LOAD: the atomic load (acquire) of a slot of an object the thread
     * can reach (ouro_record_get's first half).  The result is a borrowed
     * pointer, valid until the thread's next quiescent point.  The model
     * keeps one borrowed pointer per thread: a new load replaces it.     */
    :: atomic {
        if
        :: budget > 0 && LOADABLE(me, 0) -> p = 0
        :: budget > 0 && LOADABLE(me, 1) -> p = 1
        :: budget > 0 && LOADABLE(me, 2) -> p = 2
        :: budget > 0 && LOADABLE(me, 3) -> p = 3
        fi;
        budget--;
        assert(!freed[p]);
        borrowed[me] = slot[p];
        p = NIL
       }

    /* ACQUIRE: increment the borrowed pointer (ouro_record_get's second
     * half); it becomes a counted reference.                             */
    :: atomic {
        borrowed[me] != NIL && (held[me] & BIT(borrowed[me])) == 0 ->
        p = borrowed[me]
       }
       incref(p, f, held[me] = held[me] | BIT(p));
       p = NIL

    /* STORE (ouro_record_set): v is NIL or a pointer the thread has;
     * p is an object it can reach.
     *   1. increment v            (ouro_xincref(value))
     *   2. old = exchange(slot)   (one atomic RMW, acq_rel)
     *   3. write barrier          (ouro__gc_written: IN_GC => DIRTY)
     *   4. record the decrement of old (G2: after the unlinking store). */
    :: atomic {
        budget > 0 ->
        budget--;
        if
        :: p = ROOT
        :: held[me] & BIT(1) -> p = 1
        :: held[me] & BIT(2) -> p = 2
        :: held[me] & BIT(3) -> p = 3
        :: borrowed[me] != NIL && (held[me] & BIT(borrowed[me])) == 0 ->
            p = borrowed[me]
        fi;
        if
        :: v = NIL
        :: HAS(me, 1) -> v = 1
        :: HAS(me, 2) -> v = 2
        :: HAS(me, 3) -> v = 3
        fi
       }
       if
       :: v != NIL -> incref(v, f, skip)
       :: else
       fi;
       atomic {
        assert(!freed[p]);
        old = slot[p];
        slot[p] = v;
        v = NIL
       }
#ifndef BROKEN_NO_DIRTY
       atomic {
        if
        :: in_gc[p] -> dirty[p] = 1
        :: else
        fi
       }
#endif
       atomic {
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
     * its borrowed pointer (the user's contract), then ouro__gp_quiescent
     * removes it from every goal, the collector's handshake included.
     * (Handing over candidate buffers at W0 is not modelled.)            */
    :: d_step { borrowed[me] = NIL; leave_goals(me) }

    /* APPLY: the oldest pending decrement, once its goal is reached
     * (ouro__decbuf_apply_ready, at safepoints and in decref_slow).
     * Applying may free objects (count 0), which cascades.               */
    :: HAS_READY(me) -> apply_one_ready(me)
    od
}

/* ------------------------------------------------------------------ */
/* The collector                                                       */
/* ------------------------------------------------------------------ */

/* A handshake (W1, W2): a grace period started by the collector, which
 * waits offline (it is offline here anyway).  Ends when every mutator
 * online at its start has passed a quiescent point.                     */
inline handshake()
{
    hs_wait = online & MUTMASK;
    (hs_wait == 0)
}

proctype collector()
{
    byte ncoll = 0;
    byte sub, todo, S, Sp, Spp, black, x, y, c;
    byte edge[NOBJ];        /* edges read during trial deletion  */
    byte vedge[NOBJ];       /* edges recorded by validation       */
    byte cnt[NOBJ];         /* counts read                        */
    bit flag[NOBJ];         /* TOUCHED | DIRTY read               */
    short scratch;

    do
    :: ncoll == NCOLL -> break
    :: ncoll < NCOLL ->
    ncoll++;

    /* 1-2. CANDIDATES.  ABSTRACTION: buffering and handshake W0 are not
     * modelled.  Any nonempty set of live tracked objects may be the
     * candidates (an over-approximation of what the buffers can hold),
     * and the buffer's reference becomes the collector's hold on it:
     * one hold each, atomically with the choice (the object is alive at
     * that moment, as when the applying thread buffered it).             */
    atomic {
        x = 1;
        do
        :: x < NOBJ ->
            if
            :: !freed[x] -> rc[x]++; sub = sub | BIT(x)
            :: true
            fi;
            x++
        :: else -> break
        od;
        x = 0               /* an empty choice is an empty collection */
    }
    todo = sub;

    /* 3. TRIAL DELETION (concurrent).  Walk the tracked subgraph from the
     * candidates, taking a hold on each object found before reading its
     * count.  Loading a child pointer from a held object and incrementing
     * it is "load then incref": the collector is online for that window
     * (a quiescent point of its own separates it from everything else),
     * so the child cannot be freed in between.  It is offline otherwise:
     * this is the weakest assumption (it never delays a grace period).   */
    do
    :: todo == 0 -> break
    :: todo != 0 ->
        d_step {
            x = 1;
            do
            :: (todo & BIT(x)) == 0 -> x++
            :: else -> break
            od;
            todo = todo & ~BIT(x)
        }
        /* gp_online, then the atomic load of the slot (traverse) */
        atomic {
            assert(!freed[x]);
            c = slot[x];
            edge[x] = c;
            if
            :: c != NIL && (sub & BIT(c)) == 0 -> online = online | BIT(COLL)
            :: else
            fi
        }
        if
        :: c != NIL && (sub & BIT(c)) == 0 ->
            /* the hold: an increment of the loaded pointer, then offline */
            atomic {
                assert(!freed[c]);
                rc[c]++;
                sub = sub | BIT(c);
                todo = todo | BIT(c);
                online = online & ~BIT(COLL);
                leave_goals(COLL)
            }
        :: else
        fi;
        c = 0; x = 0
    od;

    /* Read the counts (racy: each read is its own step). */
    x = 1;
    do
    :: x < NOBJ ->
        if
        :: sub & BIT(x) -> atomic { assert(!freed[x]); cnt[x] = rc[x] }
        :: else
        fi;
        x++
    :: else -> break
    od;
    x = 0;

    /* mark gray / scan / collect white, on the collector's side table
     * only (d_step: no shared state is read).  scratch = count - hold -
     * edges from the subgraph; scratch > 0 => black root; black spreads
     * along the edges read; the rest is S.                               */
    d_step {
        black = 0;
        x = 1;
        do
        :: x < NOBJ ->
            if
            :: sub & BIT(x) ->
                scratch = cnt[x] - 1;
                y = 1;
                do
                :: y < NOBJ ->
                    if
                    :: (sub & BIT(y)) && edge[y] == x -> scratch--
                    :: else
                    fi;
                    y++
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
        /* propagate black along edges: NOBJ rounds */
        c = 0;
        do
        :: c < NOBJ ->
            x = 1;
            do
            :: x < NOBJ ->
                if
                :: (black & BIT(x)) && edge[x] != NIL && (sub & BIT(edge[x])) ->
                    black = black | BIT(edge[x])
                :: else
                fi;
                x++
            :: else -> break
            od;
            c++
        :: else -> break
        od;
        S = sub & ~black;
        black = 0; scratch = 0; x = 0; y = 0; c = 0;
        edge[0] = 0; edge[1] = 0; edge[2] = 0; edge[3] = 0;
        cnt[0] = 0; cnt[1] = 0; cnt[2] = 0; cnt[3] = 0
    }

#ifdef BROKEN_NO_VALIDATION
    /* BROKEN: trust trial deletion; free S at once. */
    Spp = S;
#else
    if
    :: S == 0 -> Spp = 0
    :: S != 0 ->
        /* 4. MARK: per object, one atomic RMW of ob_gc (set IN_GC, clear
         * TOUCHED and DIRTY), with bit 31 of ob_tid (see in_gc).         */
        x = 1;
        do
        :: x < NOBJ ->
            if
            :: S & BIT(x) ->
                atomic { assert(!freed[x]); in_gc[x] = 1; touched[x] = 0; dirty[x] = 0 }
            :: else
            fi;
            x++
        :: else -> break
        od;
        x = 0;

        /* 5. HANDSHAKE W1 */
        handshake();

        /* 6. VALIDATE (pass 3): for each member, read its slot (record
         * the edge if it points to a member), its count, its flags; each
         * read is a separate step, racing with the mutators.             */
        x = 1;
        do
        :: x < NOBJ ->
            if
            :: S & BIT(x) ->
                atomic {
                    assert(!freed[x]);
                    c = slot[x];
                    if
                    :: c != NIL && (S & BIT(c)) -> vedge[x] = c
                    :: else -> vedge[x] = NIL
                    fi;
                    c = 0
                }
                atomic { assert(!freed[x]); cnt[x] = rc[x] }
                atomic { assert(!freed[x]); flag[x] = touched[x] | dirty[x] }
            :: else -> vedge[x] = NIL
            fi;
            x++
        :: else -> break
        od;
        x = 0;
        vedge[0] = NIL;

        /* black roots: c(x) - holds(x) != internal(x), or TOUCHED/DIRTY;
         * black spreads along the recorded edges; the rest is S'.  This
         * is the end of the pass: tau.                                  */
        d_step {
            black = 0;
            x = 1;
            do
            :: x < NOBJ ->
                if
                :: S & BIT(x) ->
                    scratch = 0;    /* internal(x) */
                    y = 1;
                    do
                    :: y < NOBJ ->
                        if
                        :: (S & BIT(y)) && vedge[y] == x -> scratch++
                        :: else
                        fi;
                        y++
                    :: else -> break
                    od;
                    if
                    :: cnt[x] - 1 != scratch || flag[x] -> black = black | BIT(x)
                    :: else
                    fi
                :: else
                fi;
                x++
            :: else -> break
            od;
            c = 0;
            do
            :: c < NOBJ ->
                x = 1;
                do
                :: x < NOBJ ->
                    if
                    :: (black & BIT(x)) && vedge[x] != NIL -> black = black | BIT(vedge[x])
                    :: else
                    fi;
                    x++
                :: else -> break
                od;
                c++
            :: else -> break
            od;
            Sp = S & ~black;
            black = 0; scratch = 0; x = 0; y = 0; c = 0;
            cnt[0] = 0; cnt[1] = 0; cnt[2] = 0; cnt[3] = 0;
            flag[0] = 0; flag[1] = 0; flag[2] = 0; flag[3] = 0
        }

#ifndef BROKEN_NO_W2
        /* 7. HANDSHAKE W2 */
        if
        :: Sp != 0 -> handshake()
        :: else
        fi;

#ifndef BROKEN_NO_REFINE
        /* 8. REFINE: members of S' now TOUCHED or DIRTY are black roots;
         * black spreads along the recorded edges; the rest is S''.       */
        x = 1;
        do
        :: x < NOBJ ->
            if
            :: Sp & BIT(x) -> atomic { assert(!freed[x]); flag[x] = touched[x] | dirty[x] }
            :: else
            fi;
            x++
        :: else -> break
        od;
        x = 0;
        d_step {
            black = 0;
            x = 1;
            do
            :: x < NOBJ ->
                if
                :: (Sp & BIT(x)) && flag[x] -> black = black | BIT(x)
                :: else
                fi;
                x++
            :: else -> break
            od;
            c = 0;
            do
            :: c < NOBJ ->
                x = 1;
                do
                :: x < NOBJ ->
                    if
                    :: (black & BIT(x)) && vedge[x] != NIL -> black = black | BIT(vedge[x])
                    :: else
                    fi;
                    x++
                :: else -> break
                od;
                c++
            :: else -> break
            od;
            Spp = Sp & ~black;
            black = 0; x = 0; c = 0;
            flag[0] = 0; flag[1] = 0; flag[2] = 0; flag[3] = 0
        }
#else
        Spp = Sp;
#endif
#else
        Spp = Sp;
#endif
        d_step {
            vedge[0] = 0; vedge[1] = 0; vedge[2] = 0; vedge[3] = 0
        }
        /* 9. Finalizers: not modelled (no type has one). */
    fi;
#endif

    /* 10. FREE.  Unmark S''; free each member (safety assertions in
     * assert_dead), releasing its references to non-members at once.   */
    atomic {
        x = 1;
        do
        :: x < NOBJ ->
            if
            :: Spp & BIT(x) -> in_gc[x] = 0
            :: else
            fi;
            x++
        :: else -> x = 0; break
        od
    }
    x = 1;
    do
    :: x < NOBJ ->
        if
        :: Spp & BIT(x) ->
            d_step { free_cascade(x, Spp) }
        :: else
        fi;
        x++
    :: else -> break
    od;
    x = 0;
    /* Unmark everything else. */
    d_step {
        x = 1;
        do
        :: x < NOBJ ->
            if
            :: S & BIT(x) & ~Spp -> in_gc[x] = 0
            :: else
            fi;
            x++
        :: else -> x = 0; break
        od
    }
    /* Drop every other hold with an ordinary deferred decrement; the
     * collector is offline, so the goal is the online mutators.          */
    x = 1;
    do
    :: x < NOBJ ->
        if
        :: (sub & ~Spp) & BIT(x) -> atomic { record(COLL, x) }
        :: else
        fi;
        x++
    :: else -> break
    od;
    x = 0;
    d_step { sub = 0; todo = 0; S = 0; Sp = 0; Spp = 0 }

    /* Apply the collector's own decrements as their goals are reached
     * (it waits for them like ouro_flush, offline).                      */
    do
    :: HAS_READY(COLL) -> apply_one_ready(COLL)
    :: !HAS_PENDING(COLL) -> break
    od
    od
}

/* ------------------------------------------------------------------ */
/* Initial heap                                                         */
/* ------------------------------------------------------------------ */

/* root -> 1 <-> 2 <- 3; mutator 0 holds 2, mutator 1 holds 3.
 *   rc[1] = 2 (root, 2)   rc[2] = 3 (1, 3, mutator 0)   rc[3] = 1 (m1)
 * Mutators can cut the root's edge, drop, re-link and make garbage
 * cycles, chains and self-loops; the collector runs concurrently.       */
init {
    atomic {
        slot[ROOT] = 1;
        slot[1] = 2;
        slot[2] = 1;
        slot[3] = 2;
        rc[1] = 2;
        rc[2] = 3;
        rc[3] = 1;
        held[0] = BIT(2);
        held[1] = BIT(3);
        borrowed[0] = NIL;
        borrowed[1] = NIL;
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
