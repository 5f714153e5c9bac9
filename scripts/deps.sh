#!/usr/bin/env bash
# Installs what Vigil's tests and `make run` need on a fresh Debian machine:
# ffmpeg (an independent RTSP/HLS/MP4 client and the still decoder),
# Chromium (the browser the web tests drive), Pebble (the ACME test CA the
# certificate tests run on loopback), systemd-analyze (checks the unit
# in dist/), PostgreSQL 15 (the Postgres store's tests start their own
# throwaway server from its binaries: internal/testkit/pgtest), GStreamer
# (an RTSP client that resolves track URLs per RFC 3986), npm (the web
# players the browser tests load) and s3rver (an independent S3-compatible
# server the blob store's conformance suite runs against) and, with
# VIGIL_WEED=1, SeaweedFS's weed built from the Go module proxy (a second
# real S3; its build takes the better part of an hour on a busy two-core
# machine, so it is not part of every `make test`).
set -euo pipefail
need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pebble >/dev/null 2>&1 || need+=(pebble)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v gst-launch-1.0 >/dev/null 2>&1 ||
	need+=(gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing: ${need[*]}"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	if [[ " ${need[*]} " == *" postgresql-15 "* ]]; then
		# No system cluster: nothing runs Postgres but the tests, each
		# with its own.
		$SUDO mkdir -p /etc/postgresql-common
		echo "create_main_cluster = false" | $SUDO tee -a /etc/postgresql-common/createcluster.conf >/dev/null
	fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The web players the browser tests run (hls.js, Shaka Player), pinned in
# internal/app/testdata/players/package-lock.json; node_modules is not committed.
players="$(dirname "$0")/../internal/app/testdata/players"
if [ ! -d "$players/node_modules/hls.js" ] || [ ! -d "$players/node_modules/shaka-player" ]; then
	(cd "$players" && npm ci --no-audit --no-fund --silent)
fi


# s3rver: an exact version, installed globally (as root here, as in CI).
S3RVER_VERSION=3.7.1
if ! command -v s3rver >/dev/null 2>&1; then
	echo "installing: s3rver@${S3RVER_VERSION} (npm)"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO npm install -g --no-audit --no-fund --loglevel=error "s3rver@${S3RVER_VERSION}" >/dev/null
fi

# weed: only when asked. The module has replace directives, so `go install
# m@v` refuses it; build it as the main module from a copy of its source.
WEED_VERSION=v0.0.0-20261109003541-7506e5f91cd6
WEED_BIN="$(go env GOPATH)/bin/weed"
if [ "${VIGIL_WEED:-}" = 1 ] && ! command -v weed >/dev/null 2>&1 && [ ! -x "$WEED_BIN" ]; then
	echo "building: seaweedfs weed ${WEED_VERSION} (this takes long)"
	src=$(go mod download -json "github.com/seaweedfs/seaweedfs@${WEED_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	cp -r "$src"/. "$tmp"
	chmod -R u+w "$tmp"
	(cd "$tmp" && go build -o "$WEED_BIN" ./weed)
fi
