/*
 * dump.c - the heap, or a set of objects (the garbage list, say), as
 * Graphviz DOT or as JSON lines: address, type, count, references from
 * outside the set, referents.
 *
 * Snapshot semantics: the set is taken as ouro_gc_get_objects takes it
 * (or read from the list given), then each object's count and referents
 * are read in turn while other threads run (heapgraph.h).
 */
#include "argcheck.h"
#include "builtin.h"
#include "escape.h"
#include "heap.h"
#include "heapgraph.h"

#include <inttypes.h>

/* Write s (at most max bytes of it) as the inside of a JSON or DOT string. */
static void put_escaped(FILE *out, const char *s, size_t len, size_t max,
                        bool dot)
{
    ouro__put_escaped(out, s, len, max,
                      dot ? OURO__ESCAPE_DOT : OURO__ESCAPE_JSON);
}

/* A short rendering of an int or str, or nothing. */
static bool put_value(FILE *out, ouro_object *o, bool dot)
{
    if (o->ob_type == &ouro_int_type) {
        fprintf(out, "%" PRId64, ouro_int_value(o));
        return true;
    }
    if (o->ob_type == &ouro_str_type) {
        fputs(dot ? "'" : "\"", out);
        put_escaped(out, ouro_str_data(o), ouro_str_len(o), 40, dot);
        fputs(dot ? "'" : "\"", out);
        return true;
    }
    return false;
}

typedef struct dump_ctx {
    FILE *out;
    bool first;
    bool dot;
    const char *from;   /* DOT: the source node's name */
} dump_ctx;

static void json_referent(ouro_object *child, void *arg)
{
    dump_ctx *d = arg;
    fprintf(d->out, "%s\"%p\"", d->first ? "" : ",", (void *)child);
    d->first = false;
}

static void dump_json(FILE *out, const heapgraph *g)
{
    for (size_t i = 0; i < g->n; i++) {
        ouro_object *o = g->obj[i];
        fprintf(out, "{\"addr\":\"%p\",\"type\":\"", (void *)o);
        put_escaped(out, o->ob_type->name, __builtin_strlen(o->ob_type->name),
                    200, false);
        if (g->outside[i] == OURO__OUTSIDE_IMMORTAL)
            fputs("\",\"refcnt\":\"immortal\",\"outside\":\"immortal\"", out);
        else
            fprintf(out, "\",\"refcnt\":%" PRId64 ",\"outside\":%" PRId64,
                    heapgraph_refcnt(g, i), g->outside[i]);
        if (o->ob_type == &ouro_int_type || o->ob_type == &ouro_str_type) {
            fputs(",\"value\":", out);
            put_value(out, o, false);
        }
        fputs(",\"referents\":[", out);
        dump_ctx d = {out, true, false, NULL};
        if (o->ob_type->traverse)
            o->ob_type->traverse(o, json_referent, &d);
        fputs("]}\n", out);
    }
}

static void dot_referent(ouro_object *child, void *arg)
{
    dump_ctx *d = arg;
    fprintf(d->out, "  \"%s\" -> \"%p\";\n", d->from, (void *)child);
}

typedef struct leaf_ctx {
    FILE *out;
    const heapgraph *g;
} leaf_ctx;

/* Referents outside the set get a node of their own (once per edge: DOT
 * merges repeated node statements), with their value if int or str. */
static void dot_untracked(ouro_object *child, void *arg)
{
    leaf_ctx *l = arg;
    if (heapgraph_find(l->g, child) >= 0)
        return;
    fprintf(l->out, "  \"%p\" [shape=ellipse, style=dashed, label=\"",
            (void *)child);
    /* Escaped like the names in the set's labels: a quote would end the
     * label. */
    put_escaped(l->out, child->ob_type->name,
                __builtin_strlen(child->ob_type->name), 60, true);
    fputc(' ', l->out);
    put_value(l->out, child, true);
    fputs("\"];\n", l->out);
}

static void dump_dot(FILE *out, const heapgraph *g)
{
    fputs("digraph ouro {\n  node [shape=box, fontname=\"monospace\"];\n",
          out);
    for (size_t i = 0; i < g->n; i++) {
        ouro_object *o = g->obj[i];
        fprintf(out, "  \"%p\" [label=\"", (void *)o);
        put_escaped(out, o->ob_type->name, __builtin_strlen(o->ob_type->name),
                    60, true);
        if (g->outside[i] == OURO__OUTSIDE_IMMORTAL)
            fprintf(out, "\\n%p\\nimmortal\", style=bold];\n", (void *)o);
        else
            fprintf(out, "\\n%p\\nrefcnt %" PRId64 ", outside %" PRId64 "\"%s];\n",
                    (void *)o, heapgraph_refcnt(g, i), g->outside[i],
                    g->outside[i] > 0 ? ", style=bold" : "");
    }
    leaf_ctx l = {out, g};
    for (size_t i = 0; i < g->n; i++) {
        ouro_object *o = g->obj[i];
        if (!o->ob_type->traverse)
            continue;
        char name[32];
        snprintf(name, sizeof name, "%p", (void *)o);
        dump_ctx d = {out, true, true, name};
        o->ob_type->traverse(o, dot_untracked, &l);
        o->ob_type->traverse(o, dot_referent, &d);
    }
    fputs("}\n", out);
}

/* The objects of `list`, each with a reference, in an array. */
static int list_items(ouro_object *list, ouro_object ***out, size_t *n)
{
    size_t len = ouro_list_len(list), k = 0;
    ouro_object **v = ouro__mem_alloc((len ? len : 1) * sizeof *v);
    if (!v)
        return OURO_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        ouro_object *o = ouro_list_get(list, (ptrdiff_t)i);
        if (o)
            v[k++] = o;
    }
    *out = v;
    *n = k;
    return OURO_OK;
}

int ouro_gc_dump(FILE *out, int format, ouro_object *objects)
{
    ouro__reader("ouro_gc_dump");
    if (objects)
        ouro__check_alive(objects, "ouro_gc_dump");
    if (!out || (format != OURO_GC_DUMP_DOT && format != OURO_GC_DUMP_JSON) ||
        (objects && ouro_type_of(objects) != &ouro_list_type))
        return OURO_EINVAL;
    ouro_object **objs;
    size_t n;
    int err = objects ? list_items(objects, &objs, &n)
                      : ouro__heap_snapshot(NULL, NULL, &objs, &n);
    if (err != OURO_OK)
        return err;
    heapgraph g;
    if ((err = heapgraph_build(&g, objs, n)) != OURO_OK)
        return err;
    /* The list given holds a reference to each of its objects: not one
     * from outside (an object listed twice shows the second as outside). */
    if (objects)
        for (size_t i = 0; i < g.n; i++)
            if (g.outside[i] != OURO__OUTSIDE_IMMORTAL)
                g.outside[i] -= 1;
    if (format == OURO_GC_DUMP_DOT)
        dump_dot(out, &g);
    else
        dump_json(out, &g);
    heapgraph_free(&g);
    return ferror(out) ? OURO_EINVAL : OURO_OK;
}
