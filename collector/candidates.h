/*
 * candidates.h - the set of possible cycle roots (Bacon-Rajan's "purple"
 * objects), shared by all threads.
 *
 * A thread that applies a decrement which leaves a tracked object's count
 * positive adds the object here (once: BUFFERED), while it still holds the
 * reference it is releasing.  The set holds no reference: an object that
 * dies while BUFFERED removes itself; if the collector took it first, the
 * collector owns its death (a "zombie", see docs/collector.md).
 *
 * Two sets, young and old, of 64 shards keyed by address, each shard an
 * open-addressing table under its own mutex.  Mutators buffer into the
 * young set.  A young collection (collector/collect.c) takes only the
 * young set and moves the old objects among them to the old set, where
 * the next full collection finds them (docs/collector.md, "Generations").  BUFFERED is set under the shard's lock, together with the
 * insertion; it is cleared by whoever ends the object's candidacy: the
 * thread that removes it at its death, the collector when it holds it, or
 * the winner of the zombie claim.
 *
 * Buffering never loses an object silently: without memory for the table
 * it raises the overflow mark, and the next collection takes the whole
 * registry of tracked objects as candidates instead.
 */
#ifndef OURO_CANDIDATES_H
#define OURO_CANDIDATES_H

#include "thread.h"

int ouro__cand_init(void);
void ouro__cand_fini(void);

/* Remove o from whichever set holds it (under the shard lock); true if it
 * was there. */
bool ouro__cand_remove(ouro_object *o);

/* Take every candidate out of the young set, or out of both sets (they
 * stay BUFFERED until the collector holds them); OURO_ENOMEM if some
 * shards could not be taken.  Returns an array from ouro__mem_alloc (or NULL
 * when empty) in *out and its length.  Out of memory, it takes the shards
 * that fit and leaves the others for the next time.  With `self` (online,
 * holding no borrowed pointer), it passes a quiescent point after each
 * shard, so that a long take does not hold up grace periods. */
int ouro__cand_take_all(ouro_thread *self, bool young, ouro_object ***out,
                        size_t *n);

/* Collector only.  Taken candidate o (still BUFFERED, held by the caller)
 * goes to the old set, and a young collection's walk found old object o
 * (held by the caller), which goes there unless it is BUFFERED already.
 * _defer returns false without memory. */
bool ouro__cand_defer(ouro_object *o);
void ouro__cand_buffer_old(ouro_object *o);
/* Candidates put in the old set since the last full take (an upper
 * bound: those that died since are counted). */
uint64_t ouro__cand_old_count(void);

/* Was o among the candidates of the last take (of either set)?  One probe of the table its
 * shard had then, kept until ouro__cand_forget_taken (collector only),
 * which zeroes the larger one and leaves it to its shard as the table to
 * grow into. */
bool ouro__cand_was_taken(const ouro_object *o);
void ouro__cand_forget_taken(ouro_thread *self);   /* self: as for take_all */
/* o's candidacy ended during the loop without the collector holding it:
 * it no longer counts as taken. */
void ouro__cand_untake(const ouro_object *o);

/* o is about to be freed by the collector: if it is BUFFERED, take it out
 * of the set (it must be there). */
void ouro__cand_forget(ouro_object *o);

/* A taken candidate died: the dying thread (its removal failed) and the
 * collector (its try-increment failed) both call this, in either order;
 * the second one frees the object, the first never touches it again. */
void ouro__zombie_claim(ouro_thread *t, ouro_object *o);

/* Buffering an object found no memory, so a candidate may be missing from
 * the set: the next collection must take every tracked object as one
 * (docs/collector.md, completeness step 2).  _take reads and clears the
 * mark; _set raises it (or puts it back: that collection could not do it
 * either) and asks for an automatic collection. */
bool ouro__cand_overflow_take(void);
bool ouro__cand_overflow_pending(void);   /* a hint: _take decides */
void ouro__cand_overflow_set(void);

/* Young candidates added since the last take (approximate, for the
 * trigger). */
uint64_t ouro__cand_count(void);

#endif /* OURO_CANDIDATES_H */
