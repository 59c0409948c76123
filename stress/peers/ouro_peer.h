/*
 * ouro_peer.h - ouro's side of workloads 2 to 4 (ouro_peer.c dispatches).
 * Each prints one JSON line per result and returns a process exit code.
 */
#ifndef PEERS_OURO_PEER_H
#define PEERS_OURO_PEER_H

#include "options.h"

int ouro_churn(const peer_options *o);
int ouro_cycles(const peer_options *o);
int ouro_server(const peer_options *o);

#endif /* PEERS_OURO_PEER_H */
