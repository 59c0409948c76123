/*
 * gp.h - grace periods (quiescent-state-based reclamation).
 *
 * A grace period is over once every thread that was online when it started
 * has passed a quiescent point (ouro_safepoint) or gone offline.  The
 * invariants and the memory-ordering argument are in docs/grace-periods.md;
 * the short form:
 *
 *   wr_seq   global, advanced by 2 by ouro__gp_advance (release): the
 *            value it returns is the "goal" of everything the caller
 *            unlinked or deferred before the call.
 *   slot.seq per thread: the wr_seq value it observed (acquire) at its last
 *            quiescent point, or 0 while offline.
 *   goal g is reached when every online slot has seq >= g; the poller reads
 *            the slots with acquire, pairing with their release stores, so
 *            everything a reader did before its quiescent point happens
 *            before whatever the poller does after a successful poll.
 */
#ifndef OURO_GP_H
#define OURO_GP_H

#include "internal.h"

#define OURO__GP_OFFLINE 0u

typedef struct ouro_gp_slot {
    /* Written by the owning thread (release), read by pollers (acquire). */
    _Atomic uint64_t seq;
    /* Protected by the slot lock in gp.c. */
    bool in_use;
    char pad[64 - sizeof(uint64_t) - sizeof(bool)];
} ouro_gp_slot;

int ouro__gp_init(void);
void ouro__gp_fini(void);

/* A free slot for a new thread, offline; NULL when out of memory. */
ouro_gp_slot *ouro__gp_slot_acquire(void);
void ouro__gp_slot_release(ouro_gp_slot *slot);

/* Offline -> online (with a full fence: pairs with the fence in poll). */
void ouro__gp_online(ouro_gp_slot *slot);
/* Online -> offline: everything before it is visible to the poller that
 * reads 0 (release). */
void ouro__gp_offline(ouro_gp_slot *slot);

/* Start a grace period covering everything the caller did so far. */
uint64_t ouro__gp_advance(void);
/* Has the grace period `goal` ended?  Never blocks. */
bool ouro__gp_poll(uint64_t goal);
/* Grace periods started so far (statistics). */
uint64_t ouro__gp_count(void);

extern _Atomic uint64_t ouro__gp_wr_seq;

/* A quiescent point of the slot's thread: inline, one load and at most one
 * store. */
static inline void ouro__gp_quiescent(ouro_gp_slot *slot)
{
    /* acquire: pairs with the release in ouro__gp_advance, so the unlinking
     * stores made before an advance are visible after this point. */
    uint64_t seq = atomic_load_explicit(&ouro__gp_wr_seq, memory_order_acquire);
    if (atomic_load_explicit(&slot->seq, memory_order_relaxed) != seq)
        /* release: pairs with the acquire load in ouro__gp_poll; what this
         * thread did before, including increments of loaded pointers, is
         * visible to the thread that then applies decrements. */
        atomic_store_explicit(&slot->seq, seq, memory_order_release);
}

#endif /* OURO_GP_H */
