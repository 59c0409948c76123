/*
 * candidates.c - the candidate set as an address-indexed bitmap (see
 * candidates.h).
 *
 * Every 16-byte granule of the address space has one bit per set (young,
 * old): set while an object that starts there is in that set.  Objects are
 * 16-byte aligned (ouro__alloc_object checks) and longer than a granule,
 * so a granule is the start of at most one live object.
 *
 *   top[]       one directory per 2^35 bytes (32 GiB) of addresses
 *   directory   the regions of its 32 GiB, one per 2 MiB, and per set a
 *               bit per region: "may hold entries" (dirty)
 *   region      per set a bitmap of its 2^17 granules, and per set a bit
 *               per bitmap word: "may be nonzero" (summary)
 *
 * Directories and regions are allocated on first use and freed only by
 * ouro__cand_fini: about 1/64 of the address range tracked objects have
 * occupied.  Addresses at or above 2^48 (tagged pointers, or a 57-bit
 * address space) have no bit; buffering one raises the overflow mark
 * instead (the next collection takes the whole heap: correct, but slow).
 *
 * Insertion sets the granule's bit, then the word's summary bit, then the
 * region's dirty bit, these two checked with a load first and set only if
 * clear.  A take exchanges dirty words, then the summary words of the
 * regions they name, then the bitmap words those name, each for zero, and
 * emits what it got in address order.  Every one of these accesses is
 * seq_cst.  Then a bit that an insertion found already set (a load) was set
 * before, in the single total order, any exchange that clears it; that
 * exchange's take goes on to exchange the level below, after the
 * insertion's write there, and so gets it.  A bit an insertion sets itself
 * is found by the next take.  So every inserted entry is taken exactly
 * once (the exchanges of a word are totally ordered), by the take that
 * follows its insertion or the one after that.  Summary and dirty bits may
 * be stale (an entry removed, or taken without them): a take then finds an
 * empty word, and costs a load.
 *
 * Removal clears the granule's bit with a fetch-and; the bit it saw says
 * whether the object was still in the set or taken.  An insertion and a
 * removal of one object never overlap: the inserting thread holds a
 * reference until it is done (candidates.h), and a removal follows the
 * death, which a decrement after that reference's release decides.
 */
#include "candidates.h"

#include "dealloc.h"
#include "gc.h"

#include <string.h>

#define GRANULE_SHIFT OURO__CAND_GRANULE_SHIFT
#define REGION_SHIFT 21
#define DIR_SHIFT 35
#define ADDRESS_BITS 48
#define REGION_WORDS ((size_t)1 << (REGION_SHIFT - GRANULE_SHIFT - 6))
#define SUMMARY_WORDS (REGION_WORDS / 64)
#define DIR_REGIONS ((size_t)1 << (DIR_SHIFT - REGION_SHIFT))
#define DIR_WORDS (DIR_REGIONS / 64)
#define TOP_DIRS ((size_t)1 << (ADDRESS_BITS - DIR_SHIFT))
/* A take passes a quiescent point after this many regions. */
#define QUIESCE_REGIONS 64

enum { YOUNG_SET = 0, OLD_SET = 1, SETS = 2 };

typedef struct region {
    _Atomic uint64_t summary[SETS][SUMMARY_WORDS];
    _Atomic uint64_t bits[SETS][REGION_WORDS];
} region;

typedef struct directory {
    _Atomic uint64_t dirty[SETS][DIR_WORDS];
    _Atomic(region *) regions[DIR_REGIONS];
} directory;

static _Atomic(directory *) top[TOP_DIRS];

static _Atomic uint64_t added;      /* young, since the last take */
static _Atomic uint64_t old_added;  /* old, since the last full take */
static atomic_bool overflowed;   /* a buffering found no memory */

/* Where an object's bits are. */
typedef struct place {
    directory *dir;
    region *reg;
    size_t region;    /* in dir */
    size_t word;      /* in reg's bitmaps */
    uint64_t bit;
} place;

_Static_assert(sizeof(ouro_object) >= 1u << GRANULE_SHIFT,
               "a granule is the start of one object at most");

/* Install a zeroed block in *slot, or find the one another thread
 * installed first; NULL without memory. */
static void *install(_Atomic(void *) *slot, size_t size)
{
    /* acquire: the block's zeroes (and, for a directory, its regions) are
     * visible before we use it. */
    void *cur = atomic_load_explicit(slot, memory_order_acquire);
    if (cur)
        return cur;
    void *fresh = ouro__mem_calloc(size);
    if (!fresh)   /* another thread may have installed one meanwhile */
        return atomic_load_explicit(slot, memory_order_acquire);
    /* acq_rel: release publishes the zeroes; acquire, on failure, reads
     * the winner's. */
    if (atomic_compare_exchange_strong_explicit(slot, &cur, fresh,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
        return fresh;
    ouro__mem_free(fresh);
    return cur;
}

/* o's place; with `create`, allocating what is missing.  False if o has
 * no bit (an address out of range), or, creating, without memory. */
static bool locate(const ouro_object *o, bool create, place *p)
{
    uintptr_t a = (uintptr_t)o;
    if ((a >> ADDRESS_BITS) || (a & ((1u << GRANULE_SHIFT) - 1)))
        return false;
    _Atomic(directory *) *ds = &top[a >> DIR_SHIFT];
    p->dir = create ? install((_Atomic(void *) *)ds, sizeof(directory))
                    : atomic_load_explicit(ds, memory_order_acquire);
    if (!p->dir)
        return false;
    p->region = (a >> REGION_SHIFT) & (DIR_REGIONS - 1);
    _Atomic(region *) *rs = &p->dir->regions[p->region];
    p->reg = create ? install((_Atomic(void *) *)rs, sizeof(region))
                    : atomic_load_explicit(rs, memory_order_acquire);
    if (!p->reg)
        return false;
    size_t g = (a >> GRANULE_SHIFT) &
               (((size_t)1 << (REGION_SHIFT - GRANULE_SHIFT)) - 1);
    p->word = g / 64;
    p->bit = (uint64_t)1 << (g % 64);
    return true;
}

/* Set `bit` of *w (seq_cst, see the top of the file), unless a load finds
 * it set already. */
static inline void set_if_clear(_Atomic uint64_t *w, uint64_t bit)
{
    if (!(atomic_load_explicit(w, memory_order_seq_cst) & bit))
        atomic_fetch_or_explicit(w, bit, memory_order_seq_cst);
}

/* Put `bits` of word `word` of region `r` (number `ri` of `d`) into `set`,
 * and publish them up both levels. */
/* Name word `word` of region `ri` in set `set`'s summary and directory,
 * for the next take to find. */
static void name_word(int set, directory *d, size_t ri, region *r,
                      size_t word)
{
    set_if_clear(&r->summary[set][word / 64], (uint64_t)1 << (word % 64));
    set_if_clear(&d->dirty[set][ri / 64], (uint64_t)1 << (ri % 64));
}

static void publish(int set, directory *d, size_t ri, region *r, size_t word,
                    uint64_t bits)
{
    atomic_fetch_or_explicit(&r->bits[set][word], bits, memory_order_seq_cst);
    name_word(set, d, ri, r, word);
}

int ouro__cand_init(void)
{
    for (size_t i = 0; i < TOP_DIRS; i++)
        atomic_store_explicit(&top[i], NULL, memory_order_relaxed);
    atomic_store_explicit(&added, 0, memory_order_relaxed);
    atomic_store_explicit(&old_added, 0, memory_order_relaxed);
    atomic_store_explicit(&overflowed, false, memory_order_relaxed);
    return OURO_OK;
}

void ouro__cand_fini(void)
{
    for (size_t i = 0; i < TOP_DIRS; i++) {
        directory *d = atomic_load_explicit(&top[i], memory_order_relaxed);
        if (!d)
            continue;
        for (size_t r = 0; r < DIR_REGIONS; r++)
            ouro__mem_free(atomic_load_explicit(&d->regions[r],
                                                memory_order_relaxed));
        ouro__mem_free(d);
        atomic_store_explicit(&top[i], NULL, memory_order_relaxed);
    }
}

/* Put o in `set` (BY_AGE: the old set if o is old, else the young one);
 * the set it went to, or -1 if it was BUFFERED already or has no bit.  A
 * taken candidate (still BUFFERED, in no set) is put there all the same. */
#define BY_AGE (-1)
static int insert(int set, ouro_object *o, bool taken_one)
{
    place p;
    if (OURO_UNLIKELY(!locate(o, true, &p))) {
        /* No memory for its region (or an address out of range).  This
         * may have been the last decrement its cycle will ever see, so the
         * next collection looks at the whole heap; collecting is also the
         * way to get memory back.  (Buffered meanwhile by another thread:
         * fine.) */
        if (taken_one || !(atomic_load_explicit(&o->ob_gc,
                                                memory_order_relaxed) &
                           OURO__GC_BUFFERED))
            ouro__cand_overflow_set();
        return -1;
    }
    /* The flag's old value decides who puts o in a set: a mutator's
     * buffering and a walk's boundary insertion of one object may race,
     * and a BUFFERED object is in exactly one set (or taken).  relaxed:
     * the bit, not the flag, is what a take reads.  OLD comes with the
     * same load; a stale one (the collector makes o old meanwhile) only
     * sends o to the young set, which moves it on when it is taken. */
    uint32_t prev = atomic_fetch_or_explicit(&o->ob_gc, OURO__GC_BUFFERED,
                                             memory_order_relaxed);
    if ((prev & OURO__GC_BUFFERED) && !taken_one)
        return -1;
    if (set == BY_AGE)
        set = (prev & OURO__GC_OLD) ? OLD_SET : YOUNG_SET;
    publish(set, p.dir, p.region, p.reg, p.word, p.bit);
    return set;
}

/* An old object goes straight to the old set: a decrement of a live old
 * object (a read, in a server) is no sign of young garbage, so it neither
 * counts for the young trigger nor makes a young collection hold it only
 * to move it on (docs/collector.md, "Generations"). */
void ouro__buffer_candidate(ouro_object *o)
{
    int set = insert(BY_AGE, o, false);
    if (set == YOUNG_SET) {
        uint64_t n =
            atomic_fetch_add_explicit(&added, 1, memory_order_relaxed) + 1;
        ouro__gc_candidates_grew(n);
    } else if (set == OLD_SET) {
        uint64_t n =
            atomic_fetch_add_explicit(&old_added, 1, memory_order_relaxed) + 1;
        ouro__gc_old_candidates_grew(n);
    }
}

bool ouro__cand_defer(ouro_object *o)
{
    if (insert(OLD_SET, o, true) < 0)
        return false;
    atomic_fetch_add_explicit(&old_added, 1, memory_order_relaxed);
    return true;
}

void ouro__cand_buffer_old(ouro_object *o)
{
    if (insert(OLD_SET, o, false) >= 0)
        atomic_fetch_add_explicit(&old_added, 1, memory_order_relaxed);
}

uint64_t ouro__cand_old_count(void)
{
    return atomic_load_explicit(&old_added, memory_order_relaxed);
}

void ouro__cand_overflow_set(void)
{
    /* release, with the acquire in _take: the collector that clears the
     * mark sees the registry as it was when the buffering failed (the
     * object is linked there). */
    atomic_store_explicit(&overflowed, true, memory_order_release);
    /* A collection now: nothing else may ever ask for one (the failed
     * buffering may have been the garbage's last decrement), and
     * collecting is also the way to get memory back. */
    ouro__gc_request();
}

bool ouro__cand_overflow_pending(void)
{
    return atomic_load_explicit(&overflowed, memory_order_relaxed);
}

bool ouro__cand_overflow_take(void)
{
    /* Plain load first: the common case writes nothing. */
    return atomic_load_explicit(&overflowed, memory_order_relaxed) &&
           atomic_exchange_explicit(&overflowed, false, memory_order_acquire);
}

bool ouro__cand_remove(ouro_object *o)
{
    place p;
    if (!locate(o, false, &p))
        return false;
    /* Young first: most deaths are of young objects (an old candidate is
     * mostly a live object that was read).  seq_cst: one order with the
     * takes' exchanges of the word. */
    for (int set = YOUNG_SET; set < SETS; set++)
        if (atomic_fetch_and_explicit(&p.reg->bits[set][p.word], ~p.bit,
                                      memory_order_seq_cst) &
            p.bit)
            return true;
    return false;
}

/* ---- the take ------------------------------------------------------------ */

typedef struct take {
    bool both;             /* the old set too */
    ouro__taken out;
    size_t cap;            /* words out has room for */
    size_t young;          /* entries from the young set */
    bool failed;           /* no memory: leave the rest in place */
} take;

/* Exchange *w for zero if a load finds it nonzero. */
static inline uint64_t grab(_Atomic uint64_t *w)
{
    return atomic_load_explicit(w, memory_order_seq_cst)
               ? atomic_exchange_explicit(w, 0, memory_order_seq_cst)
               : 0;
}

static bool make_room(take *t, size_t words)
{
    if (t->out.nwords + words <= t->cap)
        return true;
    size_t want = (t->out.nwords + words) * 2 + 64;
    ouro__taken_word *bigger = ouro__mem_alloc(want * sizeof *bigger);
    if (!bigger)
        return false;
    if (t->out.nwords)
        memcpy(bigger, t->out.words, t->out.nwords * sizeof *bigger);
    ouro__mem_free(t->out.words);
    t->out.words = bigger;
    t->cap = want;
    return true;
}

/* The entries of word `w` of region `r`, for the sets whose summary bit
 * named it (`sets`: bit 0 young, bit 1 old).  Room for the word comes
 * first: without it the word is not exchanged at all, only named again by
 * its summary and dirty bits for the next take (an entry taken and put
 * back would leave a dying object's removal to find it missing, and a
 * zombie in the set). */
static void take_word(take *t, directory *d, size_t ri, region *r, size_t w,
                      unsigned sets, uintptr_t base)
{
    if (!t->failed && !make_room(t, 1))
        t->failed = true;
    if (t->failed) {
        for (int s = 0; s < SETS; s++)
            if (sets & (1u << s))
                name_word(s, d, ri, r, w);
        return;
    }
    uint64_t got[SETS] = {0, 0};
    for (int s = 0; s < SETS; s++)
        if (sets & (1u << s))
            got[s] = grab(&r->bits[s][w]);
    uint64_t all = got[YOUNG_SET] | got[OLD_SET];
    if (!all)
        return;   /* a stale summary bit */
    t->young += (size_t)__builtin_popcountll(got[YOUNG_SET]);
    t->out.n += (size_t)__builtin_popcountll(all);
    t->out.words[t->out.nwords++] = (ouro__taken_word){
        base + ((uintptr_t)w * 64 << GRANULE_SHIFT), all};
}

static void take_region(take *t, directory *d, size_t ri, uintptr_t base)
{
    region *r = atomic_load_explicit(&d->regions[ri], memory_order_acquire);
    if (!r)
        return;
    for (size_t sw = 0; sw < SUMMARY_WORDS; sw++) {
        uint64_t named[SETS] = {grab(&r->summary[YOUNG_SET][sw]),
                                t->both ? grab(&r->summary[OLD_SET][sw]) : 0};
        for (uint64_t any = named[0] | named[1]; any; any &= any - 1) {
            unsigned b = (unsigned)__builtin_ctzll(any);
            unsigned sets = (unsigned)((named[0] >> b) & 1) |
                            (unsigned)((named[1] >> b) & 1) << 1;
            take_word(t, d, ri, r, sw * 64 + b, sets, base);
        }
    }
}

int ouro__cand_take_all(ouro_thread *self, bool young, ouro__taken *out)
{
    take t = {.both = !young};
    /* Room for as many words as were added since the last takes, up to a
     * region's worth (an upper bound on the words, but for what a take
     * that ran out of memory left behind; make_room grows it). */
    uint64_t young_added =
        atomic_exchange_explicit(&added, 0, memory_order_relaxed);
    /* Mutators add to the old set too: its count starts over before the
     * take, like the young one, so that what they add during the take
     * counts for the next (an upper bound: some of it is taken now). */
    uint64_t old_seen =
        young ? 0 : atomic_exchange_explicit(&old_added, 0,
                                             memory_order_relaxed);
    uint64_t expect = young_added + old_seen;
    if (expect > REGION_WORDS)
        expect = REGION_WORDS;
    if (expect && !make_room(&t, expect)) {
        /* All stay for the next time, and count for its trigger. */
        atomic_fetch_add_explicit(&added, young_added, memory_order_relaxed);
        atomic_fetch_add_explicit(&old_added, old_seen, memory_order_relaxed);
        *out = (ouro__taken){NULL, 0, 0};
        return OURO_ENOMEM;
    }
    size_t regions = 0;
    for (size_t di = 0; di < TOP_DIRS; di++) {
        directory *d = atomic_load_explicit(&top[di], memory_order_acquire);
        if (!d)
            continue;
        for (size_t dw = 0; dw < DIR_WORDS; dw++) {
            uint64_t dirty = grab(&d->dirty[YOUNG_SET][dw]) |
                             (young ? 0 : grab(&d->dirty[OLD_SET][dw]));
            for (; dirty; dirty &= dirty - 1) {
                size_t ri = dw * 64 + (size_t)__builtin_ctzll(dirty);
                uintptr_t base = ((uintptr_t)di << DIR_SHIFT) |
                                 ((uintptr_t)ri << REGION_SHIFT);
                take_region(&t, d, ri, base);
                if (self && ++regions % QUIESCE_REGIONS == 0)
                    ouro__quiescent(self);   /* the take reads no object */
            }
        }
    }
    /* A full take that ran out of memory left old entries in place. */
    if (!young && t.failed)
        atomic_fetch_add_explicit(&old_added, old_seen, memory_order_relaxed);
    /* Those left in place count for the next trigger again. */
    if (t.failed && young_added > t.young)
        atomic_fetch_add_explicit(&added, young_added - t.young,
                                  memory_order_relaxed);
    if (self)
        ouro__quiescent(self);
    if (!t.out.nwords) {
        ouro__mem_free(t.out.words);
        t.out.words = NULL;
    }
    *out = t.out;
    return t.failed ? OURO_ENOMEM : OURO_OK;
}

void ouro__taken_free(ouro__taken *t)
{
    ouro__mem_free(t->words);
    *t = (ouro__taken){NULL, 0, 0};
}

void ouro__cand_forget(ouro_object *o)
{
    if (!(atomic_load_explicit(&o->ob_gc, memory_order_relaxed) &
          OURO__GC_BUFFERED))
        return;
    if (!ouro__cand_remove(o))
        ouro__fatal("a candidate marked BUFFERED is missing from the set");
    atomic_fetch_and_explicit(&o->ob_gc, ~(uint32_t)OURO__GC_BUFFERED,
                              memory_order_relaxed);
}

void ouro__zombie_claim(ouro_thread *t, ouro_object *o)
{
    /* acq_rel: the second claimer frees, and must see everything the first
     * did to the object; the first never touches it again. */
    uint32_t old = atomic_fetch_or_explicit(&o->ob_gc, OURO__GC_ZCLAIM,
                                            memory_order_acq_rel);
    if (!(old & OURO__GC_ZCLAIM))
        return;   /* the other party will free it */
    /* BUFFERED stayed set since the take, so nobody put it back in the
     * set: clearing the flags is all that is left of its candidacy. */
    atomic_fetch_and_explicit(
        &o->ob_gc, ~(uint32_t)(OURO__GC_BUFFERED | OURO__GC_ZCLAIM),
        memory_order_relaxed);
    ouro__push_dead(t, o);
}

uint64_t ouro__cand_count(void)
{
    return atomic_load_explicit(&added, memory_order_relaxed);
}
