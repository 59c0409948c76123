#!/bin/sh
# check.sh MODEL.pml - model-check ouro's cycle-collection protocol with SPIN.
#
# Runs every variant of MODEL.pml below: `spin -a`, gcc, ./pan.  Exits 0
# when each correct variant completes an exhaustive search with 0 errors
# and each broken or sanity variant reports at least one error.
#
# pan is compiled with
#   -DSAFETY    only assertions and end states are checked (no never claim,
#               no cycle detection is needed for a safety property);
#   -DCOLLAPSE  lossless state compression: still an exhaustive search, with
#               about 4x less memory (and no slower here);
#   -DMEMLIM    a memory cap, so a model grown too large fails cleanly
#               instead of exhausting the machine;
# and no -DBITSTATE or hash compaction, which could miss states.
#
# Environment: SPIN (default spin), CC (default gcc), VERBOSE=1 prints
# pan's full output and, for failing variants, a filtered trail.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 path/to/collector.pml" >&2
    exit 2
fi
case $1 in
/*) model=$1 ;;
*) model=$(pwd)/$1 ;;
esac
[ -r "$model" ] || { echo "check.sh: cannot read $model" >&2; exit 2; }

SPIN=${SPIN:-spin}
CC=${CC:-gcc}
VERBOSE=${VERBOSE:-}
command -v "$SPIN" >/dev/null 2>&1 || { echo "check.sh: $SPIN not found (apt-get install spin)" >&2; exit 2; }
command -v "$CC" >/dev/null 2>&1 || { echo "check.sh: $CC not found" >&2; exit 2; }

# Bazel's sandbox: write only under TEST_TMPDIR.
work=$(mktemp -d "${TEST_TMPDIR:-${TMPDIR:-/tmp}}/ouro-model.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

CFLAGS="-O2 -w -DSAFETY -DCOLLAPSE -DMEMLIM=4096"
PANFLAGS="-m10000 -w24"

# run NAME DEFINES...: verify one variant in $work/NAME; leaves pan.out.
run() {
    name=$1
    shift
    dir=$work/$name
    mkdir "$dir"
    cp "$model" "$dir/collector.pml"
    (
        cd "$dir"
        "$SPIN" "$@" -a collector.pml >spin.out 2>&1 || { cat spin.out >&2; exit 1; }
        # shellcheck disable=SC2086
        "$CC" $CFLAGS -o pan pan.c >cc.out 2>&1 || { cat cc.out >&2; exit 1; }
        # shellcheck disable=SC2086
        ./pan $PANFLAGS >pan.out 2>&1 || true
    ) || echo "error: could not build $name" >"$dir/pan.out"
}

field() { # field FILE: errors, states stored, elapsed seconds
    errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$1" | head -n 1)
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$1" | head -n 1)
    secs=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' "$1" | head -n 1)
    : "${errors:=?}" "${states:=?}" "${secs:=?}"
}

failed=0

# expect_pass NAME: exhaustive search, 0 errors.
expect_pass() {
    out=$work/$1/pan.out
    field "$out"
    [ -z "$VERBOSE" ] || cat "$out"
    if [ "$errors" = 0 ] &&
        grep -q 'Full statespace search' "$out" &&
        ! grep -qiE 'too small|not completed|truncat|MEMLIM|out of memory|error: ' "$out"; then
        printf '  %-28s PASS  errors 0, %s states, %s s\n' "$1" "$states" "$secs"
    else
        printf '  %-28s FAIL  expected 0 errors and a complete search\n' "$1"
        grep -E 'assertion violated|too small|not completed|truncat|MEMLIM|memory|error' "$out" | head -n 5 | sed 's/^/      /'
        failed=1
    fi
}

# expect_error NAME: SPIN must find a violation.
expect_error() {
    out=$work/$1/pan.out
    field "$out"
    [ -z "$VERBOSE" ] || cat "$out"
    if [ "$errors" != "?" ] && [ "$errors" -ge 1 ]; then
        what=$(sed -n 's/^pan:[0-9]*: \(assertion violated .*\)/\1/p' "$out" | head -n 1)
        printf '  %-28s PASS  counterexample found (%s states, %s s)\n' "$1" "$states" "$secs"
        printf '      %s\n' "$what"
        if [ -n "$VERBOSE" ]; then
            # shellcheck disable=SC2086
            (cd "$work/$1" && "$SPIN" $2 -t -p collector.pml 2>&1 |
                grep -E '\[(slot\[p\] = |rc\[.*[-+]1\)|held\[me\] = |borrowed\[me\] = |cnt\[x\] = |flag\[x\] = |S = |Sp = |Spp = |in_gc\[x\] = 1|dirty\[p\] = |touched\[.\] = 1|freed\[gx\] = 1|hs_wait = \()' |
                sed 's/^/      /') || true
        fi
    else
        printf '  %-28s FAIL  expected SPIN to find a violation (errors %s)\n' "$1" "$errors"
        failed=1
    fi
}

start=$(date +%s)
echo "SPIN model check of $(basename "$model")"

# The two exhaustive searches run in parallel (one per core).
run correct &
pid1=$!
run correct_any_S -DABSTRACT_TRIAL &
pid2=$!

# Broken variants (each must fail) and a non-vacuity check.
run broken_no_validation -DBROKEN_NO_VALIDATION
run broken_no_dirty -DBROKEN_NO_DIRTY -DABSTRACT_TRIAL
run broken_no_touched -DBROKEN_NO_TOUCHED -DABSTRACT_TRIAL
run broken_no_refine -DBROKEN_NO_REFINE -DABSTRACT_TRIAL
run sanity_frees_cycle -DSANITY_FREES_CYCLE
wait $pid1 || true
wait $pid2 || true

echo "correct protocol (exhaustive, must hold):"
expect_pass correct
expect_pass correct_any_S
echo "broken variants (SPIN must find a counterexample):"
expect_error broken_no_validation -DBROKEN_NO_VALIDATION
expect_error broken_no_dirty "-DBROKEN_NO_DIRTY -DABSTRACT_TRIAL"
expect_error broken_no_touched "-DBROKEN_NO_TOUCHED -DABSTRACT_TRIAL"
expect_error broken_no_refine "-DBROKEN_NO_REFINE -DABSTRACT_TRIAL"
echo "non-vacuity (the collector does free a garbage cycle):"
expect_error sanity_frees_cycle -DSANITY_FREES_CYCLE

echo "total $(($(date +%s) - start)) s"
if [ "$failed" -ne 0 ]; then
    echo "MODEL CHECK FAILED"
    exit 1
fi
echo "MODEL CHECK PASSED"
