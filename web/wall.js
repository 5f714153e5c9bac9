// The live wall: every online camera at once, each tile playing the
// camera's sub stream (main when it has none) as progressive MP4, with
// full screen, sound and snapshot per tile; the whole wall full screen.
// The same controls sit under the single live view.
"use strict";

let tiles = []; // the wall's playing tiles

// Over plain HTTP a browser opens 6 connections to a server and each
// tile holds one; HTTP/2 (HTTPS) has no such limit.
const maxTiles = location.protocol === "https:" ? 16 : 4;

function openWall() {
  closeViewer();
  closeAccount();
  $("home").hidden = true;
  $("wall").hidden = false;
  renderWall();
}

function closeWall() {
  stopWall();
  if ($("wall").hidden) return;
  $("wall").hidden = true;
  if (me) $("home").hidden = false;
}

function stopWall() {
  for (const t of tiles) t.stop();
  tiles = [];
  $("tiles").replaceChildren();
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
}

// renderWall keeps one tile per online camera: new ones start, gone ones
// stop; tiles that stay are not moved (a moved video may pause).
function renderWall() {
  if ($("wall").hidden) return;
  const online = cameras.filter((c) => c.online && !c.disabled).slice(0, maxTiles);
  const same = online.length === tiles.length && online.every((c, i) => tiles[i].cam.id === c.id);
  $("wall-none").hidden = online.length > 0;
  if (same) return;
  const keep = new Map(tiles.map((t) => [t.cam.id, t]));
  tiles = online.map((c) => keep.get(c.id) || new Tile(c));
  for (const [id, t] of keep) if (!online.some((c) => c.id === id)) t.stop();
  $("tiles").replaceChildren(...tiles.map((t) => t.li));
}

// Tile plays one camera on the wall and reconnects while it is listed.
class Tile {
  constructor(cam) {
    this.cam = cam;
    this.li = document.createElement("li");
    this.li.className = "tile";
    this.li.dataset.id = cam.id;
    const v = this.video = document.createElement("video");
    v.muted = v.autoplay = v.playsInline = true;
    v.setAttribute("aria-label", "Live video of " + cam.name);
    const head = document.createElement("div");
    head.className = "tile-head";
    const name = document.createElement("strong");
    name.textContent = cam.name;
    this.state = document.createElement("span");
    this.state.className = "tile-state";
    head.append(name, this.state);
    this.li.append(v, head, mediaControls(this.li, v, cam));
    v.addEventListener("playing", () => { this.state.textContent = "live"; });
    this.start();
  }

  start() {
    if (this.stopped) return;
    this.state.textContent = "connecting";
    const stream = this.cam.sub ? "sub" : "main";
    const v = this.video;
    v.src = "/api/cameras/" + encodeURIComponent(this.cam.id) + "/live.mp4?stream=" + stream + "&from=previous&t=" + Date.now();
    v.onloadeddata = () => v.play().catch(() => {});
    v.onerror = v.onended = () => this.retry();
    // The stream starts a GOP back: play faster until at the live edge.
    this.edge = setInterval(() => {
      const b = v.buffered;
      v.playbackRate = b.length && b.end(b.length - 1) - v.currentTime > 0.5 ? 3 : 1;
    }, 250);
  }

  retry() {
    this.teardown();
    this.state.textContent = "reconnecting";
    this.timer = setTimeout(() => this.start(), 2000);
  }

  teardown() {
    clearInterval(this.edge);
    clearTimeout(this.timer);
    const v = this.video;
    v.onerror = v.onended = v.onloadeddata = null;
    v.removeAttribute("src");
    v.load();
  }

  stop() {
    this.stopped = true;
    this.teardown();
  }
}

// mediaControls returns the full screen, sound and snapshot buttons for
// video shown in box.
function mediaControls(box, video, cam) {
  const bar = document.createElement("div");
  bar.className = "controls";
  const full = button("Full screen", "Show " + cam.name + " full screen", () => {
    if (document.fullscreenElement === box) document.exitFullscreen();
    else box.requestFullscreen().catch(() => {});
  });
  full.classList.add("full");
  const sound = button("Unmute", "Sound of " + cam.name, () => {
    video.muted = !video.muted;
    showSound();
  });
  sound.classList.add("sound");
  const showSound = () => {
    sound.textContent = video.muted ? "Unmute" : "Mute";
    sound.setAttribute("aria-pressed", String(!video.muted));
  };
  showSound();
  const snap = button("Snapshot", "Download a snapshot of " + cam.name, () => downloadSnapshot(video, cam));
  snap.classList.add("snap");
  bar.append(full, sound, snap);
  return bar;
}

function button(text, label, onclick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onclick);
  return b;
}

// snapshot is the frame the video shows now, as a JPEG blob (null before
// the first frame).
function snapshot(video) {
  if (!video.videoWidth) return Promise.resolve(null);
  const c = document.createElement("canvas");
  c.width = video.videoWidth;
  c.height = video.videoHeight;
  c.getContext("2d").drawImage(video, 0, 0);
  return new Promise((ok) => c.toBlob(ok, "image/jpeg", 0.92));
}

async function downloadSnapshot(video, cam) {
  const blob = await snapshot(video);
  if (!blob) return;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  const when = new Date().toISOString().replace(/[:.]/g, "-");
  a.download = cam.name.replace(/[^\w-]+/g, "_") + "-" + when + ".jpg";
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

// This file loads before app.js, which defines $: wired by hand.
document.getElementById("wall-open").addEventListener("click", openWall);
document.getElementById("wall-close").addEventListener("click", closeWall);
document.getElementById("wall-full").addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else $("wall").requestFullscreen().catch(() => {});
});
