// Releasing a camera, and the recordings kept at a release: the owner
// gives a camera up from its live view, choosing whether to keep the
// recordings of their ownership for some days; what they kept is listed
// on the home page (only to them, whoever holds the camera now), with its
// events (thumbnails) and recordings to download and a button to delete
// it early.
"use strict";

// releaseTools wires the release form of cam, whose API path is base.
function releaseTools(cam, base) {
  $("release-error").textContent = "";
  $("release-keep").checked = true;
  $("release-days").value = "1";
  $("release-form").onsubmit = async (e) => {
    e.preventDefault();
    if (!confirm("Release " + cam.name + "? Nobody will see it any more until someone claims it with the new code.")) return;
    const q = $("release-keep").checked ? "?keep_days=" + encodeURIComponent($("release-days").value) : "";
    const r = await api("DELETE", base + q);
    if (!r.ok) { $("release-error").textContent = await errorText(r); return; }
    const out = await r.json();
    closeViewer();
    $("released-name").textContent = cam.name;
    $("released-code").textContent = out.claim_code;
    $("released-kept").textContent = out.kept_until ? "Your recordings are kept until " + fmt(out.kept_until) + ": see Kept recordings." : "Its recordings were deleted.";
    $("released").hidden = false;
    refresh();
  };
}

// loadExports lists the signed-in person's kept recordings, each with its
// recordings to download.
async function loadExports() {
  const asked = epoch;
  const res = await api("GET", "/api/exports");
  if (!res.ok || asked !== epoch) return;
  const { exports } = await res.json();
  const items = await Promise.all(exports.map(exportItem));
  if (asked !== epoch) return;
  $("exports").replaceChildren(...items);
  $("exports-box").hidden = exports.length === 0;
}

// exportItem is one export's line: what it keeps, until when, its events
// with their thumbnails, its recordings to download and its delete button.
async function exportItem(x) {
  const base = "/api/exports/" + encodeURIComponent(x.id);
  const li = document.createElement("li");
  li.dataset.id = x.id;
  const text = document.createElement("span");
  const span = x.first ? fmt(x.first) + " – " + fmt(x.last) : "nothing recorded";
  text.textContent = x.name + ": " + span + ", " + bytes(x.size) + ", kept until " + fmt(x.deadline);
  const del = document.createElement("button");
  del.type = "button";
  del.textContent = "Delete";
  del.setAttribute("aria-label", "Delete the recordings kept of " + x.name);
  del.addEventListener("click", async () => {
    if (!confirm("Delete the recordings kept of " + x.name + " now? This cannot be undone.")) return;
    const r = await api("DELETE", base);
    if (r.ok || r.status === 404) loadExports();
  });
  const list = document.createElement("ul");
  list.className = "downloads";
  list.setAttribute("aria-label", "Recordings kept of " + x.name);
  for (const stream of ["main", "sub"]) {
    const r = await api("GET", base + "/recordings?stream=" + stream);
    const spans = r.ok ? (await r.json()).spans : [];
    for (const s of spans) {
      const item = document.createElement("li");
      const a = document.createElement("a");
      a.href = s.url + "&download=1";
      a.download = "";
      a.textContent = "Download " + fmt(s.start) + " (" + stream + ", " + bytes(s.size) + ")";
      item.append(a);
      list.append(item);
    }
  }
  const events = document.createElement("ul");
  events.className = "events";
  events.setAttribute("aria-label", "Events kept of " + x.name);
  const r = await api("GET", base + "/events");
  for (const e of r.ok ? (await r.json()).events : []) {
    const item = eventItem(e);
    const t = document.createElement("span");
    t.textContent = e.kind + " · " + fmt(e.start);
    item.append(t);
    if (e.clips.length > 0) {
      const a = document.createElement("a");
      a.href = e.clips[0].url + "&download=1";
      a.download = "";
      a.textContent = "Download";
      item.append(a);
    }
    events.append(item);
  }
  li.append(text, del, events, list);
  return li;
}

function forgetExports() {
  $("exports").replaceChildren();
  $("exports-box").hidden = true;
  $("released").hidden = true;
  for (const id of ["released-name", "released-code", "released-kept", "release-error"]) $(id).textContent = "";
  $("release-form").onsubmit = null;
}
