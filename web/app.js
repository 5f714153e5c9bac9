// Vigil's owner page: sign in, see your cameras, watch one live (WebRTC,
// falling back to progressive MP4), share it, read who watched, and unlink
// assistants. Every request carries the session cookie; state-changing ones
// also the CSRF token. No media URL works without the session.
"use strict";

const $ = (id) => document.getElementById(id);
let csrf = "";
let me = null;
let cameras = [];
let view = null; // the open live view
// slowPaths: when, by camera id, the MP4 fallback found main arriving
// slower than it plays (performance.now()).
const slowPaths = new Map();
// epoch counts sign-ins and sign-outs: an answer to a request made before
// the latest one belongs to someone else's session and is dropped.
let epoch = 0;

async function api(method, path, body, type) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  let data = body;
  if (body !== undefined && type === undefined) {
    headers["Content-Type"] = "application/json";
    data = JSON.stringify(body);
  } else if (type) {
    headers["Content-Type"] = type;
  }
  const res = await fetch(path, { method, headers, body: data, credentials: "same-origin" });
  if (res.status === 401 && path !== "/api/session" && path !== "/api/login") showLogin();
  return res;
}

async function errorText(res) {
  return (await res.text()).trim() || res.statusText;
}

// --- signing in -----------------------------------------------------------

function showLogin() {
  forget();
  $("home").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  $("login-name").focus();
}

// forget drops every piece of the signed-in person's state from the page:
// whoever signs in next in this tab sees only their own.
function forget() {
  closeViewer();
  closeWall();
  forgetAccount();
  forgetOwnerExtras();
  forgetFeed();
  forgetExports();
  epoch++;
  me = null;
  csrf = "";
  cameras = [];
  slowPaths.clear();
  for (const id of ["grid", "links", "shares"]) $(id).replaceChildren();
  $("history").tBodies[0].replaceChildren();
  $("share-form").onsubmit = null;
  $("owner-tools").hidden = true;
  for (const id of ["share-user", "share-until", "claim-code", "login-name", "login-password"]) $(id).value = "";
  for (const id of ["share-error", "claim-error", "login-error", "who-name"]) $(id).textContent = "";
  $("claim-box").open = false;
}

async function start() {
  const res = await api("GET", "/api/session");
  if (!res.ok) return showLogin();
  const s = await res.json();
  signedIn(s.user, s.csrf, s.admin);
}

function signedIn(user, token, isAdmin) {
  epoch++;
  me = user;
  admin = !!isAdmin;
  showAdminParts();
  csrf = token;
  $("who-name").textContent = user;
  $("who").hidden = false;
  $("login").hidden = true;
  $("home").hidden = false;
  refresh();
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("login-name").value;
  const res = await api("POST", "/api/login", { name, password: $("login-password").value });
  if (!res.ok) {
    $("login-error").textContent = res.status === 429 ? await errorText(res) : "Wrong user name or password.";
    return;
  }
  $("login-password").value = "";
  $("login-error").textContent = "";
  const s = await res.json();
  signedIn(s.user, s.csrf, s.admin);
});

$("logout").addEventListener("click", async () => {
  closeViewer();
  await api("POST", "/api/logout");
  showLogin();
});

// --- the grid -------------------------------------------------------------

async function refresh() {
  if (!me) return;
  const asked = epoch;
  const res = await api("GET", "/api/cameras");
  if (!res.ok) return;
  const cams = await res.json();
  if (asked !== epoch) return; // signed out (or in as someone else) meanwhile
  cameras = cams;
  renderGrid();
  renderWall();
  renderLinks();
  loadFeed();
  loadExports();
  if (view && !cameras.some((c) => c.id === view.cam.id)) view.setState("no access");
}

function renderGrid() {
  const grid = $("grid");
  const keep = new Map([...grid.children].map((li) => [li.dataset.id, li]));
  const items = cameras.map((c) => {
    const li = keep.get(c.id) || cameraCard(c);
    const badge = li.querySelector(".badge");
    badge.textContent = c.online ? "online" : "offline";
    badge.className = "badge " + (c.online ? "online" : "offline");
    li.querySelector(".role").textContent = c.role === "owner" ? "yours" : "shared with you";
    li.querySelector(".name").textContent = c.name;
    li.querySelector("button.open").setAttribute("aria-label", "Watch " + c.name + " live");
    showCardState(li, c);
    return li;
  });
  grid.replaceChildren(...items);
  $("no-cameras").hidden = cameras.length > 0;
  loadStills();
}

function cameraCard(c) {
  const li = document.createElement("li");
  li.className = "card";
  li.dataset.id = c.id;
  const open = document.createElement("button");
  open.className = "open";
  open.type = "button";
  open.setAttribute("aria-label", "Watch " + c.name + " live");
  const meta = document.createElement("span");
  meta.className = "meta";
  const name = document.createElement("strong");
  name.className = "name";
  name.textContent = c.name;
  const role = document.createElement("span");
  role.className = "role small";
  const badge = document.createElement("span");
  badge.className = "badge";
  meta.append(name, role, badge);
  open.append(cardPicture(c), meta);
  // The camera as last listed (renamed, shared, offline since).
  open.addEventListener("click", () => openViewer(cameras.find((x) => x.id === c.id) || c));
  li.append(open);
  return li;
}

$("claim-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const res = await api("POST", "/api/cameras/claim", { code: $("claim-code").value.trim() });
  $("claim-error").textContent = res.ok ? "" : await errorText(res);
  if (res.ok) {
    $("claim-code").value = "";
    refresh();
  }
});

// --- linked services ------------------------------------------------------

async function renderLinks() {
  const asked = epoch;
  const res = await api("GET", "/api/links");
  const links = res.ok ? await res.json() : [];
  if (asked !== epoch) return;
  $("links").replaceChildren(...links.map((l) => {
    const li = document.createElement("li");
    const text = document.createElement("span");
    const shown = (l.cameras || []).map((c) => c.name).join(", ") || "no cameras";
    text.textContent = (l.name || "Service") + " — sees " + shown;
    if (l.relink) {
      // The service refused this link's credentials for good: it hears
      // nothing more from Vigil until the person links it again.
      text.textContent += " — needs relinking: link it again from the service's app";
      li.classList.add("relink");
    }
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = "Unlink";
    b.setAttribute("aria-label", "Unlink " + (l.name || "service"));
    b.addEventListener("click", async () => {
      const r = await api("DELETE", "/api/links/" + encodeURIComponent(l.id));
      if (r.ok) renderLinks();
    });
    li.append(text, b);
    return li;
  }));
  $("no-links").hidden = links.length > 0;
}

// --- the live view --------------------------------------------------------

function openViewer(cam) {
  closeViewer();
  $("viewer-title").textContent = cam.name;
  $("owner-tools").hidden = cam.role !== "owner";
  $("viewer").showModal();
  $("viewer-controls").replaceChildren(mediaControls($("frame"), $("video"), cam));
  view = new LiveView(cam, $("video"));
  view.start();
  loadTimeline(cam);
  if (cam.role === "owner") loadOwnerTools(cam);
}

function closeViewer() {
  if (view) view.stop();
  view = null;
  hideTimeline();
  if ($("viewer").open) $("viewer").close();
}

$("viewer-close").addEventListener("click", closeViewer);
// Esc closes the dialog without our button; the event comes a task later,
// when a new view may already be open.
$("viewer").addEventListener("close", () => {
  if ($("viewer").open) return;
  if (view) { view.stop(); view = null; }
  hideTimeline();
});

// LiveView plays one camera: WebRTC (WHEP) first, progressive MP4 when
// WebRTC fails; it shows its state and reconnects with backoff.
class LiveView {
  constructor(cam, video) {
    this.cam = cam;
    this.video = video;
    this.stopped = false;
    this.retries = 0;
    this.forceMP4 = new URLSearchParams(location.search).get("webrtc") === "off";
    video.addEventListener("playing", this.onPlaying = () => { this.played = true; this.setState("live"); });
  }

  setState(s) {
    const el = $("state");
    el.textContent = s;
    el.dataset.state = s;
  }

  async start() {
    if (this.stopped) return;
    this.setState(this.retries ? "reconnecting" : "connecting");
    const base = "/api/cameras/" + encodeURIComponent(this.cam.id);
    let why = "";
    if (!this.forceMP4) {
      try {
        await this.webrtc(base);
        $("why").textContent = "";
        return;
      } catch (err) {
        if (err.status === 404 || err.status === 401) return this.setState("no access");
        if (err.status === 503) return this.offline();
        console.warn("webrtc failed, falling back to mp4:", err.message);
        why = err.message; // e.g. the server's 422: the camera has B-frames
      }
    }
    this.mp4(base);
    $("why").textContent = why && " (WebRTC: " + why + ")";
  }

  async webrtc(base) {
    const cert = await pcCert;
    const pc = new RTCPeerConnection(cert ? { certificates: [cert] } : {});
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.ontrack = (e) => {
      if (!this.video.srcObject) this.video.srcObject = e.streams[0] || new MediaStream([e.track]);
    };
    const candidates = gathered(pc); // listening before the first candidate
    await pc.setLocalDescription(await pc.createOffer());
    await candidates;
    const res = await api("POST", base + "/whep", pc.localDescription.sdp, "application/sdp");
    if (!res.ok) {
      pc.close();
      const err = new Error(await errorText(res));
      err.status = res.status;
      throw err;
    }
    this.whep = res.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
    $("via").textContent = "WebRTC";
    const connected = new Promise((ok, fail) => {
      const t = setTimeout(() => fail(new Error("no connection in 5 s")), 5000);
      pc.addEventListener("connectionstatechange", () => {
        if (pc.connectionState === "connected") { clearTimeout(t); ok(); }
        if (pc.connectionState === "failed") { clearTimeout(t); fail(new Error("connection failed")); }
      });
    });
    await connected;
    pc.addEventListener("connectionstatechange", () => {
      if (["failed", "closed", "disconnected"].includes(pc.connectionState)) this.lost();
    });
    this.watchMode();
  }

  // watchMode shows what the WebRTC session sends as it adapts to the
  // network: the main or sub stream, keyframes only, or stills.
  watchMode() {
    const show = async () => {
      const loc = this.whep;
      if (!loc) return;
      const res = await api("GET", loc);
      if (res.ok && loc === this.whep) setMode((await res.json()).mode);
    };
    show();
    this.modeTimer = setInterval(show, 2000);
  }

  mp4(base, stream) {
    $("via").textContent = "MP4";
    this.video.srcObject = null;
    this.stream = stream || this.pickStream();
    const t = throughput();
    setMode(this.stream, this.stream === "sub" && (t ? "measured " + mbits(t) : "main came too slowly"));
    // From the GOP before the cached keyframe: Chromium shows its first
    // frame only once about a second past it is buffered.
    this.video.src = base + "/live.mp4?from=previous&stream=" + this.stream + "&t=" + Date.now();
    this.played = false;
    this.video.onerror = () => {
      if (this.stream !== "sub" || this.played) return this.lost();
      this.noSub = true; // the camera sends no sub stream: main it is
      this.teardown();
      this.mp4(base, "main");
    };
    this.video.onended = () => this.lost();
    this.video.onloadeddata = () => this.video.play().catch(() => {});
    // Stay at the live edge: the stream starts a GOP before the cached
    // keyframe, up to two GOPs behind, and a view that lags keeps showing buffered frames
    // after the server has stopped (a revoked share must stop at once).
    // A progressive stream cannot be seeked, so the view catches up by
    // playing faster for a moment.
    this.edge = setInterval(() => {
      const v = this.video, b = v.buffered;
      const lag = b.length ? b.end(b.length - 1) - v.currentTime : 0;
      v.playbackRate = lag > 0.4 ? 4 : 1;
    }, 100);
    this.watchThroughput(base);
  }

  // pickStream chooses the MP4 fallback's stream by measured throughput:
  // sub when main arrived slower than it plays in this tab in the last two
  // minutes (watchThroughput), or when this page's stills downloaded at
  // under 1 Mbit/s (less than a camera's main stream takes); else main.
  pickStream() {
    const t = throughput(), slowAt = slowPaths.get(this.cam.id);
    if (this.noSub) return "main";
    return (slowAt !== undefined && performance.now() - slowAt < 120000) || (t > 0 && t < 1e6) ? "sub" : "main";
  }

  // watchThroughput moves the MP4 fallback to the sub stream when main
  // arrives slower than it plays (the buffer grows less than 0.8 s a
  // second, three seconds running).
  watchThroughput(base) {
    let last = null, slow = 0;
    this.rateTimer = setInterval(() => {
      const b = this.video.buffered, end = b.length ? b.end(b.length - 1) : 0, now = performance.now();
      if (last && end > 0) {
        slow = (end - last.end) / ((now - last.at) / 1000) < 0.8 ? slow + 1 : 0;
        if (slow >= 3 && this.stream === "main" && !this.noSub) {
          slowPaths.set(this.cam.id, now);
          this.teardown();
          this.mp4(base, "sub");
          return;
        }
      }
      last = { end, at: now };
    }, 1000);
  }

  async lost() {
    if (this.stopped) return;
    this.teardown();
    this.retries++;
    const res = await api("GET", "/api/cameras");
    const cams = res.ok ? await res.json() : [];
    const cam = cams.find((c) => c.id === this.cam.id);
    if (!cam) return this.setState("no access");
    if (!cam.online) return this.offline();
    this.setState("reconnecting");
    setTimeout(() => this.start(), Math.min(8000, 500 * 2 ** Math.min(this.retries, 4)));
  }

  offline() {
    this.setState("offline");
    setTimeout(() => this.lost(), 5000);
  }

  teardown() {
    clearInterval(this.edge);
    clearInterval(this.modeTimer);
    clearInterval(this.rateTimer);
    setMode("");
    $("why").textContent = "";
    if (this.pc) { this.pc.close(); this.pc = null; }
    if (this.whep) { api("DELETE", this.whep); this.whep = null; }
    this.video.onerror = this.video.onended = this.video.onloadeddata = null;
    this.video.srcObject = null;
    this.video.removeAttribute("src");
    this.video.load();
  }

  stop() {
    this.stopped = true;
    this.video.removeEventListener("playing", this.onPlaying);
    this.teardown();
  }
}

// setMode shows what the live view plays, and why when it is less than
// the main stream.
function setMode(mode, why) {
  const names = { main: "main stream", sub: "sub stream (slow network)",
    keyframes: "keyframes only (slow network)", stills: "stills (very slow network)" };
  $("mode").textContent = mode ? " · " + (names[mode] || mode) + (why ? ", " + why : "") : "";
  $("mode").dataset.mode = mode;
}

// throughput is the rate, in bits/s, at which this page's latest stills
// downloaded (Resource Timing), the median of the last five; 0 if none.
function throughput() {
  const rates = performance.getEntriesByType("resource")
    .filter((e) => e.name.includes("/still.jpg") && e.transferSize > 0 && e.responseEnd > e.responseStart)
    .slice(-5)
    .map((e) => (e.transferSize * 8) / ((e.responseEnd - e.responseStart) / 1000))
    .sort((a, b) => a - b);
  return rates.length ? rates[rates.length >> 1] : 0;
}

function mbits(bps) {
  return (bps / 1e6).toFixed(1) + " Mbit/s";
}

// gathered waits until the offer carries the page's ICE candidates (WHEP
// here has no trickle). It ends at the end of gathering, or once no candidate has come for
// candidateQuiet: Chromium reports its host candidates within a few ms
// but gathering complete only ~120 ms later (its allocator's later phases,
// which find nothing without STUN or TURN servers), and that wait was
// half of a click's time to first frame. A candidate that comes later
// costs nothing: the server learns the page's address from its
// connectivity checks anyway (a peer-reflexive candidate; the host
// candidates are often mDNS names it does not resolve).
const candidateQuiet = 20;

// One DTLS certificate for every live view of the page, made when the page
// loads: without one, Chromium makes a certificate for each new peer
// connection before its offer, and on a busy machine that made the offer
// of some clicks wait over 200 ms.
const pcCert = window.RTCPeerConnection && RTCPeerConnection.generateCertificate
  ? RTCPeerConnection.generateCertificate({ name: "ECDSA", namedCurve: "P-256" }).catch(() => null)
  : Promise.resolve(null);

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((ok) => {
    let quiet;
    const cap = setTimeout(ok, 2000);
    const done = () => { clearTimeout(cap); clearTimeout(quiet); ok(); };
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") done();
    });
    pc.addEventListener("icecandidate", (e) => {
      if (!e.candidate) return done();
      clearTimeout(quiet);
      quiet = setTimeout(done, candidateQuiet);
    });
  });
}

// --- owner tools: shares and history --------------------------------------

async function loadOwnerTools(cam) {
  const base = "/api/cameras/" + encodeURIComponent(cam.id);
  const asked = epoch;
  ownerExtras(cam, base);
  const sres = await api("GET", base + "/shares");
  const shares = sres.ok ? await sres.json() : [];
  if (asked !== epoch) return;
  $("shares").replaceChildren(...shares.map((s) => {
    const li = document.createElement("li");
    const text = document.createElement("span");
    text.textContent = s.user + (s.until ? " until " + new Date(s.until).toLocaleString() : "");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = "Revoke";
    b.setAttribute("aria-label", "Stop sharing with " + s.user);
    b.addEventListener("click", async () => {
      const r = await api("DELETE", base + "/shares/" + encodeURIComponent(s.user));
      if (r.ok) loadOwnerTools(cam);
    });
    li.append(text, b);
    return li;
  }));
  $("share-form").onsubmit = async (e) => {
    e.preventDefault();
    const until = $("share-until").value;
    const body = until ? { until: new Date(until).toISOString() } : {};
    const r = await api("PUT", base + "/shares/" + encodeURIComponent($("share-user").value.trim()), body);
    $("share-error").textContent = r.ok ? "" : await errorText(r);
    if (r.ok) { $("share-user").value = ""; loadOwnerTools(cam); }
  };
}

function fmt(t) { return new Date(t).toLocaleString(); }

setInterval(() => { if (me && !document.hidden) refresh(); }, 10000);
// After every deferred script has run (timeline.js, after this one, is
// needed by forget): a fast answer to start's first request may otherwise
// arrive before it has.
document.addEventListener("DOMContentLoaded", start);
