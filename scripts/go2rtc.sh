#!/usr/bin/env bash
# Builds go2rtc, the RTSP relay issue 17 measures Vigil against, from the Go
# module proxy (an exact version) into bin/go2rtc (or $1), for the go2rtc row
# of cmd/vigilbench's RTSP fan-out (`-go2rtc bin/go2rtc`). Without cgo: the
# module's pkg/v4l2/device/videodev2_arch.c (a generator of the per-arch
# constants, not part of the build on linux/amd64) makes a cgo-less build
# fail ("C source files not allowed when not using cgo"), so the copy built
# here leaves it out. Nothing of go2rtc enters Vigil's module.
set -euo pipefail
VERSION=v1.9.9
out="${1:-bin/go2rtc}"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
if [ -x "$out" ] && "$out" -version 2>/dev/null | grep -q "${VERSION#v}"; then
	exit 0
fi
echo "building: go2rtc ${VERSION} from the module proxy"
src=$(go mod download -json "github.com/AlexxIT/go2rtc@${VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -n "$src" ] || { echo "go2rtc.sh: go mod download gave no directory" >&2; exit 1; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$src"/. "$work"
chmod -R u+w "$work"
rm -f "$work/pkg/v4l2/device/videodev2_arch.c"
# The copy is its own main module: its go.mod and go.sum pin its dependencies.
(cd "$work" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$out" .)
"$out" -version
