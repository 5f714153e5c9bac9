#!/usr/bin/env bash
# make run: Vigil with its embedded defaults plus three simulated cameras.
set -euo pipefail
bin=$1 data=$2
cameras=${CAMERAS:-3}
export VIGIL_DATA_DIR=$data
# A fresh admin password each run: printed below, stored only as a hash.
export VIGIL_ADMIN_PASSWORD=${VIGIL_ADMIN_PASSWORD:-$(head -c 15 /dev/urandom | base32 | tr -d = | tr A-Z a-z)}
http=${VIGIL_HTTP_ADDR:-:8080} rtsp=${VIGIL_RTSP_ADDR:-:8554}
rtsp_port=${rtsp##*:} http_port=${http##*:}

# A demo household: the owner of the simulated cameras, and a viewer with
# whom the first camera is shared. Fresh passwords each run.
# Google Home account linking: a client for this Vigil. Google's console
# gives the redirect URI's project id; set GOOGLE_PROJECT_ID to yours.
project=${GOOGLE_PROJECT_ID:-your-project-id}
google_secret=$(head -c 24 /dev/urandom | base32 | tr -d = | tr A-Z a-z)
export VIGIL_OAUTH_CLIENTS=${VIGIL_OAUTH_CLIENTS:-"[{\"id\":\"vigil-google\",\"name\":\"Google Home\",\"kind\":\"google\",\"secret\":\"$google_secret\",\"redirect_uris\":[\"https://oauth-redirect.googleusercontent.com/r/$project\",\"https://oauth-redirect-sandbox.googleusercontent.com/r/$project\"]}]"}
public=${VIGIL_PUBLIC_URL:-http://127.0.0.1:$http_port}

owner_pw=$("$bin" user add --name demo-owner --json | sed 's/.*"password":"\([^"]*\)".*/\1/')
viewer_pw=$("$bin" user add --name demo-viewer --json | sed 's/.*"password":"\([^"]*\)".*/\1/')

"$bin" serve & vigil=$!
sim=""
trap 'kill $vigil $sim 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
for _ in $(seq 50); do
	curl -fs "http://127.0.0.1:$http_port/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
"$bin" sim --cameras "$cameras" --server "rtsp://127.0.0.1:$rtsp_port" --ids "$data/sim-cameras.txt" \
	--owner demo-owner --share-first-with demo-viewer & sim=$!
for _ in $(seq 50); do
	[ -s "$data/sim-cameras.txt" ] && break
	sleep 0.1
done
cat <<MSG

Vigil is running with $cameras simulated cameras.
Open $public/ and sign in:
  demo-owner  / $owner_pw   owns every camera
  demo-viewer / $viewer_pw   sees only the first one (shared with it)
  admin       / $VIGIL_ADMIN_PASSWORD   operator: metrics; cannot watch claimed cameras

Watch a camera as its owner (RTSP, starts at once from the keyframe cache):
MSG
first=$(head -1 "$data/sim-cameras.txt" | cut -d' ' -f1)
while read -r id name; do
	echo "  ffplay -rtsp_transport tcp rtsp://demo-owner:$owner_pw@127.0.0.1:$rtsp_port/$id    # $name"
done < "$data/sim-cameras.txt"
cat <<MSG
  (VLC: open the same URL.)

Over HTTP (first camera; demo-viewer's credentials work for it too):
  ffplay http://demo-owner:$owner_pw@127.0.0.1:$http_port/api/cameras/$first/live.mp4          # progressive MP4
  ffplay http://demo-owner:$owner_pw@127.0.0.1:$http_port/api/cameras/$first/hls/index.m3u8    # LL-HLS (?variant=fmp4|ts)
  curl -o still.jpg http://demo-owner:$owner_pw@127.0.0.1:$http_port/api/cameras/$first/still.jpg?width=320
  open  http://demo-owner:$owner_pw@127.0.0.1:$http_port/api/cameras/$first/mjpeg?fps=5           # MJPEG in a browser

Google Home (console → Cloud-to-cloud → Account linking and Fulfillment;
Google needs https: put Vigil behind TLS and set VIGIL_PUBLIC_URL):
  Client ID:          vigil-google
  Client secret:      $google_secret
  Authorization URL:  $public/oauth/authorize
  Token URL:          $public/oauth/token
  Fulfillment URL:    $public/google/fulfillment
  Redirect URIs allowed: https://oauth-redirect(-sandbox).googleusercontent.com/r/$project

Health:  curl http://127.0.0.1:$http_port/healthz
Metrics: curl -u admin:$VIGIL_ADMIN_PASSWORD http://127.0.0.1:$http_port/metrics
Add a real camera: $bin device add --name porch   (then push to the printed URL)

Ctrl-C stops everything.
MSG
wait $vigil
