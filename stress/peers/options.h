/*
 * options.h - the command line shared by the per-system peer binaries
 * (ouro_peer, malloc_peer, boehm_peer):
 *
 *   --workload churn|cycles|server   which workload to run (required)
 *   --variant NAME                   system variant (each binary lists its own)
 *   --threads T                      churn threads / server mutators (default 1)
 *   --objects N                      churn: objects per thread; cycles: K
 *   --cycle N                        cycles: cycle length (default 2)
 *   --collections C                  cycles: build and collect C times in
 *                                    one process (default 1); the first
 *                                    is reported apart from the rest
 *   --live L                         server: live heap objects (default 1000000)
 *   --seconds S                      server: run length (default 5)
 *   --max-requests R                 server: per mutator (default 4000000)
 *   --trace PATH                     server: where to write the trace
 */
#ifndef PEERS_OPTIONS_H
#define PEERS_OPTIONS_H

typedef struct peer_options {
    const char *workload;
    const char *variant;
    int threads;
    long objects;
    long cycle;
    int collections;
    long live;
    double seconds;
    long max_requests;
    const char *trace;
} peer_options;

/* Fill *o from argv; 0, or -1 after printing what was wrong. */
int options_parse(peer_options *o, int argc, char **argv);

#endif /* PEERS_OPTIONS_H */
