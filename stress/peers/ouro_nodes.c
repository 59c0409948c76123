/*
 * ouro_nodes.c - the node every ouro workload uses (a record with two
 * slots, like the peers' nodes), and rings of them.
 */
#include "ouro_peer.h"

#include <stdlib.h>

static ouro_type node_type;

void peer_nodes_init(void)
{
    ouro_record_type_init(&node_type, "Node", 2, NULL);
}

ouro_object *peer_node_new(void)
{
    ouro_object *n = ouro_record_new(&node_type);
    if (!n)
        abort();
    return n;
}

ouro_object *peer_ring(long len)
{
    ouro_object *first = peer_node_new(), *prev = first;
    for (long i = 1; i < len; i++) {
        ouro_object *n = peer_node_new();
        ouro_record_set(prev, 0, n);
        if (prev != first)
            ouro_decref(prev);
        prev = n;
    }
    ouro_record_set(prev, 0, first);
    if (prev != first)
        ouro_decref(prev);
    return first;
}
