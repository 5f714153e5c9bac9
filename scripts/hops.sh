#!/usr/bin/env bash
# Counts the hops of GET /api/cameras/{id}/live.mp4 with a session cookie
# before its first byte (see scripts/hops.py for what a hop is): it builds
# internal/app's tests without optimizations, runs
# TestRequestStatementsDoNotRepeat under `dlv trace --stack`, tracing every
# function of Vigil's server packages, and reads the request's goroutine.
# Slow (minutes) and needs Delve, so it is not part of `make test`.
#   scripts/hops.sh [max-packages max-returns]
set -euo pipefail
cd "$(dirname "$0")/.."
dlv=$(command -v dlv || echo "$(go env GOPATH)/bin/dlv")
[ -x "$dlv" ] || go install github.com/go-delve/delve/cmd/dlv@v1.26.0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go test -c -o "$out/app.test" -gcflags='all=-N -l' ./internal/app
(cd internal/app && "$dlv" trace --stack 40 --exec "$out/app.test" \
	'^vigil/internal/(httpapi|auth|household|store|limit|hub|audit|fmp4|app|oauth|stills|hls|webrtc|seal|smarthome|config)' \
	-- -test.run '^TestRequestStatementsDoNotRepeat$' -test.count=1 >/dev/null 2>"$out/trace") || true
python3 scripts/hops.py -v --max-packages "${1:-0}" --max-returns "${2:--1}" <"$out/trace"
