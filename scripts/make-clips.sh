#!/bin/sh
# make-clips.sh writes the H.264 test clips of internal/sim (Annex-B, libx264,
# Constrained Baseline like most cameras' sub streams and what browsers decode
# over WebRTC, a keyframe every 2 s, SPS/PPS before every IDR).
# The outputs are committed; rerun this only to change them.
set -eu

cd "$(dirname "$0")/.."
out=internal/sim/testdata/clips
mkdir -p "$out"

command -v ffmpeg >/dev/null || { echo "ffmpeg not found: run 'make test', which installs it" >&2; exit 1; }

# clip NAME SIZE SECONDS RATE X264-RATE-CONTROL...
clip() {
	name=$1 size=$2 secs=$3 rate=$4
	shift 4
	ffmpeg -nostdin -hide_banner -v error -y \
		-f lavfi -i "testsrc2=size=$size:rate=$rate:duration=$secs" \
		-c:v libx264 -preset veryfast -profile:v baseline -pix_fmt yuv420p \
		-g $((2 * rate)) -keyint_min $((2 * rate)) -sc_threshold 0 -bf 0 \
		-x264-params aud=0:repeat-headers=1 \
		"$@" -bsf:v h264_mp4toannexb -f h264 "$out/$name"
	echo "$out/$name: $(wc -c <"$out/$name") bytes"
}

clip small-320x240.h264 320x240 10 25 -crf 28
clip bench-1920x1080-4mbps.h264 1920x1080 6 25 -b:v 4M -maxrate 4M -bufsize 4M
