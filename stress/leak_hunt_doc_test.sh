#!/bin/sh
# docs/leak-hunting.md shows the output of stress/leak_hunt.c as its worked
# example.  Run the program and compare its output with the block in the
# doc, so that the example cannot drift from what the tools print.
#
# What varies from run to run is normalised on both sides: each distinct
# address becomes ADDR1, ADDR2, ... in order of first appearance (so the
# graph's shape, which object points at which, is still compared), the
# elapsed time becomes N, and the dump directory DIR.
#
# usage: leak_hunt_doc_test.sh LEAK_HUNT_BINARY LEAK_HUNTING_MD
set -eu
bin=$1
doc=$2
dir=${TEST_TMPDIR:-$(mktemp -d)}

normalise() {
    sed -e 's/[0-9][0-9]*\.[0-9]*s elapsed/Ns elapsed/' \
        -e 's|(all of it: [^;)]*/leak\.|(all of it: DIR/leak.|' |
        awk '{
            line = $0; out = ""
            while (match(line, /0x[0-9a-f]+/)) {
                a = substr(line, RSTART, RLENGTH)
                if (!(a in id))
                    id[a] = "ADDR" (++n)
                out = out substr(line, 1, RSTART - 1) id[a]
                line = substr(line, RSTART + RLENGTH)
            }
            print out line
        }'
}

# The fenced block right after the line that says what the program prints.
awk '/^```/ { if (inblock) exit; if (seen) { inblock = 1; next } }
     inblock { print }
     /prints the following/ { seen = 1 }' "$doc" | normalise >"$dir/expected"
if [ ! -s "$dir/expected" ]; then
    echo "no example output found in $doc" >&2
    exit 1
fi

"$bin" "$dir" | normalise >"$dir/actual"

if ! diff -u "$dir/expected" "$dir/actual"; then
    echo "stress/leak_hunt's output differs from docs/leak-hunting.md" \
        "(diff above: - the doc, + the program)" >&2
    exit 1
fi
echo "leak_hunt's output matches docs/leak-hunting.md ($(wc -l <"$dir/actual") lines)"
