/*
 * escape.c - see escape.h.
 */
#include "escape.h"

static void put_byte(FILE *out, unsigned char c, enum ouro__escape style)
{
    char quote = style == OURO__ESCAPE_TEXT ? '\'' : '"';
    if (c == (unsigned char)quote || c == '\\') {
        fputc('\\', out);
        fputc(c, out);
        return;
    }
    if (c >= 0x20 && c < 0x7f) {
        fputc(c, out);
        return;
    }
    switch (style) {
    case OURO__ESCAPE_JSON:
        fprintf(out, "\\u%04x", c);
        break;
    case OURO__ESCAPE_DOT:
        fputc('?', out);
        break;
    case OURO__ESCAPE_TEXT:
        if (c == '\n')
            fputs("\\n", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c == '\t')
            fputs("\\t", out);
        else
            fprintf(out, "\\x%02x", c);
        break;
    }
}

void ouro__put_escaped(FILE *out, const char *s, size_t len, size_t max,
                       enum ouro__escape style)
{
    for (size_t i = 0; i < len && i < max; i++)
        put_byte(out, (unsigned char)s[i], style);
    if (len > max)
        fputs("...", out);
}
