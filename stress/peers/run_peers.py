#!/usr/bin/env python3
"""run_peers.py - the peer benchmarks in one run: every workload, every
system, the tables, one JSON line per result, and the plots.

  ./dev peers [--quick] [options]          (builds, then runs this)
  python3 stress/peers/run_peers.py --bindir DIR [--quick] [options]

DIR holds the optimised binaries (count_peers, ouro_peer, malloc_peer,
boehm_peer).  The Python side runs under the same interpreter as this
script.  Results go to stdout, and to OUT/peers-results.md (tables) and
OUT/peers.jsonl (one JSON object per result); plots to OUT/*.svg.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True   # no caches in the source tree
sys.path.insert(0, HERE)
import traces  # noqa: E402

SERVER_SYSTEMS = [
    # (name, command builder)
    ("ouro", lambda b, a: [f"{b}/ouro_peer", "--variant", "gc"] + a),
    ("ouro-nogc", lambda b, a: [f"{b}/ouro_peer", "--variant", "nogc"] + a),
    ("boehm", lambda b, a: [f"{b}/boehm_peer", "--variant", "default"] + a),
    ("boehm-incremental",
     lambda b, a: [f"{b}/boehm_peer", "--variant", "incremental"] + a),
    ("boehm-serial", lambda b, a: [f"{b}/boehm_peer", "--variant", "serial"] + a),
    ("cpython", lambda b, a: [sys.executable, f"{HERE}/cpython_peer.py"] + a),
]


class Report:
    """Collects tables and JSON lines; prints them as they come."""

    def __init__(self):
        self.lines = []
        self.results = []

    def say(self, text=""):
        print(text, flush=True)
        self.lines.append(text)

    def table(self, header, rows):
        self.say("| " + " | ".join(header) + " |")
        self.say("|" + "---|" * len(header))
        for r in rows:
            self.say("| " + " | ".join(str(c) for c in r) + " |")
        self.say()

    def result(self, obj):
        self.results.append(obj)
        print(json.dumps(obj), flush=True)


def run_json(cmd, env=None):
    """Run one measurement; its JSON lines (stdout lines starting with {)."""
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    out = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not out:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n"
                           f"{p.stdout}{p.stderr}")
    return out


def fmt(x):
    if x is None:
        return "n/a"
    if isinstance(x, int):
        return f"{x:,}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def human(n):
    return f"{n // 1000000}M" if n % 1000000 == 0 else f"{n // 1000}k"


# ---- workload 1

def counting(args, rep):
    rep.say(f"## Workload 1: counting (ns per increment+decrement pair per "
            f"thread; {args.pairs:,} pairs per thread, median of "
            f"{args.count_rounds} interleaved rounds)")
    rep.say()
    rows = run_json([f"{args.bindir}/count_peers", "--threads",
                     str(args.threads), "--pairs", str(args.pairs),
                     "--rounds", str(args.count_rounds)])
    by = {(r["system"], r["threads"]): r for r in rows}
    systems = ["ouro", "plain", "atomic", "ouro-shared", "atomic-shared"]
    reference = {"ouro": "ouro", "plain": "ouro", "atomic": "ouro",
                 "ouro-shared": "ouro-shared", "atomic-shared": "ouro-shared"}
    ts = range(1, args.threads + 1)
    for clock, key in (("wall clock", "ns_per_pair"),
                       ("thread CPU clocks", "cpu_ns_per_pair")):
        rep.say(f"By the {clock}; in brackets the ratio to ouro (per-thread "
                f"objects) or to ouro-shared (one shared object):")
        rep.say()
        table = []
        for s in systems:
            row = [s]
            for t in ts:
                v, ref = by[(s, t)][key], by[(reference[s], t)][key]
                row.append(f"{v:.2f} ({ratio(v, ref):.2f}x)")
            table.append(row)
        table.append(["plain, shared"] + ["n/a: a data race"] * len(ts))
        rep.table(["system"] + [f"{t} thread{'s' if t > 1 else ''}" for t in ts],
                  table)
    for r in rows:
        rep.result(r)
    return by


# ---- workload 2

def churn(args, rep):
    rep.say(f"## Workload 2: allocation churn (ns per object per thread; "
            f"{args.churn_objects:,} objects per thread, median of "
            f"{args.rounds} rounds)")
    rep.say()
    systems = [
        ("ouro-tracked", [f"{args.bindir}/ouro_peer", "--variant", "tracked"]),
        ("ouro-untracked", [f"{args.bindir}/ouro_peer", "--variant", "untracked"]),
        ("malloc", [f"{args.bindir}/malloc_peer"]),
        ("boehm", [f"{args.bindir}/boehm_peer"]),
    ]
    runs = {}
    for _ in range(args.rounds):
        for t in (1, 2):
            for name, cmd in systems:
                r = run_json(cmd + ["--workload", "churn", "--threads", str(t),
                                    "--objects", str(args.churn_objects)])[0]
                runs.setdefault((name, t), []).append(r)
    med = {}
    for key, rs in runs.items():
        rs.sort(key=lambda r: r["ns_per_object"])
        med[key] = rs[len(rs) // 2]
    table = []
    for name, _ in systems:
        row = [name, med[(name, 1)]["object_bytes"]]
        for t in (1, 2):
            r, ref = med[(name, t)], med[("ouro-tracked", t)]
            row += [f"{r['ns_per_object']:.1f}", f"{r['cpu_ns_per_object']:.1f}",
                    f"{ratio(r['ns_per_object'], ref['ns_per_object']):.2f}x"]
        row.append("yes" if all(med[(name, t)]["all_freed"] for t in (1, 2))
                   else "NO")
        table.append(row)
    rep.table(["system", "bytes/object", "1 thread: wall", "CPU", "vs ouro",
               "2 threads: wall", "CPU", "vs ouro", "reclaimed"], table)
    for key in sorted(med):
        rep.result(med[key])
    return med


# ---- workload 3

def cycles(args, rep):
    rep.say(f"## Workload 3: cyclic garbage ({args.cycles:,} objects; "
            f"{args.collections} collections per process, the first "
            f"reported apart; median of {args.rounds} processes)")
    rep.say()
    lengths = (2, 10, 1000)
    runs = {}
    for _ in range(args.rounds):
        for n in lengths:
            common = ["--objects", str(args.cycles), "--cycle", str(n),
                      "--collections", str(args.collections)]
            for name, cmd in (
                ("ouro", [f"{args.bindir}/ouro_peer", "--workload", "cycles"]),
                ("cpython", [sys.executable, f"{HERE}/cpython_peer.py", "cycles"]),
                ("boehm", [f"{args.bindir}/boehm_peer", "--workload", "cycles"]),
            ):
                runs.setdefault((name, n), []).append(run_json(cmd + common)[0])
    med = {}
    for key, rs in runs.items():
        rs.sort(key=lambda r: r["ns_per_object"])
        med[key] = dict(rs[len(rs) // 2])
        firsts = sorted(r["first_ns_per_object"] for r in rs)
        med[key]["first_ns_per_object"] = firsts[len(firsts) // 2]
    table = []
    for n in lengths:
        ref = med[("ouro", n)]["ns_per_object"]
        ref1 = med[("ouro", n)]["first_ns_per_object"]
        for name in ("ouro", "cpython", "boehm"):
            r = med[(name, n)]
            table.append([n, name, f"{r['collect_ms']:.1f}",
                          f"{r['ns_per_object']:.1f}",
                          f"{ratio(r['ns_per_object'], ref):.2f}x",
                          f"{r['first_ns_per_object']:.1f}",
                          f"{ratio(r['first_ns_per_object'], ref1):.2f}x",
                          f"{r['freed']:,.0f}",
                          "yes" if all(x["verified"] for x in runs[(name, n)])
                          else "NO"])
    rep.table(["cycle length", "system", "collect ms", "ns per freed object",
               "vs ouro", "first collection: ns per object", "vs ouro",
               "freed", "verified"], table)
    rep.say("The first collection of a process also pays for memory touched "
            "for the first time (ouro: its side table's fresh pages); the "
            "others are the steady state of a long-running program.")
    rep.say("ouro's collector CPU per object (ns): " + ", ".join(
        f"length {n}: {med[('ouro', n)]['collector_cpu_ns_per_object']:.0f}"
        for n in lengths))
    rep.say()
    for key in sorted(med):
        rep.result(med[key])
    return med


# ---- workload 4

def server(args, rep, live, workdir, plotdata):
    rep.say(f"## Workload 4: server, live heap {live:,} objects "
            f"({args.mutators} mutators, {args.seconds:g} s per system)")
    rep.say()
    common = ["--threads", str(args.mutators), "--live", str(live),
              "--seconds", str(args.seconds), "--max-requests",
              str(args.max_requests)]
    res = {}
    for name, build in SERVER_SYSTEMS:
        path = os.path.join(workdir, f"{name}-{live}.trace")
        wl = ["server"] if name == "cpython" else ["--workload", "server"]
        try:
            r = run_json(build(args.bindir, wl + common + ["--trace", path]))[0]
        except RuntimeError as e:
            rep.say(f"{name}: not measured: {e}")
            continue
        t = traces.Trace(path)
        r.update({k: round(v, 3) for k, v in t.latency_summary().items()})
        r.update({k: round(v, 4) for k, v in t.pause_summary().items()})
        mmu = t.mmu(traces.mmu_windows())
        for w, u in mmu:
            if w in (1000000, 10000000, 100000000):
                r[f"mmu_{w // 1000000}ms"] = round(u, 3)
        r["system"] = name
        r.pop("trace", None)   # a temporary file, gone after this run
        res[name] = r
        rep.result(r)
        tag = f"{human(live)}_{name}"
        with open(os.path.join(plotdata, f"latency_{tag}.dat"), "w") as f:
            f.writelines(f"{x:.6g} {y:.6g}\n" for x, y in t.latency_curve())
        with open(os.path.join(plotdata, f"pauses_{tag}.dat"), "w") as f:
            rows = t.pause_histogram() or [(0, 0, 0)]
            f.writelines(f"{lo:.6g} {hi:.6g} {c}\n" for lo, hi, c in rows)
        with open(os.path.join(plotdata, f"mmu_{tag}.dat"), "w") as f:
            f.writelines(f"{w / 1e6:.6g} {u:.6g}\n" for w, u in mmu)
        os.remove(path)
    ref = res.get("ouro", {}).get("p99_us")
    rep.table(
        ["system", "requests/s", "CPU us/request", "p50 us", "p90 us", "p99 us",
         "p99.9 us", "max us", "p99 vs ouro", "pauses", "max pause us",
         "MMU 1 ms", "MMU 10 ms", "MMU 100 ms", "waiting for a CPU",
         "peak RSS MiB"],
        [[n, f"{r['requests_per_s']:,.0f}", f"{r['cpu_us_per_request']:.2f}",
          fmt(r["p50_us"]), fmt(r["p90_us"]), fmt(r["p99_us"]),
          fmt(r["p99.9_us"]), fmt(r["max_us"]),
          f"{ratio(r['p99_us'], ref):.2f}x" if ref else "n/a",
          r["pauses"], fmt(r["pause_max_us"]), fmt(r.get("mmu_1ms")),
          fmt(r.get("mmu_10ms")), fmt(r.get("mmu_100ms")),
          f"{r['runqueue_wait_fraction']:.0%}"
          if r["runqueue_wait_fraction"] >= 0 else "n/a",
          f"{r['peak_rss_mib']:,.0f}"] for n, r in res.items()])
    rep.say("Latency and pauses come from the request traces, computed the "
            "same way for every system (stress/peers/traces.py); \"waiting "
            "for a CPU\" is the share of the mutators' time they were "
            "runnable but not running (Linux schedstat), which the traces "
            "count as pauses too.")
    rep.say()
    rep.say("Each system's own pause accounting (ouro: ouro_gc_pauses by wall "
            "and thread CPU clock, every safepoint slow path; Boehm: stop of "
            "the world to restart; CPython: gc.callbacks, each collection), "
            "collections during the run, and one full collection on the "
            "live heap before the run, with the mutators not started (for "
            "Boehm and CPython a stop-the-world pause; for ouro a concurrent "
            "collection that stops nobody):")
    rep.say()
    own = []
    for n, r in res.items():
        cpu = (f"{fmt(r['own_pause_cpu_p99_us'])} / "
               f"{fmt(r['own_pause_cpu_max_us'])}"
               if "own_pause_cpu_max_us" in r else "n/a")
        own.append([n, r["own_pauses"], fmt(r["own_pause_p50_us"]),
                    fmt(r["own_pause_p99_us"]), fmt(r["own_pause_max_us"]), cpu,
                    r.get("collections", "n/a"),
                    fmt(r["idle_collect_ms"])])
    rep.table(["system", "own pauses", "p50 us", "p99 us", "max us",
               "CPU clock p99 / max us", "collections",
               "full collection on the live heap, ms"],
              own)
    versions = [f"{n}: Boehm GC {r['libgc']}, {r['markers']} marker "
                f"thread{'s' if r['markers'] > 1 else ''}"
                f"{', incremental' if r['incremental'] else ''}"
                for n, r in res.items() if "libgc" in r]
    if "cpython" in res:
        versions.append(f"cpython: CPython {res['cpython']['python']}, "
                        f"switch interval "
                        f"{res['cpython']['switch_interval_ms']:g} ms")
    rep.say("; ".join(versions) + ".")
    rep.say()
    if "ouro" in res:
        o = res["ouro"]
        rep.say(f"ouro during the run: {o['collected']:,} objects collected in "
                f"{o['collections']} collections ({o['collecting_s']:.2f} s "
                f"collecting); objects alive {o['objects_at_start']:,} at the "
                f"start and {o['objects_at_end']:,} at the end.")
        rep.say()
    return res


def plots(args, plotdata, lives, rep):
    if not shutil.which("gnuplot"):
        rep.say("gnuplot not found: no plots (./dev setup installs it)")
        return
    os.makedirs(args.out, exist_ok=True)
    for live in lives:
        tag = human(live)
        systems = " ".join(n for n, _ in SERVER_SYSTEMS if os.path.exists(
            os.path.join(plotdata, f"latency_{tag}_{n}.dat")))
        subprocess.run(["gnuplot", "-e",
                        f"datadir='{plotdata}'; outdir='{args.out}'; "
                        f"live='{tag}'; systems='{systems}'",
                        os.path.join(HERE, "plots.gp")], check=True)
        rep.say(f"plots: {', '.join(f'{k}_{tag}.svg' for k in ('pauses', 'latency', 'mmu'))}")


def targets(rep, count, cyc, srv):
    rep.say("## Targets")
    rep.say()
    rows = []

    def row(name, value, goal, met):
        rows.append([name, value, goal, "met" if met else "not met"])

    for live, res in srv.items():
        o = res.get("ouro")
        if not o:
            continue
        for peer in ("boehm", "cpython"):
            if peer in res and o["pause_max_us"] > 0:
                x = res[peer]["idle_collect_ms"] * 1e3 / o["pause_max_us"]
                row(f"{human(live)}: {peer} full collection / ouro max pause "
                    f"(traces)", f"{x:.1f}x ({fmt(res[peer]['idle_collect_ms'])} ms"
                    f" / {fmt(o['pause_max_us'] / 1e3)} ms)", ">= 50x", x >= 50)
            if peer in res and o.get("own_pause_cpu_max_us"):
                x = res[peer]["idle_collect_ms"] * 1e3 / o["own_pause_cpu_max_us"]
                row(f"{human(live)}: {peer} full collection / ouro max pause "
                    f"(own, CPU clock)", f"{x:.1f}x", ">= 50x", x >= 50)
        if "ouro-nogc" in res:
            x = o["p99_us"] / res["ouro-nogc"]["p99_us"]
            row(f"{human(live)}: p99 latency, collector on / off", f"{x:.2f}x",
                "<= 1.2x", x <= 1.2)
    for n in (2, 10, 1000):
        if ("ouro", n) in cyc and ("cpython", n) in cyc:
            x = cyc[("cpython", n)]["ns_per_object"] / cyc[("ouro", n)]["ns_per_object"]
            row(f"cycles of {n}: ouro throughput / CPython's (steady)",
                f"{x:.2f}x", ">= 1.5x", x >= 1.5)
            x = (cyc[("cpython", n)]["first_ns_per_object"] /
                 cyc[("ouro", n)]["first_ns_per_object"])
            row(f"cycles of {n}: the same, first collection of a process",
                f"{x:.2f}x", ">= 1.5x", x >= 1.5)
    x = count[("ouro", 1)]["ns_per_pair"] / count[("plain", 1)]["ns_per_pair"]
    row("owner counting / plain counter (1 thread)", f"{x:.2f}x", "<= 2.5x",
        x <= 2.5)
    for t in sorted({t for (_, t) in count if t >= 2}):
        x = (count[("ouro-shared", t)]["ns_per_pair"] /
             count[("atomic-shared", t)]["ns_per_pair"])
        row(f"contended counting, {t} threads: ouro / C11 atomics",
            f"{x:.2f}x", "< 1x", x < 1)
    rep.table(["target", "measured", "goal", ""], rows)
    for r in rows:
        rep.result({"workload": "targets", "system": "ouro", "target": r[0],
                    "measured": r[1], "goal": r[2], "met": r[3] == "met"})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bindir", required=True)
    p.add_argument("--quick", action="store_true",
                   help="small sizes: the whole run in about 2 minutes")
    p.add_argument("--out", default=os.path.join(HERE, "..", "..", "docs", "plots"))
    p.add_argument("--threads", type=int, default=4,
                   help="counting: up to this many threads")
    p.add_argument("--mutators", type=int, default=2)
    p.add_argument("--live", type=int, action="append",
                   help="server live heap (repeatable); default 1M and 10M")
    p.add_argument("--seconds", type=float, help="server run per system")
    p.add_argument("--cycles", type=int, help="workload 3: objects")
    p.add_argument("--only", help="comma list of workloads: count,churn,cycles,server")
    args = p.parse_args()
    q = args.quick
    args.pairs = 2_000_000 if q else 10_000_000
    args.count_rounds = 3 if q else 5
    args.rounds = 1 if q else 3
    args.collections = 2 if q else 4
    args.churn_objects = 1_000_000 if q else 4_000_000
    args.cycles = args.cycles or (200_000 if q else 1_000_000)
    args.seconds = args.seconds or (1.5 if q else 5.0)
    args.max_requests = 2_000_000 if q else 4_000_000
    lives = args.live or ([200_000] if q else [1_000_000, 10_000_000])
    only = set((args.only or "count,churn,cycles,server").split(","))
    args.out = os.path.abspath(args.out)

    rep = Report()
    started = time.time()
    rep.say("# Peer benchmarks")
    rep.say()
    rep.say(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; "
            f"{'quick' if q else 'full'} run; load average at start "
            f"{os.getloadavg()[0]:.1f}")
    rep.say()
    workdir = tempfile.mkdtemp(prefix="peers-")
    plotdata = os.path.join(workdir, "plotdata")
    os.makedirs(plotdata)
    count, cyc, srv = {}, {}, {}
    try:
        if "count" in only:
            count = counting(args, rep)
        if "churn" in only:
            churn(args, rep)
        if "cycles" in only:
            cyc = cycles(args, rep)
        if "server" in only:
            for live in lives:
                srv[live] = server(args, rep, live, workdir, plotdata)
            plots(args, plotdata, lives, rep)
        if count and cyc and srv:
            targets(rep, count, cyc, srv)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rep.say(f"total time {time.time() - started:.0f} s; load average at end "
            f"{os.getloadavg()[0]:.1f}")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "peers-results.md"), "w") as f:
        f.write("\n".join(rep.lines) + "\n")
    with open(os.path.join(args.out, "peers.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rep.results)


if __name__ == "__main__":
    main()
