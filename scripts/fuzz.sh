#!/bin/sh
# Runs each fuzz target (or those whose name matches $FUZZ, a grep -E
# pattern) for $FUZZTIME (60s), one at a time on one worker: the machine
# is shared. Minimizing a new input is capped at 5 s: with the default
# (60 s) one large input could take a target's whole run (FuzzOpenSegment
# made 33 executions in 60 s). A crash stops the run; its input is in the
# package's testdata/fuzz, where `make test` runs it from then on.
set -eu
fuzztime=${FUZZTIME:-60s}
pattern=${FUZZ:-.}
grep -rl --include='*_test.go' '^func Fuzz' cmd internal | sort | while read -r file; do
	dir=./$(dirname "$file")
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2 | grep -E "$pattern" || true); do
		echo "== $dir $target ($fuzztime, load $(cut -d' ' -f1 /proc/loadavg))"
		go test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s -parallel 1 "$dir"
	done
done
