/*
 * shape.h - the shapes of the peer workloads, shared by every C system.
 * cpython_peer.py repeats these numbers; keep the two in step.
 *
 * Every object is a node with two pointer fields, a and b.
 */
#ifndef PEERS_SHAPE_H
#define PEERS_SHAPE_H

/* Allocation churn: each thread keeps a ring of this many objects; each new
 * object replaces (and so drops) the oldest one. */
#define CHURN_RING 64

/* Live heap: rings of CLUSTER nodes linked through a, held by a root array
 * of their first nodes; b starts empty. */
#define CLUSTER 8

/* One request: a graph of GRAPH_MIN..GRAPH_MAX nodes, linked in a ring
 * through a (a cycle), every node's b pointing back at the head, and the
 * head's b at a live node; then TOUCHES reads of random live nodes (load
 * the node, follow its a link); every WRITE_EVERY-th request also stores
 * into the live heap (node.b = node.a); then the graph is dropped. */
#define GRAPH_MIN 8
#define GRAPH_MAX 16
#define TOUCHES 4
#define WRITE_EVERY 8

/* Mutators call ouro_safepoint() this often in the counting and churn
 * loops (ouro only), and once per request in the server workload. */
#define SAFEPOINT_EVERY 64

#endif /* PEERS_SHAPE_H */
