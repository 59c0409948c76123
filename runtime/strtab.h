/*
 * strtab.h - a hash table keyed by str objects, with lock-free lookups and
 * writers serialised by a mutex.  Used by dict and by the intern table.
 *
 * Open addressing with linear probing over a power-of-two array of
 * (key, value) pairs.  A key, once placed in an array, never moves and is
 * never removed from that array; deleting stores a NULL value (a tombstone
 * that a later set of the same key revives).  Growing or purging tombstones
 * builds a new array, publishes it with a release store and frees the old
 * one after a grace period; references to tombstoned keys are released with
 * deferred decrements, so a reader still probing the old array can compare
 * them safely.
 *
 * The table holds one reference to each key and to each non-NULL value.
 */
#ifndef OURO_STRTAB_H
#define OURO_STRTAB_H

#include "builtin.h"

#include <pthread.h>

typedef struct ouro_strtab_entry {
    ouro_object *_Atomic key;     /* NULL = never used */
    ouro_object *_Atomic value;   /* NULL = deleted (tombstone) */
} ouro_strtab_entry;

typedef struct ouro_strtab_array {
    size_t mask;                  /* capacity - 1 */
    ouro_strtab_entry e[];
} ouro_strtab_array;

typedef struct ouro_strtab {
    ouro_strtab_array *_Atomic array;  /* written under lock, read lock-free */
    pthread_mutex_t lock;
    size_t used;                       /* lock: entries with a key */
    _Atomic size_t live;               /* entries with a value */
} ouro_strtab;

int ouro__strtab_init(ouro_strtab *tab, size_t capacity);
/* Free the array now (no reader may remain) without touching references. */
void ouro__strtab_free_now(ouro_strtab *tab);
/* Free the array after a grace period. */
void ouro__strtab_free_deferred(ouro_strtab *tab);

/* Borrowed value for the key bytes, or NULL.  Lock-free; the result stays
 * valid until the caller's next quiescent point. */
ouro_object *ouro__strtab_find(ouro_strtab *tab, const char *bytes, size_t len,
                               uint64_t hash);

/* Under tab->lock.  Set key -> value (value not NULL; a reference to each
 * is taken as needed).  *old receives the replaced value, whose reference
 * now belongs to the caller (NULL if none). */
int ouro__strtab_set_locked(ouro_strtab *tab, ouro_object *key,
                            ouro_object *value, ouro_object **old);
/* Under tab->lock.  Make sure one more key fits without allocating. */
int ouro__strtab_reserve_locked(ouro_strtab *tab);
/* Under tab->lock.  Delete; *old receives the value (caller's reference),
 * or NULL when the key was absent. */
void ouro__strtab_del_locked(ouro_strtab *tab, ouro_object *key,
                             ouro_object **old);

/* Under tab->lock.  Replace the array by an empty one and return the old
 * one (NULL when out of memory). */
ouro_strtab_array *ouro__strtab_swap_empty_locked(ouro_strtab *tab);
/* Release every reference an unpublished array holds and free it, all
 * deferred by a grace period. */
void ouro__strtab_release_array(ouro_strtab_array *a);

/* Visit every key and non-NULL value present in the current array. */
void ouro__strtab_traverse(ouro_strtab *tab, ouro_visit_fn visit, void *arg);
/* Visit each (key, value) pair with a value. */
typedef void (*ouro_strtab_pair_fn)(ouro_object *key, ouro_object *value,
                                    void *arg);
void ouro__strtab_each(ouro_strtab *tab, ouro_strtab_pair_fn fn, void *arg);

#endif /* OURO_STRTAB_H */
