/*
 * options.c - parsing the peer binaries' shared command line (options.h).
 */
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int options_parse(peer_options *o, int argc, char **argv)
{
    *o = (peer_options){.variant = "default", .threads = 1,
                        .objects = 1000000, .cycle = 2, .collections = 1,
                        .live = 1000000, .seconds = 5,
                        .max_requests = 4000000};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "%s: %s needs a value\n", argv[0], a);
            return -1;
        }
        i++;
        if (!strcmp(a, "--workload"))
            o->workload = v;
        else if (!strcmp(a, "--variant"))
            o->variant = v;
        else if (!strcmp(a, "--threads"))
            o->threads = atoi(v);
        else if (!strcmp(a, "--objects"))
            o->objects = atol(v);
        else if (!strcmp(a, "--cycle"))
            o->cycle = atol(v);
        else if (!strcmp(a, "--collections"))
            o->collections = atoi(v);
        else if (!strcmp(a, "--live"))
            o->live = atol(v);
        else if (!strcmp(a, "--seconds"))
            o->seconds = atof(v);
        else if (!strcmp(a, "--max-requests"))
            o->max_requests = atol(v);
        else if (!strcmp(a, "--trace"))
            o->trace = v;
        else {
            fprintf(stderr, "%s: unknown option %s\n", argv[0], a);
            return -1;
        }
    }
    if (!o->workload) {
        fprintf(stderr, "%s: --workload churn|cycles|server is required\n",
                argv[0]);
        return -1;
    }
    if (o->threads < 1 || o->threads > 64 || o->objects < 1 || o->cycle < 1 ||
        o->collections < 1 || o->collections > 100 ||
        o->live < 8 || o->seconds <= 0 || o->max_requests < 1) {
        fprintf(stderr, "%s: an option is out of range\n", argv[0]);
        return -1;
    }
    return 0;
}
