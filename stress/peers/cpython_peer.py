#!/usr/bin/env python3
"""CPython in the peer benchmarks: workloads 3 (cycles) and 4 (server).

The shapes are those of shape.h, with a Node class of two slots, a and b:

  cpython_peer.py cycles --objects K --cycle LEN [--collections C]
  cpython_peer.py server --threads T --live L --seconds S --trace PATH

cycles: K nodes in cycles of LEN, built with the collector disabled and
dropped, then one timed gc.collect(); its return value must be K.  With
--collections C, that C times in one process: the first collection is
reported apart, the figure is the median of the rest (collections.h).

server: T threads (they take turns under the GIL) serve requests against a
live heap of L nodes, with automatic collection on, as a user runs it.
Before the run, one timed gc.collect() on the live heap gives the
full-collection pause (idle_collect_ms); it also moves the heap into the
oldest generation, as a long-running program's heap would be.  gc.callbacks
time every collection during the run (CPython's own pause accounting).
Each thread writes the monotonic clock at every request boundary into the
trace file (format in trace.h).

One JSON line on stdout per run.
"""
import argparse
import array
import gc
import json
import random
import resource
import struct
import sys
import threading
import time

# shape.h's numbers; keep the two in step.
CLUSTER = 8
GRAPH_MIN, GRAPH_MAX = 8, 16
TOUCHES = 4
WRITE_EVERY = 8


class Node:
    __slots__ = ("a", "b")


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def runqueue_wait_ns():
    """Time the calling thread has waited for a CPU (runqueue.h); None if
    the kernel does not say."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None


def build_and_collect(ncycles, length):
    """One collection of workload 3: (build ns, collect ns, gc.collect()'s
    return value)."""
    gc.disable()
    t0 = time.perf_counter_ns()
    for _ in range(ncycles):
        first = Node()
        first.b = None
        prev = first
        for _ in range(length - 1):
            n = Node()
            n.b = None
            prev.a = n
            prev = n
        prev.a = first
    first = prev = n = None
    build_ns = time.perf_counter_ns() - t0
    t0 = time.perf_counter_ns()
    found = gc.collect()
    return build_ns, time.perf_counter_ns() - t0, found


def steady_collection(ns):
    """collections.h's choice: the median of the collections after the
    first (the lower middle one), or the first when there is no other."""
    if len(ns) < 2:
        return 0
    later = sorted(range(1, len(ns)), key=lambda i: (ns[i], i))
    return later[(len(later) - 1) // 2]


def run_cycles(args):
    ncycles = args.objects // args.cycle
    k = ncycles * args.cycle
    gc.collect()
    runs = [build_and_collect(ncycles, args.cycle)
            for _ in range(args.collections)]
    each = [r[1] for r in runs]
    build_ns, collect_ns, found = runs[steady_collection(each)]
    first_ns = runs[0][1]
    return {
        "workload": "cycles", "system": "cpython", "cycle": args.cycle,
        "objects": k, "collections": args.collections, "found": found,
        "freed": found, "collect_ms": round(collect_ns / 1e6, 3),
        "ns_per_object": round(collect_ns / k, 2),
        "first_collect_ms": round(first_ns / 1e6, 3),
        "first_ns_per_object": round(first_ns / k, 2),
        "build_ms": round(build_ns / 1e6, 1),
        "verified": all(r[2] == k for r in runs),
        "python": sys.version.split()[0], "peak_rss_mib": round(peak_rss_mib(), 1),
        "collect_ms_each": [round(x / 1e6, 3) for x in each],
    }


def build_live(live):
    clusters = []
    for _ in range(live // CLUSTER):
        first = Node()
        first.b = None
        prev = first
        for _ in range(CLUSTER - 1):
            n = Node()
            n.b = None
            prev.a = n
            prev = n
        prev.a = first
        clusters.append(first)
    return clusters


def make_request(clusters):
    """The request of shape.h, bound to this heap."""
    nclusters = len(clusters)
    span = GRAPH_MAX - GRAPH_MIN + 1

    def request(rand, k):
        n = GRAPH_MIN + int(rand() * span)
        head = Node()
        head.a = None
        prev = head
        for _ in range(n - 1):
            x = Node()
            x.a = None
            x.b = head           # back-reference
            prev.a = x
            prev = x
        prev.a = head            # the cycle
        seen = None
        for t in range(TOUCHES):
            nxt = clusters[int(rand() * nclusters)].a
            if t == 0:
                head.b = nxt     # the graph refers to the heap
            seen = nxt.a
        if k % WRITE_EVERY == 0:
            live = clusters[int(rand() * nclusters)]
            live.b = live.a
        return seen

    return request


def run_server(args):
    gc.disable()
    t0 = time.perf_counter_ns()
    clusters = build_live(args.live)
    build_ns = time.perf_counter_ns() - t0
    t0 = time.perf_counter_ns()
    idle_found = gc.collect()
    idle_collect_ns = time.perf_counter_ns() - t0

    pauses = []          # ns, one per collection during the run
    began = [0]

    def on_gc(phase, info):
        if phase == "start":
            began[0] = time.perf_counter_ns()
        else:
            pauses.append(time.perf_counter_ns() - began[0])

    request = make_request(clusters)
    traces = [array.array("Q") for _ in range(args.threads)]
    counts = [0] * args.threads
    barrier = threading.Barrier(args.threads)
    clocks = {}
    waits = [None] * args.threads

    def mutator(tid):
        rand = random.Random(tid + 1).random
        trace = traces[tid]
        mark = trace.append
        now_ns = time.monotonic_ns
        barrier.wait()
        wait0 = runqueue_wait_ns()
        if tid == 0:
            clocks["cpu0"] = time.process_time_ns()
        now = now_ns()
        deadline = now + int(args.seconds * 1e9)
        mark(now)
        k = 0
        limit = args.max_requests
        while True:
            request(rand, k)
            k += 1
            now = now_ns()
            mark(now)
            if now >= deadline or k >= limit:
                break
        counts[tid] = k
        wait1 = runqueue_wait_ns()
        if wait0 is not None and wait1 is not None:
            waits[tid] = wait1 - wait0

    gc.callbacks.append(on_gc)
    gc.enable()
    threads = [threading.Thread(target=mutator, args=(i,))
               for i in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu = time.process_time_ns() - clocks["cpu0"]
    gc.disable()
    gc.callbacks.remove(on_gc)
    wall = max(tr[-1] for tr in traces) - min(tr[0] for tr in traces)

    with open(args.trace, "wb") as f:
        f.write(struct.pack("<Q", args.threads))
        for tr in traces:
            f.write(struct.pack("<Q", len(tr)))
            f.write(tr.tobytes())

    requests = sum(counts)
    span = sum(tr[-1] - tr[0] for tr in traces)
    runq = (round(sum(waits) / span, 4)
            if None not in waits and span else -1)
    pauses.sort()

    def pct(p):
        return round(pauses[int(p * (len(pauses) - 1) + 0.5)] / 1e3, 2) if pauses else 0

    return {
        "workload": "server", "system": "cpython", "live": args.live,
        "mutators": args.threads, "seconds": round(wall / 1e9, 3),
        "requests": requests, "requests_per_s": round(requests / (wall / 1e9)),
        "cpu_us_per_request": round(cpu / 1e3 / requests, 3) if requests else 0,
        "build_s": round(build_ns / 1e9, 2),
        "idle_collect_ms": round(idle_collect_ns / 1e6, 1),
        "idle_collect_found": idle_found, "collections": len(pauses),
        "collecting_s": round(sum(pauses) / 1e9, 3),
        "own_pauses": len(pauses), "own_pause_p50_us": pct(0.5),
        "own_pause_p99_us": pct(0.99), "own_pause_p999_us": pct(0.999),
        "own_pause_max_us": pct(1.0), "python": sys.version.split()[0],
        "switch_interval_ms": sys.getswitchinterval() * 1e3,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "runqueue_wait_fraction": runq, "trace": args.trace,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("workload", choices=["cycles", "server"])
    p.add_argument("--objects", type=int, default=1000000)
    p.add_argument("--cycle", type=int, default=2)
    p.add_argument("--collections", type=int, default=1,
                   help="cycles: build and collect this many times; the "
                        "first is reported apart from the rest")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--live", type=int, default=1000000)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--max-requests", type=int, default=4000000)
    p.add_argument("--trace")
    args = p.parse_args()
    if args.collections < 1:
        p.error("--collections must be at least 1")
    if args.workload == "server" and not args.trace:
        p.error("server needs --trace PATH")
    result = run_cycles(args) if args.workload == "cycles" else run_server(args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
