/*
 * census.c - exact counts at quiescence.
 *
 * With no other thread attached and every decrement applied, an object's
 * count must equal the number of references to it: one per edge from
 * another object (found with its type's traverse) plus the ones the caller
 * holds.  The census walks everything reachable from the roots, tallies
 * incoming edges in a hash map, and compares each tally with ouro_refcnt.
 * It uses malloc, not the runtime's allocator, so it never disturbs the
 * counts it reads.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct tally {
    ouro_object *obj;
    uint64_t refs;
} tally;

typedef struct census {
    tally *table;
    size_t cap, used;
    ouro_object **stack;
    size_t depth, stack_cap;
    bool out_of_memory;
} census;

static size_t slot_of(const census *c, const ouro_object *o)
{
    uint64_t h = (uintptr_t)o * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (c->cap - 1);
}

static tally *lookup(census *c, ouro_object *o, bool *fresh)
{
    size_t i = slot_of(c, o);
    while (c->table[i].obj && c->table[i].obj != o)
        i = (i + 1) & (c->cap - 1);
    *fresh = c->table[i].obj == NULL;
    if (*fresh) {
        c->table[i].obj = o;
        c->used++;
    }
    return &c->table[i];
}

static bool grow(census *c)
{
    census bigger = *c;
    bigger.cap = c->cap * 2;
    bigger.used = 0;
    bigger.table = calloc(bigger.cap, sizeof *bigger.table);
    if (!bigger.table)
        return false;
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->table[i].obj)
            continue;
        bool fresh;
        lookup(&bigger, c->table[i].obj, &fresh)->refs = c->table[i].refs;
    }
    free(c->table);
    c->table = bigger.table;
    c->cap = bigger.cap;
    return true;
}

static void push(census *c, ouro_object *o)
{
    if (c->depth == c->stack_cap) {
        size_t cap = c->stack_cap ? c->stack_cap * 2 : 1024;
        ouro_object **s = realloc(c->stack, cap * sizeof *s);
        if (!s) {
            c->out_of_memory = true;
            return;
        }
        c->stack = s;
        c->stack_cap = cap;
    }
    c->stack[c->depth++] = o;
}

/* One reference to o found; the first time o is seen, walk it later. */
static void count_ref(ouro_object *o, void *arg)
{
    census *c = arg;
    if (!o || c->out_of_memory || ouro_is_immortal(o))
        return;
    if (c->used * 2 >= c->cap && !grow(c)) {
        c->out_of_memory = true;
        return;
    }
    bool fresh;
    tally *t = lookup(c, o, &fresh);
    t->refs++;
    if (fresh)
        push(c, o);
}

uint64_t stress_census(ouro_object *const *roots, size_t nroots)
{
    census c = {.cap = 4096};
    c.table = calloc(c.cap, sizeof *c.table);
    if (!c.table) {
        stress_violation("census: out of memory");
        return 0;
    }
    for (size_t i = 0; i < nroots; i++)
        count_ref(roots[i], &c);   /* the caller's own reference */
    while (c.depth && !c.out_of_memory) {
        ouro_object *o = c.stack[--c.depth];
        if (node_is(o))
            node_check(o, "census");
        const ouro_type *t = ouro_type_of(o);
        if (t->traverse)
            t->traverse(o, count_ref, &c);
    }
    if (c.out_of_memory)
        stress_violation("census: out of memory");
    uint64_t found = 0, wrong = 0;
    for (size_t i = 0; i < c.cap && !c.out_of_memory; i++) {
        tally *t = &c.table[i];
        if (!t->obj)
            continue;
        found++;
        int64_t have = ouro_refcnt(t->obj);
        if (have != (int64_t)t->refs && wrong++ < 5)
            stress_violation("census: a '%s' object at %p has count %lld "
                             "but %llu references",
                             ouro_type_name(t->obj), (void *)t->obj,
                             (long long)have, (unsigned long long)t->refs);
    }
    free(c.table);
    free(c.stack);
    return found;
}
