#!/usr/bin/env bash
# Installs what Vigil's tests and `make run` need on a fresh Debian machine:
# ffmpeg (an independent RTSP/HLS/MP4 client and the still decoder),
# Chromium (the browser the web tests drive), Pebble (the ACME test CA the
# certificate tests run on loopback), systemd-analyze (checks the unit
# in dist/), PostgreSQL 15 (the Postgres store's tests start their own
# throwaway server from its binaries: internal/testkit/pgtest), GStreamer
# (an RTSP client that resolves track URLs per RFC 3986) and npm (the web
# players the browser tests load).
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
