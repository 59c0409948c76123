/*
 * ouro_peer.c - ouro in the peer benchmarks: workloads 2 (churn), 3
 * (cycles) and 4 (server).  Run by run_peers.py; by hand:
 *
 *   ouro_peer --workload churn  --variant tracked|untracked --threads T
 *             --objects N
 *   ouro_peer --workload cycles --objects K --cycle LEN
 *   ouro_peer --workload server --variant gc|nogc --threads T --live L
 *             --seconds S --trace PATH
 */
#include <stdio.h>
#include <string.h>

#include "options.h"
#include "ouro_peer.h"

int main(int argc, char **argv)
{
    peer_options o;
    if (options_parse(&o, argc, argv) != 0)
        return 2;
    if (!strcmp(o.workload, "churn"))
        return ouro_churn(&o);
    if (!strcmp(o.workload, "cycles"))
        return ouro_cycles(&o);
    if (!strcmp(o.workload, "server"))
        return ouro_server(&o);
    fprintf(stderr, "%s: no workload %s\n", argv[0], o.workload);
    return 2;
}
