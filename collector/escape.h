/*
 * escape.h - writing arbitrary bytes (type names, str values, dict keys)
 * inside the quotes of the leak tools' output (escape.c), so that no name
 * or key can end a string early, break a line, or be cut at a NUL.
 */
#ifndef OURO_GC_ESCAPE_H
#define OURO_GC_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

enum ouro__escape {
    /* Inside "...": \" and \\, control and non-ASCII bytes as \u00XX. */
    OURO__ESCAPE_JSON,
    /* Inside a Graphviz "..." label: \" and \\, other unprintable bytes as
     * '?' (a label's backslash sequences are layout commands). */
    OURO__ESCAPE_DOT,
    /* Inside '...' of the "why alive" printer: \' and \\, \n \r \t, other
     * unprintable bytes as \xNN. */
    OURO__ESCAPE_TEXT,
};

/* Write the first `max` of the `len` bytes at s (NULs included), escaped
 * for `style`, and "..." if some were left out. */
void ouro__put_escaped(FILE *out, const char *s, size_t len, size_t max,
                       enum ouro__escape style);

#endif /* OURO_GC_ESCAPE_H */
