// The live view's past: a scrollable day timeline of the camera's
// recordings and events under the live video. A click on the timeline
// plays the recording from that moment (the browser seeks in the
// recording's MP4 with Range requests); an event plays its clip; "Back to
// live" returns to the live view. Everything goes through the same
// session as the rest of the page.
"use strict";

const dayMs = 24 * 3600 * 1000;
// pxPerHour is the timeline's scale: a day is 24 times this wide, a
// pixel three seconds.
const pxPerHour = 1200;

let shown = null; // {cam, base, day, spans, events}: what the timeline shows

// loadTimeline shows cam's timeline for the day picked (today at first);
// it hides itself when recording is off.
async function loadTimeline(cam, day) {
  const base = "/api/cameras/" + encodeURIComponent(cam.id);
  const asked = epoch;
  if (!day) day = startOfDay(new Date());
  $("timeline-day").value = isoDay(day);
  const range = "from=" + encodeURIComponent(day.toISOString()) + "&to=" + encodeURIComponent(new Date(day.getTime() + dayMs).toISOString());
  const [sres, eres] = await Promise.all([api("GET", base + "/recordings?" + range), api("GET", base + "/events?" + range)]);
  const current = view ? view.cam.id === cam.id : playingPast(cam);
  if (asked !== epoch || !current) return;
  if (!sres.ok) { $("timeline-box").hidden = true; return; }
  const spans = (await sres.json()).spans;
  const events = eres.ok ? (await eres.json()).events : [];
  shown = { cam, base, day, spans, events };
  $("timeline-box").hidden = false;
  renderTimeline();
  loadContinuous(cam, base);
}

// loadContinuous shows the owner whether the camera's main stream is
// recorded all the time, and switches it.
async function loadContinuous(cam, base) {
  $("continuous-box").hidden = true;
  if (cam.role !== "owner") return;
  const asked = epoch;
  const res = await api("GET", base + "/continuous");
  if (!res.ok || asked !== epoch || !shown || shown.cam.id !== cam.id) return;
  const flags = await res.json();
  $("continuous-main").checked = flags.main;
  $("continuous-main").onchange = async () => {
    const r = await api("PUT", base + "/continuous", { main: $("continuous-main").checked, sub: flags.sub });
    if (r.ok) Object.assign(flags, await r.json());
    else $("continuous-main").checked = flags.main;
  };
  $("continuous-box").hidden = false;
}

function playingPast(cam) { return shown && shown.cam.id === cam.id && !$("timeline-live").hidden; }

function startOfDay(d) { return new Date(d.getFullYear(), d.getMonth(), d.getDate()); }

function isoDay(d) {
  const p = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate());
}

// x is where instant t falls on the shown day's track, in pixels.
function xOf(t) { return ((new Date(t).getTime() - shown.day.getTime()) / 3600e3) * pxPerHour; }

function renderTimeline() {
  const track = $("timeline-track");
  track.style.width = 24 * pxPerHour + "px";
  const hours = [];
  for (let h = 0; h < 24; h += 0.25) {
    const m = document.createElement("span");
    m.className = "hour";
    m.style.left = h * pxPerHour + "px";
    m.textContent = String(Math.floor(h)).padStart(2, "0") + ":" + String((h % 1) * 60).padStart(2, "0");
    hours.push(m);
  }
  const spans = shown.spans.map((s) => {
    const d = document.createElement("span");
    d.className = "span";
    d.style.left = xOf(s.start) + "px";
    d.style.width = Math.max(2, xOf(s.end) - xOf(s.start)) + "px";
    d.title = fmt(s.start) + " – " + fmt(s.end);
    return d;
  });
  const marks = shown.events.map((e) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "mark";
    b.dataset.kind = e.kind;
    b.style.left = xOf(e.start) + "px";
    b.setAttribute("aria-label", e.kind + " at " + fmt(e.start));
    b.addEventListener("click", (ev) => { ev.stopPropagation(); playEvent(e); });
    return b;
  });
  track.replaceChildren(...hours, ...spans, ...marks);
  $("timeline-none").hidden = shown.spans.length > 0;
  $("events").replaceChildren(...shown.events.map(eventRow));
  $("events-none").hidden = shown.events.length > 0;
  // Scroll to the latest recording, or the start of the day.
  const last = shown.spans[shown.spans.length - 1];
  $("timeline").scrollLeft = last ? Math.max(0, xOf(last.end) - $("timeline").clientWidth + 40) : 0;
}

function eventRow(e) {
  const li = eventItem(e);
  const text = document.createElement("span");
  text.textContent = e.kind + " · " + fmt(e.start) + (e.score ? " · " + Math.round(e.score * 100) + "%" : "");
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = "Play";
  b.disabled = !e.clip;
  b.setAttribute("aria-label", "Play the " + e.kind + " at " + fmt(e.start));
  b.addEventListener("click", () => playEvent(e));
  li.append(text, b);
  return li;
}

// The track: a click plays the recording at that moment.
$("timeline-track").addEventListener("click", (ev) => {
  if (!shown) return;
  const x = ev.clientX - $("timeline-track").getBoundingClientRect().left;
  playAt(new Date(shown.day.getTime() + (x / pxPerHour) * 3600e3));
});

// playAt plays from t: the recording that holds t (or the next one after
// it) and those after it, joined into one file (clip.mp4), so that
// playing on crosses the recordings' boundaries.
function playAt(t) {
  const ms = t.getTime();
  const s = shown.spans.find((s) => new Date(s.end).getTime() > ms);
  if (!s) return;
  const start = new Date(s.start).getTime();
  // Ten minutes on: each recording joined is opened for the request.
  const url = shown.base + "/recordings/clip.mp4?stream=" + encodeURIComponent(s.stream) +
    "&from=" + encodeURIComponent(s.start) + "&to=" + encodeURIComponent(new Date(start + 600e3).toISOString());
  playPast(url, Math.max(0, (ms - start) / 1000), new Date(Math.max(ms, start)));
}

// playEvent plays the event's clip: its pre-roll to its post-roll, one
// file across the recordings it spans.
function playEvent(e) {
  if (e.clip) playPast(e.clip, 0, new Date(e.start));
}

// playPast stops the live view and plays url (a recording's MP4) from
// offset seconds; the browser fetches the part it needs with Range.
function playPast(url, offset, at) {
  if (view) { view.stop(); view = null; }
  const v = $("video");
  v.srcObject = null;
  v.onloadedmetadata = () => { v.onloadedmetadata = null; if (offset > 0) v.currentTime = offset; v.play().catch(() => {}); };
  v.src = url;
  $("state").textContent = "recorded " + fmt(at);
  $("state").dataset.state = "recorded";
  $("via").textContent = "recording";
  $("timeline-live").hidden = false;
}

$("timeline-live").addEventListener("click", () => {
  if (!shown) return;
  backToLive(shown.cam);
});

function backToLive(cam) {
  const v = $("video");
  v.onloadedmetadata = null;
  v.removeAttribute("src");
  v.load();
  $("timeline-live").hidden = true;
  view = new LiveView(cam, v);
  view.start();
}

$("timeline-day").addEventListener("change", () => {
  if (!shown || !$("timeline-day").value) return;
  const [y, m, d] = $("timeline-day").value.split("-").map(Number);
  loadTimeline(shown.cam, new Date(y, m - 1, d));
});

// hideTimeline forgets the timeline, and stops a recording playing, when
// the live view closes.
function hideTimeline() {
  const v = $("video");
  if (!$("timeline-live").hidden) { v.onloadedmetadata = null; v.removeAttribute("src"); v.load(); }
  shown = null;
  $("timeline-box").hidden = true;
  $("timeline-live").hidden = true;
}
