// The event list of the home page: the last day's events of every camera
// the person may see, newest first, filtered by camera and type. Each
// plays its clip here, downloads it (clip.mp4 as an attachment) and is
// pinned or unpinned: a pinned event's footage is kept past retention
// while the person keeps their access.
"use strict";

let feed = []; // [{cam, event}] of the last load
let feedLoaded = 0; // when (Date.now()) the feed was last loaded; see loadFeed

// loadFeed lists the events of every camera; it hides itself when no
// camera has events to list (recording off, or none marked). Called with
// every refresh of the grid, it asks again at most once a minute (a
// listing is a line in each camera's access history), unless forced.
async function loadFeed(force) {
  if (!force && Date.now() - feedLoaded < 60e3) return;
  feedLoaded = Date.now();
  const asked = epoch;
  const to = new Date(Date.now() + 60e3), from = new Date(to.getTime() - 24 * 3600e3 - 60e3);
  const range = "?from=" + encodeURIComponent(from.toISOString()) + "&to=" + encodeURIComponent(to.toISOString());
  const lists = await Promise.all(cameras.map(async (cam) => {
    const res = await api("GET", "/api/cameras/" + encodeURIComponent(cam.id) + "/events" + range);
    return res.ok ? (await res.json()).events.map((event) => ({ cam, event })) : null;
  }));
  if (asked !== epoch) return;
  if (lists.every((l) => l === null)) { $("feed-box").hidden = true; return; }
  feed = lists.flatMap((l) => l || []).sort((a, b) => new Date(b.event.start) - new Date(a.event.start));
  const pick = $("feed-camera"), picked = pick.value;
  pick.replaceChildren(pick.options[0], ...cameras.map((c) => new Option(c.name, c.id)));
  pick.value = cameras.some((c) => c.id === picked) ? picked : "";
  $("feed-box").hidden = false;
  renderFeed();
}

function renderFeed() {
  const cam = $("feed-camera").value, kind = $("feed-kind").value;
  const shown = feed.filter((f) => (!cam || f.cam.id === cam) && (!kind || f.event.kind === kind));
  $("feed").replaceChildren(...shown.map(feedRow));
  $("feed-none").hidden = shown.length > 0;
}

// eventItem is a list item for event e with its thumbnail (here and in
// the live view's event list).
function eventItem(e) {
  const li = document.createElement("li");
  li.dataset.id = e.id;
  if (e.thumb) {
    const img = document.createElement("img");
    img.className = "event-thumb";
    img.src = e.thumb;
    img.alt = e.kind + " at " + fmt(e.start);
    li.append(img);
  }
  return li;
}

function feedRow({ cam, event: e }) {
  const li = eventItem(e);
  li.dataset.camera = cam.id;
  const text = document.createElement("span");
  text.textContent = cam.name + " · " + e.kind + " · " + fmt(e.start);
  const play = document.createElement("button");
  play.type = "button";
  play.textContent = "Play";
  play.className = "feed-play";
  play.disabled = !e.clip;
  play.addEventListener("click", () => {
    const v = $("feed-video");
    v.hidden = false;
    v.src = e.clip;
    v.play().catch(() => {});
  });
  const down = document.createElement("a");
  down.textContent = "Download";
  down.className = "feed-download";
  if (e.clip) { down.href = e.clip + "&download=1"; down.download = ""; }
  const pin = document.createElement("button");
  pin.type = "button";
  pin.className = "feed-pin";
  pin.textContent = e.pin ? "Unpin" : "Pin";
  pin.setAttribute("aria-pressed", e.pin ? "true" : "false");
  pin.addEventListener("click", () => togglePin(cam, e));
  li.append(text, play, down, pin);
  return li;
}

// togglePin pins the event's clip, or removes the person's pin of it.
async function togglePin(cam, e) {
  const asked = epoch;
  const base = "/api/cameras/" + encodeURIComponent(cam.id) + "/pins";
  const res = e.pin ? await api("DELETE", base + "/" + e.pin) : await api("POST", base, { event: e.id });
  if (asked !== epoch) return;
  $("feed-error").textContent = res.ok ? "" : await errorText(res);
  if (res.ok) e.pin = e.pin ? 0 : (await res.json()).id;
  renderFeed();
}

// Loaded before app.js (whose start may call forgetFeed): $ is not yet
// defined here.
document.getElementById("feed-camera").addEventListener("change", renderFeed);
document.getElementById("feed-kind").addEventListener("change", renderFeed);

// forgetFeed drops the list when the person signs out.
function forgetFeed() {
  feed = [];
  feedLoaded = 0;
  const v = $("feed-video");
  v.removeAttribute("src");
  v.load();
  v.hidden = true;
  $("feed").replaceChildren();
  $("feed-camera").replaceChildren($("feed-camera").options[0]);
  $("feed-kind").value = "";
  $("feed-error").textContent = "";
  $("feed-box").hidden = true;
}
