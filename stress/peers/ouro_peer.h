/*
 * ouro_peer.h - ouro's side of workloads 2 to 4 (ouro_peer.c dispatches).
 * Each prints one JSON line per result and returns a process exit code.
 */
#ifndef PEERS_OURO_PEER_H
#define PEERS_OURO_PEER_H

#include <ouro.h>

#include "options.h"

/* ouro_nodes.c: a record type with two slots (after ouro_init), a new
 * node (aborts without memory), and a ring of len nodes linked through
 * slot 0, returned as its first node with the caller's reference. */
void peer_nodes_init(void);
ouro_object *peer_node_new(void);
ouro_object *peer_ring(long len);

int ouro_churn(const peer_options *o);
int ouro_cycles(const peer_options *o);
int ouro_server(const peer_options *o);

#endif /* PEERS_OURO_PEER_H */
