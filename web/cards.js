// Camera cards: each card's picture and, for an offline camera, its last
// picture, how old it is and why there is no live one. The picture stays
// hidden until one has loaded: never a broken-image icon.
"use strict";

// ago says how long ago t (milliseconds since the epoch) was.
function ago(t) {
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

// offlineReason says why a camera shows no live picture.
function offlineReason(c) {
  if (c.disabled) return "disabled by an administrator";
  if (!c.last_seen) return "not connected since Vigil started";
  return "no video since " + new Date(c.last_seen).toLocaleString();
}

// cardPicture is a card's picture box: the still, hidden until loaded,
// and the note an offline camera shows over it.
function cardPicture(c) {
  const box = document.createElement("span");
  box.className = "thumb-box";
  const img = document.createElement("img");
  img.className = "thumb";
  img.alt = "Latest picture from " + c.name;
  img.width = 320;
  img.height = 180;
  img.hidden = true;
  const note = document.createElement("span");
  note.className = "note";
  note.hidden = true;
  box.append(img, note);
  return box;
}

// showCardState marks a card online or offline; offline, its note says
// why and how old the picture is.
function showCardState(li, c) {
  li.classList.toggle("offline", !c.online);
  const note = li.querySelector(".note");
  note.hidden = c.online;
  if (c.online) return;
  const captured = Date.parse(li.dataset.captured || "");
  const picture = isNaN(captured) ? "no picture kept" : "last picture " + ago(captured);
  note.textContent = "Offline: " + offlineReason(c) + "; " + picture;
}

// loadStills reloads the stills of online cameras, and fetches an offline
// camera's last still once (it does not change while it is offline).
function loadStills() {
  for (const li of $("grid").children) {
    const c = cameras.find((x) => x.id === li.dataset.id);
    if (!c) continue;
    if (c.online) delete li.dataset.offlineTried;
    else if (li.dataset.offlineTried) continue;
    else li.dataset.offlineTried = "1";
    loadStill(li, c);
  }
}

// loadStill fetches a camera's still into its card with when it was taken
// (X-Still-Captured); a failed load keeps the picture there was.
async function loadStill(li, c) {
  const asked = epoch;
  let res, blob;
  try {
    res = await fetch("/api/cameras/" + encodeURIComponent(c.id) + "/still.jpg?width=640",
      { credentials: "same-origin", cache: "no-store" });
    blob = res.ok ? await res.blob() : null;
  } catch {
    return;
  }
  if (!blob || asked !== epoch || !li.isConnected) return;
  const img = li.querySelector(".thumb");
  const old = img.src;
  img.onload = () => {
    img.hidden = false;
    if (old) URL.revokeObjectURL(old);
  };
  img.src = URL.createObjectURL(blob);
  li.dataset.captured = res.headers.get("X-Still-Captured") || "";
  showCardState(li, cameras.find((x) => x.id === c.id) || c);
}
