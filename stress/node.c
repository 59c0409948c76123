/*
 * node.c - the stress suite's object types: nodes that can tell when they
 * were freed too early, freed twice, or finalized more than once.
 *
 * Record types have reference slots only, so the suite defines its own:
 *   [header][head canary][serial][mode][life][finalizer runs][slots][tail]
 * Both canaries encode the node's address and serial.  `life` is LIVE from
 * creation until destroy, which swaps it to DESTROYED (a second destroy
 * finds DESTROYED and reports a double free) and then wipes the canaries.
 * The checking allocator poisons the memory afterwards, so a node freed
 * under a holder fails node_check whichever of the two it sees.
 *
 * The slots follow the record protocol: loads are acquire, a store
 * exchanges (acq_rel) and then calls the write barrier, and the old value
 * is released with a deferred decrement (docs/grace-periods.md, G2).
 */
#include "harness.h"

#include <stdlib.h>

#define HEAD_MAGIC 0x6e6f64652d686561ull
#define TAIL_MAGIC 0x6e6f64652d7461ull
#define LIVE 0x4c495645u
#define DESTROYED 0x44454144u

typedef struct node {
    ouro_object ob;
    uint64_t head;
    uint64_t serial;
    uint32_t mode;
    _Atomic uint32_t life;
    _Atomic uint32_t finalized;
    ouro_object *_Atomic slots[NODE_SLOTS];
    uint64_t tail;
} node;

void (*node_finalize_hook)(ouro_object *self, uint32_t mode);

static _Atomic uint64_t next_serial = 1;
static _Atomic uint64_t created, destroyed, finalized, marked_destroyed;

static uint64_t head_canary(const node *n)
{
    return HEAD_MAGIC ^ (uintptr_t)n ^ (n->serial << 17);
}

static uint64_t tail_canary(const node *n)
{
    return TAIL_MAGIC ^ ((uintptr_t)n >> 3) ^ n->serial;
}

static void node_traverse(ouro_object *self, ouro_visit_fn visit, void *arg)
{
    node *n = (node *)self;
    for (unsigned i = 0; i < NODE_SLOTS; i++) {
        /* acquire: pairs with the exchange in node_set. */
        ouro_object *v = atomic_load_explicit(&n->slots[i],
                                              memory_order_acquire);
        if (v)
            visit(v, arg);
    }
}

static void node_clear(ouro_object *self)
{
    node *n = (node *)self;
    for (unsigned i = 0; i < NODE_SLOTS; i++)
        ouro_xdecref(atomic_exchange_explicit(&n->slots[i], NULL,
                                              memory_order_acq_rel));
    ouro_gc_written(self);
}

static void node_destroy(ouro_object *self)
{
    node *n = (node *)self;
    node_check(self, "destroy");
    uint32_t expect = LIVE;
    /* acq_rel: a second destroy (a double free) must see the first. */
    if (!atomic_compare_exchange_strong_explicit(&n->life, &expect, DESTROYED,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire))
        return;   /* reported by node_check */
    uint32_t runs = atomic_load_explicit(&n->finalized, memory_order_relaxed);
    if (self->ob_type == &fin_node_type && runs != 1)
        stress_violation("node #%llu destroyed after %u finalizer runs "
                         "(exactly one expected)",
                         (unsigned long long)n->serial, runs);
    n->head = 0;
    n->tail = 0;
    /* relaxed: statistics, compared after the threads are joined. */
    atomic_fetch_add_explicit(&destroyed, 1, memory_order_relaxed);
    if (n->mode & NODE_MARK)
        atomic_fetch_add_explicit(&marked_destroyed, 1, memory_order_relaxed);
}

static void node_finalize(ouro_object *self)
{
    node *n = (node *)self;
    node_check(self, "finalize");
    /* relaxed: only this finalizer and destroy read it, and the runtime
     * orders both after the object's death. */
    uint32_t before = atomic_fetch_add_explicit(&n->finalized, 1,
                                                memory_order_relaxed);
    if (before != 0)
        stress_violation("finalizer of node #%llu ran %u times",
                         (unsigned long long)n->serial, before + 1);
    atomic_fetch_add_explicit(&finalized, 1, memory_order_relaxed);
    if (node_finalize_hook)
        node_finalize_hook(self, n->mode);
}

const ouro_type node_type = {
    .name = "stress.node",
    .size = sizeof(node),
    .flags = OURO_TYPE_GC,
    .traverse = node_traverse,
    .clear = node_clear,
    .destroy = node_destroy,
};

const ouro_type fin_node_type = {
    .name = "stress.fin_node",
    .size = sizeof(node),
    .flags = OURO_TYPE_GC,
    .traverse = node_traverse,
    .finalize = node_finalize,
    .clear = node_clear,
    .destroy = node_destroy,
};

ouro_object *node_new(const ouro_type *type, uint32_t mode)
{
    ouro_object *o = ouro_new(type);
    if (!o)
        return NULL;
    node *n = (node *)o;
    n->serial = atomic_fetch_add_explicit(&next_serial, 1,
                                          memory_order_relaxed);
    n->mode = mode;
    n->head = head_canary(n);
    n->tail = tail_canary(n);
    /* relaxed: the node is not shared yet; whoever publishes it does so
     * with a release store (a container store or a node slot). */
    atomic_store_explicit(&n->life, LIVE, memory_order_relaxed);
    atomic_fetch_add_explicit(&created, 1, memory_order_relaxed);
    return o;
}

bool node_is(const ouro_object *o)
{
    const ouro_type *t = ouro_type_of(o);
    return t == &node_type || t == &fin_node_type;
}

uint32_t node_check(ouro_object *o, const char *where)
{
    if (!o) {
        stress_violation("%s: NULL where a node was held", where);
        return 0;
    }
    node *n = (node *)o;
    if (!node_is(o)) {
        stress_violation("%s: object at %p is no longer a node (type %p): "
                         "freed while held?", where, (void *)o,
                         (const void *)ouro_type_of(o));
        return 0;
    }
    uint32_t life = atomic_load_explicit(&n->life, memory_order_relaxed);
    if (life != LIVE) {
        stress_violation("%s: node #%llu at %p is %s", where,
                         (unsigned long long)n->serial, (void *)o,
                         life == DESTROYED ? "already destroyed"
                                           : "corrupt (life word)");
        return 0;
    }
    if (n->head != head_canary(n) || n->tail != tail_canary(n)) {
        stress_violation("%s: node at %p has a broken canary", where,
                         (void *)o);
        return 0;
    }
    return n->mode;
}

ouro_object *node_get(ouro_object *self, unsigned slot)
{
    node *n = (node *)self;
    /* acquire: pairs with the exchange in node_set (the referent's
     * contents are visible). */
    ouro_object *v = atomic_load_explicit(&n->slots[slot],
                                          memory_order_acquire);
    ouro_xincref(v);   /* valid until our next safepoint (G3) */
    return v;
}

void node_set(ouro_object *self, unsigned slot, ouro_object *value)
{
    node *n = (node *)self;
    ouro_xincref(value);
    /* release: readers see the value's contents; acquire: we own old. */
    ouro_object *old = atomic_exchange_explicit(&n->slots[slot], value,
                                                memory_order_acq_rel);
    ouro_gc_written(self);   /* after the store: docs/collector.md */
    ouro_xdecref(old);
}

uint64_t node_serial(const ouro_object *o)
{
    return ((const node *)o)->serial;
}

uint32_t node_finalizer_runs(const ouro_object *o)
{
    return atomic_load_explicit(&((node *)o)->finalized, memory_order_relaxed);
}

void node_counters_reset(void)
{
    atomic_store_explicit(&created, 0, memory_order_relaxed);
    atomic_store_explicit(&destroyed, 0, memory_order_relaxed);
    atomic_store_explicit(&finalized, 0, memory_order_relaxed);
    atomic_store_explicit(&marked_destroyed, 0, memory_order_relaxed);
}

void node_counters_get(struct node_counters *out)
{
    out->created = atomic_load_explicit(&created, memory_order_relaxed);
    out->destroyed = atomic_load_explicit(&destroyed, memory_order_relaxed);
    out->finalized = atomic_load_explicit(&finalized, memory_order_relaxed);
    out->marked_destroyed = atomic_load_explicit(&marked_destroyed,
                                                 memory_order_relaxed);
}
