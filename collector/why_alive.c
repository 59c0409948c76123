/*
 * why_alive.c - "why is this object alive?": the chain of references from
 * something outside the tracked heap to the object.
 *
 * Over a snapshot of the tracked heap (heapgraph.h), an object whose count
 * exceeds the references it gets from tracked objects is held from outside
 * them: by a thread, a global, an untracked object, or a leak of counts.
 * Those are the roots.  A breadth-first search backwards along references,
 * from the object, stops at the first root it meets: the chain returned is
 * a shortest one from a root.  An empty chain means that nothing outside
 * reaches the object: it is cyclic garbage the collector has not freed yet.
 */
#include "argcheck.h"
#include "builtin.h"
#include "escape.h"
#include "heap.h"
#include "heapgraph.h"

#include <inttypes.h>

/* Bytes of a dict key, and of a type name, the printer shows. */
#define KEY_MAX 80
#define NAME_MAX_SHOWN 60

ouro_object *ouro_gc_why_alive(ouro_object *o)
{
    ouro__reader("ouro_gc_why_alive");
    ouro__check_arg(o, "ouro_gc_why_alive", "o");
    ouro_object **objs;
    size_t n;
    if (ouro__heap_snapshot(NULL, NULL, &objs, &n) != OURO_OK)
        return NULL;
    /* The object itself, tracked or not, is a node too. */
    ouro_object **more = ouro__mem_alloc((n + 1) * sizeof *more);
    if (!more) {
        ouro__heap_release(objs, n);
        return NULL;
    }
    if (n)
        __builtin_memcpy(more, objs, n * sizeof *more);
    ouro__mem_free(objs);
    ouro_incref(o);
    more[n++] = o;
    heapgraph g;
    if (heapgraph_build(&g, more, n) != OURO_OK)
        return NULL;
    int64_t target = heapgraph_find(&g, o);
    /* The caller's own reference, the one it asks about, does not count. */
    if (g.outside[target] != OURO__OUTSIDE_IMMORTAL)
        g.outside[target] -= 1;

    uint32_t *parent = ouro__mem_alloc((g.n ? g.n : 1) * sizeof *parent);
    uint32_t *queue = ouro__mem_alloc((g.n ? g.n : 1) * sizeof *queue);
    ouro_object *chain = NULL;
    if (!parent || !queue)
        goto out;
    for (size_t i = 0; i < g.n; i++)
        parent[i] = UINT32_MAX;
    size_t head = 0, tail = 0;
    int64_t root = -1;
    parent[target] = (uint32_t)target;
    queue[tail++] = (uint32_t)target;
    while (head < tail && root < 0) {
        uint32_t x = queue[head++];
        if (g.outside[x] > 0) {
            root = x;
            break;
        }
        for (size_t e = g.in_start[x]; e < g.in_start[x + 1]; e++) {
            uint32_t src = g.in_src[e];
            if (parent[src] == UINT32_MAX) {
                parent[src] = x;   /* src refers to x */
                queue[tail++] = src;
            }
        }
    }
    chain = ouro_list_new(0);
    for (int64_t x = root; chain && x >= 0;) {
        if (ouro_list_append(chain, g.obj[x]) != OURO_OK) {
            ouro_decref(chain);
            chain = NULL;
            break;
        }
        if (x == target)
            break;
        x = parent[x];
    }
out:
    ouro__mem_free(parent);
    ouro__mem_free(queue);
    heapgraph_free(&g);
    return chain;
}

/* ---- the printer ------------------------------------------------------- */

typedef struct find_pos {
    ouro_object *child;
    size_t pos, found;
} find_pos;

static void visit_pos(ouro_object *c, void *arg)
{
    find_pos *f = arg;
    if (c == f->child && f->found == SIZE_MAX)
        f->found = f->pos;
    f->pos++;
}

/* How `from` refers to `to`: [index], ['key'], .slot, or #position in
 * traverse order. */
static void put_edge(FILE *out, ouro_object *from, ouro_object *to)
{
    const ouro_type *t = ouro_type_of(from);
    if (t == &ouro_list_type) {
        for (size_t i = 0, n = ouro_list_len(from); i < n; i++) {
            ouro_object *x = ouro_list_get(from, (ptrdiff_t)i);
            ouro_xdecref(x);
            if (x == to) {
                fprintf(out, "[%zu]", i);
                return;
            }
        }
    } else if (t == &ouro_dict_type) {
        ouro_object *keys = ouro_dict_keys(from);
        for (size_t i = 0, n = keys ? ouro_list_len(keys) : 0; i < n; i++) {
            ouro_object *k = ouro_list_get(keys, (ptrdiff_t)i);
            ouro_object *v = ouro_dict_get(from, k);
            ouro_xdecref(v);
            if (v == to) {
                /* All of its bytes, escaped: a key may hold a quote, a
                 * newline or a NUL. */
                fputs("['", out);
                ouro__put_escaped(out, ouro_str_data(k), ouro_str_len(k),
                                  KEY_MAX, OURO__ESCAPE_TEXT);
                fputs("']", out);
                ouro_decref(k);
                ouro_decref(keys);
                return;
            }
            ouro_decref(k);
        }
        ouro_xdecref(keys);
    } else if (t == &ouro_tuple_type) {
        for (size_t i = 0, n = ouro_tuple_len(from); i < n; i++) {
            ouro_object *x = ouro_tuple_get(from, i);
            ouro_xdecref(x);
            if (x == to) {
                fprintf(out, "[%zu]", i);
                return;
            }
        }
    } else if (t->nslots) {
        for (uint32_t s = 0; s < t->nslots; s++) {
            ouro_object *x = ouro_record_get(from, s);
            ouro_xdecref(x);
            if (x == to) {
                fprintf(out, ".slot%u", s);
                return;
            }
        }
    }
    find_pos f = {to, 0, SIZE_MAX};
    if (t->traverse)
        t->traverse(from, visit_pos, &f);
    if (f.found != SIZE_MAX)
        fprintf(out, "#%zu", f.found);
    else
        fputs("(no longer)", out);
}

int ouro_gc_print_why_alive(FILE *out, ouro_object *chain)
{
    ouro__reader("ouro_gc_print_why_alive");
    if (chain)
        ouro__check_alive(chain, "ouro_gc_print_why_alive");
    if (!out || !chain || ouro_type_of(chain) != &ouro_list_type)
        return OURO_EINVAL;
    size_t n = ouro_list_len(chain);
    if (n == 0) {
        fputs("not reachable from outside the tracked heap: garbage the "
              "collector has not freed yet\n", out);
        return OURO_OK;
    }
    ouro_object *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        ouro_object *o = ouro_list_get(chain, (ptrdiff_t)i);
        if (!o)
            break;
        /* Less the chain's reference and ours. */
        int64_t rc = ouro_refcnt(o);
        if (prev) {
            fputs("  ", out);
            put_edge(out, prev, o);
            fputs(" -> ", out);
        }
        fputc('<', out);
        const char *name = ouro_type_name(o);
        ouro__put_escaped(out, name, __builtin_strlen(name), NAME_MAX_SHOWN,
                          OURO__ESCAPE_TEXT);
        fprintf(out, " %p>", (void *)o);
        if (rc == OURO_IMMORTAL_REFCNT)
            fputs(" immortal", out);
        else
            fprintf(out, " refcnt %" PRId64, rc - 2);
        if (!prev)
            fputs(": held from outside the tracked heap", out);
        fputc('\n', out);
        ouro_xdecref(prev);
        prev = o;
    }
    ouro_xdecref(prev);
    return ferror(out) ? OURO_EINVAL : OURO_OK;
}
