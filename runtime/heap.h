/*
 * heap.h - the registry of tracked objects (heap.c): what
 * ouro_gc_get_objects, the dumps and "why alive" walk.
 *
 * Every instance of an OURO_TYPE_GC type is allocated with a 16-byte
 * pre-header (two links) in front of its header.  Once its constructor has
 * finished it is linked into one of 32 address-sharded circular lists, each
 * under its side lock, and it leaves its list when its death is decided:
 * in ouro__push_dead, before the count fields are reused (docs/weakrefs.md,
 * W1), or in the collector's settle step.  A finalizer that resurrects an
 * object links it again.
 */
#ifndef OURO_HEAP_H
#define OURO_HEAP_H

#include "thread.h"

typedef struct ouro__heap_link {
    struct ouro__heap_link *prev, *next;   /* shard lock; NULL: unlinked */
} ouro__heap_link;

#define OURO__PREHEADER sizeof(ouro__heap_link)

/* The side locks: 32 mutexes, chosen by the hash of an object's 4 KiB
 * page (ouro__side_stripe), each guarding that stripe's registry list and
 * weak table stripe.  One lock per
 * stripe for both tables keeps the settle step at 32 mutexes (and under
 * ThreadSanitizer's limit of 64 held at once). */
#define OURO__SIDE_STRIPES 32
typedef struct ouro__side_lock {
    pthread_mutex_t mutex;
    char pad[64 - sizeof(pthread_mutex_t) % 64];
} ouro__side_lock;
extern ouro__side_lock ouro__side_locks[OURO__SIDE_STRIPES];

/* By 4 KiB page: objects allocated one after another share a stripe, so
 * each list runs through them in order, and removing a run of them in
 * address order (the collector's settle step) writes to lines it has just
 * touched, not to neighbours some 32 objects away.  Pages are hashed, so
 * that threads allocating in different arenas rarely share a lock. */
static inline unsigned ouro__side_stripe(const void *addr)
{
    return (unsigned)((((uint64_t)(uintptr_t)addr >> 12) *
                       0x9e3779b97f4a7c15ull) >>
                      59);
}

static inline pthread_mutex_t *ouro__side_mutex(const void *addr)
{
    return &ouro__side_locks[ouro__side_stripe(addr)].mutex;
}

/* Every side lock, in index order (the settle step). */
void ouro__side_lock_all(void);
void ouro__side_unlock_all(void);

static inline bool ouro__has_preheader(const ouro_type *type)
{
    return type->flags & OURO_TYPE_GC;
}

/* Bytes in front of an object of `type` that belong to its block. */
static inline size_t ouro__preheader_size(const ouro_type *type)
{
    return ouro__has_preheader(type) ? OURO__PREHEADER : 0;
}

/* The start of o's memory block (what ouro__mem_free takes). */
static inline void *ouro__object_block(ouro_object *o, const ouro_type *type)
{
    return (char *)o - ouro__preheader_size(type);
}

void ouro__heap_init(void);

/* Construction of tracked `o` has finished: link it.  No-op for untracked
 * types. */
void ouro__heap_track(ouro_object *o);
/* Unlink `o` if it is linked (shard lock taken here). */
void ouro__heap_untrack(ouro_object *o);

/* `o`'s death was just decided (ouro__push_dead): leave the registry and
 * the weak table before its count fields are reused. */
void ouro__leave_side_tables(ouro_object *o, uint32_t gc);

/* Under o's side lock (the collector's settle step): unlink `o`.  `o`
 * must be of a tracked type (it has the pre-header): the collector
 * examines no other. */
void ouro__heap_untrack_locked(ouro_object *o);

/* About how many objects are linked now (a relaxed sum over the shards,
 * without their locks: a hint, e.g. for sizing the collector's table). */
size_t ouro__heap_count(void);

/* The walk gate: every registry walk below is inside it from start to end
 * (shared: walks run side by side), and the collector's settle step closes
 * it (exclusive: docs/weakrefs.md, W4), so no walk overlaps a settle.
 * Writer first: walks that arrive while a settle waits wait behind it.
 * Nobody waits for a grace period inside the gate, and no walk starts
 * another inside it.  A call that fails (a walk on the settle step's own
 * thread: EDEADLK, on glibc) is fatal, naming the gate. */
void ouro__walk_gate_enter(void);
void ouro__walk_gate_leave(void);
void ouro__walk_gate_close(void);
void ouro__walk_gate_open(void);

/* Every linked object for which filter (called under its shard lock; may
 * be NULL) returns true and whose death has not been decided, each with a
 * counted reference taken for the caller (immortals without one).  *out
 * comes from ouro__mem_alloc.  OURO_ENOMEM leaves nothing taken.  The
 * caller must be attached and online. */
int ouro__heap_snapshot(bool (*filter)(ouro_object *o, void *arg), void *arg,
                        ouro_object ***out, size_t *n);
/* Drop the references of a snapshot and free the array. */
void ouro__heap_release(ouro_object **objs, size_t n);
/* Call fn on every linked object under its shard lock, without taking
 * references: fn may only look at the header and set flags. */
void ouro__heap_each_locked(void (*fn)(ouro_object *o, void *arg), void *arg);

#endif /* OURO_HEAP_H */
