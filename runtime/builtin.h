/*
 * builtin.h - layouts of the built-in types, shared by their files.
 */
#ifndef OURO_BUILTIN_H
#define OURO_BUILTIN_H

#include "thread.h"

typedef struct ouro_int_obj {
    ouro_object ob;
    int64_t value;
} ouro_int_obj;

typedef struct ouro_str_obj {
    ouro_object ob;
    size_t len;
    uint64_t hash;          /* ouro__hash_bytes of data, seeded per run */
    char data[];            /* len bytes and a NUL */
} ouro_str_obj;

typedef struct ouro_tuple_obj {
    ouro_object ob;
    size_t len;
    ouro_object *items[];   /* written before publication, then immutable */
} ouro_tuple_obj;

/* Runtime start/stop of the built-in types (small ints, None, interning). */
int ouro__builtin_init(void);
void ouro__builtin_fini(void);
int ouro__intern_init(void);
void ouro__intern_fini(void);

/* An object header for a statically allocated immortal. */
void ouro__init_static_immortal(ouro_object *o, const ouro_type *type);

/* Allocate `size` bytes (>= header) of type `type`, one reference owned by
 * the calling thread; the body is left uninitialised.  NULL on failure. */
ouro_object *ouro__alloc_object(const ouro_type *type, size_t size);

/* Bytes of o's memory block, pre-header included (what
 * ouro__alloc_object asked for), from its type and, for str and tuple, its
 * length. */
size_t ouro__block_bytes(const ouro_object *o);
/* Give back a block from ouro__alloc_object of `bytes` bytes, freed on
 * thread t (NULL: no attached thread). */
void ouro__block_free(ouro_thread *t, void *block, size_t bytes);

/* Free an object that was never shared and holds nothing (failed
 * construction). */
void ouro__free_unshared(ouro_object *o);

/* Seeded 64-bit hash of a byte string. */
uint64_t ouro__hash_bytes(const char *bytes, size_t len);
/* Create a str without interning; NULL on failure. */
ouro_object *ouro__str_create(const char *bytes, size_t len, uint64_t hash);

static inline bool ouro__str_matches(const ouro_object *s, const char *bytes,
                                     size_t len, uint64_t hash)
{
    const ouro_str_obj *so = (const ouro_str_obj *)s;
    return so->hash == hash && so->len == len &&
           (len == 0 || __builtin_memcmp(so->data, bytes, len) == 0);
}

/* The calling thread, which is about to read a shared container: it must be
 * attached, and (checked in debug builds) not inside a blocking region. */
static inline ouro_thread *ouro__reader(const char *api)
{
    ouro_thread *t = ouro__self_or_die(api);
#ifndef NDEBUG
    if (t->blocking_depth)
        ouro__fatal("%s inside a blocking region: the thread is offline and "
                    "may not read shared containers", api);
#endif
    return t;
}

#endif /* OURO_BUILTIN_H */
