#!/bin/sh
# Workload 3 of the peer benchmarks, small: each system builds and collects
# cycles three times in one process (--collections 3), and its JSON line
# must say that every collection freed them all, report the first one
# apart, and report as the figure the median of the other two (the lower,
# collections.h).  The same check for ouro, CPython and Boehm, so that the
# three follow one protocol.
#
# usage: cycles_test.sh OURO_PEER BOEHM_PEER CPYTHON_PEER_PY
set -eu
ouro=$1
boehm=$2
cpython=$3

check() {
    # stdin: one JSON line; $1: the system's name
    python3 -c '
import json, sys
name = sys.argv[1]
r = json.loads(sys.stdin.read().strip().splitlines()[-1])
each = r["collect_ms_each"]
assert r["system"] == name, r
assert r["verified"] is True, r
assert r["collections"] == 3 and len(each) == 3, r
assert r["first_collect_ms"] == each[0], r
assert r["collect_ms"] == min(each[1:]), r
if name != "boehm":   # Boehm may keep a few cycles (a conservative scan)
    assert r["found"] == r["objects"] == r["freed"], r
print(name, "ok:", each)
' "$1"
}

for len in 2 10; do
    "$ouro" --workload cycles --objects 20000 --cycle $len --collections 3 |
        check ouro
    python3 "$cpython" cycles --objects 20000 --cycle $len --collections 3 |
        check cpython
    "$boehm" --workload cycles --objects 20000 --cycle $len --collections 3 |
        check boehm
done
