#!/bin/sh
# check.sh MODEL.pml - model-check ouro's cycle-collection protocol with SPIN.
#
# Verifies each variant of MODEL.pml below (spin -a, gcc, ./pan) and exits 0
# when every correct variant completes an exhaustive search with 0 errors
# and every broken or sanity variant makes SPIN report an error.
#
# pan is compiled with
#   -DSAFETY    assertions and invalid end states only: the property is a
#               safety property, so no never claim or cycle search is needed;
#   -DCOLLAPSE  lossless state compression: still exhaustive, with about a
#               quarter of the memory (and no slower here);
#   -DMEMLIM    a memory cap, so a model grown too large fails cleanly
#               (reported as an incomplete search) instead of swapping;
# and never -DBITSTATE or hash compaction, which may miss states.
#
# Environment: SPIN (default spin), CC (default gcc), VERBOSE=1 prints pan's
# output and every counterexample's events.
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
command -v "$SPIN" >/dev/null 2>&1 ||
    { echo "check.sh: $SPIN not found (./dev setup installs spin)" >&2; exit 2; }
command -v "$CC" >/dev/null 2>&1 || { echo "check.sh: $CC not found" >&2; exit 2; }

# Bazel's sandbox: write only under TEST_TMPDIR.
work=$(mktemp -d "${TEST_TMPDIR:-${TMPDIR:-/tmp}}/ouro-model.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

CFLAGS="-O2 -w -DSAFETY -DCOLLAPSE -DMEMLIM=4096"
PANFLAGS="-m10000 -w24"

# run NAME "DEFINES" [PAN FLAGS]: verify one variant in $work/NAME.
run() {
    dir=$work/$1
    mkdir "$dir"
    cp "$model" "$dir/collector.pml"
    echo "$2" >"$dir/defines"
    (
        cd "$dir"
        # shellcheck disable=SC2086
        "$SPIN" $2 -a collector.pml >spin.out 2>&1 || { cat spin.out >&2; exit 1; }
        # shellcheck disable=SC2086
        "$CC" $CFLAGS -o pan pan.c >cc.out 2>&1 || { cat cc.out >&2; exit 1; }
        # shellcheck disable=SC2086
        ./pan $PANFLAGS ${3:-} >pan.out 2>&1 || true
    ) || echo "error: could not build $1" >"$dir/pan.out"
}

# stats FILE: sets errors, states (stored) and secs (pan's elapsed time).
stats() {
    errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$1" | head -n 1)
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$1" | head -n 1)
    secs=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' "$1" | head -n 1)
    : "${errors:=?}" "${states:=?}" "${secs:=?}"
}

# events NAME: the counterexample's events (the model's printf lines).
events() {
    dir=$work/$1
    # shellcheck disable=SC2046
    (cd "$dir" && "$SPIN" -T $(cat defines) -t collector.pml 2>&1) |
        sed -n '1,/trail ends/p' | grep -v '^spin: trail ends' | sed 's/^/        /'
}

failed=0

# expect_pass NAME: an exhaustive search with 0 errors.
expect_pass() {
    out=$work/$1/pan.out
    stats "$out"
    [ -z "$VERBOSE" ] || sed 's/^/    | /' "$out"
    if [ "$errors" = 0 ] &&
        grep -q 'Full statespace search' "$out" &&
        ! grep -qiE 'too small|not completed|truncat|MEMLIM|out of memory|error: ' "$out"; then
        printf '  %-22s PASS  0 errors, %s states, %s s   (%s)\n' \
            "$1" "$states" "$secs" "$(cat "$work/$1/defines")"
    else
        printf '  %-22s FAIL  expected 0 errors and a complete search (%s)\n' \
            "$1" "$(cat "$work/$1/defines")"
        grep -E 'assertion violated|too small|not completed|truncat|MEMLIM|memory|error' "$out" |
            head -n 5 | sed 's/^/      /'
        if [ "$errors" != "?" ] && [ "$errors" != 0 ]; then
            echo "      counterexample:"
            events "$1"
        fi
        failed=1
    fi
}

# expect_error NAME [show]: SPIN must find a violation; `show` prints its
# events.
expect_error() {
    out=$work/$1/pan.out
    stats "$out"
    [ -z "$VERBOSE" ] || sed 's/^/    | /' "$out"
    if [ "$errors" != "?" ] && [ "$errors" -ge 1 ]; then
        printf '  %-22s PASS  violation found (%s states, %s s)   (%s)\n' \
            "$1" "$states" "$secs" "$(cat "$work/$1/defines")"
        grep -m 1 'assertion violated' "$out" | sed 's/^pan:[0-9]*: /      /'
        if [ -n "${2:-}" ] || [ -n "$VERBOSE" ]; then
            echo "      counterexample:"
            events "$1"
        fi
    else
        printf '  %-22s FAIL  expected SPIN to find a violation, errors %s (%s)\n' \
            "$1" "$errors" "$(cat "$work/$1/defines")"
        failed=1
    fi
}

start=$(date +%s)
echo "SPIN model check of $(basename "$model") ($("$SPIN" -V 2>&1 | head -n 1))"

# The largest search runs in the background on one core, everything else
# one after the other on the other core.
#  correct:        the protocol as specified, with trial deletion;
#  correct_any_S:  validation alone, for every S (trial deletion replaced by
#                  any subset of the held candidates).
# Then variants that must fail: validation removed (-i: the shortest
# counterexample); one mechanism removed; and a non-vacuity check.
run correct "" &
pid=$!
run correct_any_S "-DABSTRACT_TRIAL -DINITSET=6"
run broken_no_validation "-DBROKEN_NO_VALIDATION" -i
run broken_no_dirty "-DBROKEN_NO_DIRTY -DABSTRACT_TRIAL -DINITSET=6"
run broken_no_touched "-DBROKEN_NO_TOUCHED -DABSTRACT_TRIAL -DINITSET=6"
run broken_no_refine "-DBROKEN_NO_REFINE -DABSTRACT_TRIAL -DINITSET=6"
run broken_no_zclaim "-DBROKEN_NO_ZCLAIM -DINITSET=8"
run sanity_frees_cycle "-DSANITY_FREES_CYCLE -DINITSET=6"
wait "$pid" || true

echo "correct protocol (exhaustive search, must hold):"
expect_pass correct
expect_pass correct_any_S
echo "broken variants (SPIN must find a counterexample):"
expect_error broken_no_validation show
expect_error broken_no_dirty
expect_error broken_no_touched
expect_error broken_no_refine
expect_error broken_no_zclaim
echo "non-vacuity (the collector frees a garbage cycle somewhere):"
expect_error sanity_frees_cycle

echo "total $(($(date +%s) - start)) s"
if [ "$failed" -ne 0 ]; then
    echo "MODEL CHECK FAILED"
    exit 1
fi
echo "MODEL CHECK PASSED"
