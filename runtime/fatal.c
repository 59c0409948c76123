/*
 * fatal.c - reporting of broken invariants and of misuse that cannot be
 * returned as an error code.  One line on stderr, then abort(), so that a
 * debugger or a test harness sees the exact place.
 */
#include "argcheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void ouro__fatal_at(const char *file, int line, const char *func,
                    const char *fmt, ...)
{
    va_list ap;
    fputs("ouro: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " [%s:%d %s]\n", file, line, func);
    fflush(stderr);
    abort();
}

void ouro__die_null_arg(const char *api, const char *arg)
{
    ouro__fatal("%s: %s is NULL", api, arg);
}

void ouro__die_dead_arg(const char *api, const ouro_object *o)
{
    ouro__fatal("%s of a dead object (a '%s' at %p): its last reference "
                "was already released", api, o->ob_type->name,
                (const void *)o);
}

const char *ouro_strerror(int err)
{
    switch (err) {
    case OURO_OK: return "success";
    case OURO_ENOMEM: return "out of memory";
    case OURO_EINVAL: return "invalid argument";
    case OURO_ESTATE: return "invalid state for this call";
    case OURO_EINDEX: return "index out of range";
    case OURO_EKEY: return "key not found";
    default: return "unknown error";
    }
}
