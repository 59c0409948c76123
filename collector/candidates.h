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
 * Two sets, young and old, kept as one bitmap each over the address space
 * (a bit per 16-byte granule; candidates.c has the layout and the
 * argument).  Mutators buffer a young object into the young set and an
 * old one into the old set.  A young collection (collector/collect.c)
 * takes only the young set and moves the objects among them that became
 * old since they were buffered to the old set, where the next full
 * collection finds them (docs/collector.md, "Generations").  Insertion,
 * removal and the take are lock-free.  Whoever sets BUFFERED (one atomic OR) puts the
 * object in a set; it is cleared by whoever ends the object's candidacy:
 * the thread that removes it at its death, the collector when it holds it,
 * or the winner of the zombie claim.
 *
 * Buffering never loses an object silently: without memory for its part of
 * the bitmap it raises the overflow mark, and the next collection takes
 * the whole registry of tracked objects as candidates instead.
 */
#ifndef OURO_CANDIDATES_H
#define OURO_CANDIDATES_H

#include "thread.h"

int ouro__cand_init(void);
void ouro__cand_fini(void);

/* Remove o from whichever set holds it (one fetch-and); true if it was
 * there, false if a take got it first. */
bool ouro__cand_remove(ouro_object *o);

/* Candidates taken for one collection: the nonzero words of the bitmaps,
 * in address order, each naming up to 64 objects.  Its memory is a small
 * fraction of the candidates' (a dense word names one object per 16 bytes
 * of a 1 KiB span, at 16 bytes a word). */
#define OURO__CAND_GRANULE_SHIFT 4
#define OURO__CAND_WORD_SPAN ((uintptr_t)64 << OURO__CAND_GRANULE_SHIFT)

typedef struct ouro__taken_word {
    uintptr_t base;   /* first granule's address (a multiple of the span) */
    uint64_t bits;    /* bit k set: the candidate at base + 16 k */
} ouro__taken_word;

typedef struct ouro__taken {
    ouro__taken_word *words;   /* from ouro__mem_alloc; NULL when empty */
    size_t nwords;
    size_t n;                  /* bits set in all words: the candidates */
} ouro__taken;

static inline ouro_object *ouro__taken_object(uintptr_t base, unsigned k)
{
    return (ouro_object *)(base + ((uintptr_t)k << OURO__CAND_GRANULE_SHIFT));
}

/* A position in a take: word w, and its bits not yet visited. */
typedef struct ouro__taken_cursor {
    size_t w;
    uint64_t rest;
} ouro__taken_cursor;

/* Before the first candidate. */
static inline ouro__taken_cursor ouro__taken_cursor_start(void)
{
    return (ouro__taken_cursor){SIZE_MAX, 0};
}

/* The next candidate after `cu` in address order (its bit in its word in
 * *k), or NULL at the end. */
static inline ouro_object *ouro__taken_next(const ouro__taken *t,
                                            ouro__taken_cursor *cu,
                                            unsigned *k)
{
    while (!cu->rest) {
        if (++cu->w >= t->nwords)
            return NULL;
        cu->rest = t->words[cu->w].bits;
    }
    *k = (unsigned)__builtin_ctzll(cu->rest);
    cu->rest &= cu->rest - 1;
    return ouro__taken_object(t->words[cu->w].base, *k);
}

/* Take every candidate out of the young set, or out of both sets (they
 * stay BUFFERED until the collector holds them), into *out;
 * OURO_ENOMEM if there was no memory for all of them (those not taken stay
 * for the next time).  With `self` (online, holding no borrowed pointer),
 * it passes quiescent points as it goes, so that a long take does not hold
 * up grace periods.  Collector only (and shutdown): takes never overlap.
 * Release *out with ouro__taken_free. */
int ouro__cand_take_all(ouro_thread *self, bool young, ouro__taken *out);
void ouro__taken_free(ouro__taken *t);

/* Collector only.  Taken candidate o (still BUFFERED, held by the caller)
 * goes to the old set, and a young collection's walk found old object o
 * (held by the caller), which goes there unless it is BUFFERED already.
 * _defer returns false without memory. */
bool ouro__cand_defer(ouro_object *o);
void ouro__cand_buffer_old(ouro_object *o);
/* Candidates put in the old set since the last full take began (an upper
 * bound: those that died since, and those a mutator added while that take
 * ran, are counted). */
uint64_t ouro__cand_old_count(void);

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
