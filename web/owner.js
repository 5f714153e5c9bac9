// The owner's tools in the live view beside shares: rename the camera,
// who is watching now, and the access history grouped so that one
// person's page refreshing its thumbnail is one line, not six a minute.
"use strict";

// ownerExtras fills the rename form and the history of cam.
function ownerExtras(cam, base) {
  $("rename-name").value = cam.name;
  $("rename-error").textContent = "";
  $("rename-form").onsubmit = async (e) => {
    e.preventDefault();
    const r = await api("PATCH", base, { name: $("rename-name").value });
    $("rename-error").textContent = r.ok ? "" : await errorText(r);
    if (!r.ok) return;
    const { name } = await r.json();
    cam.name = name;
    $("viewer-title").textContent = name;
    refresh();
  };
  historyOf = base;
  loadHistory();
}

let historyOf = ""; // the camera (API path) whose history the live view shows

async function loadHistory() {
  const asked = epoch, base = historyOf;
  const res = await api("GET", base + "/access?grouped=true");
  const history = res.ok ? await res.json() : [];
  if (asked !== epoch || base !== historyOf) return;
  renderHistory(history);
}

// Who is watching changes while the owner looks: read it again.
setInterval(() => {
  const $$ = (id) => document.getElementById(id);
  if (historyOf && $$("viewer").open && !$$("owner-tools").hidden && !document.hidden) loadHistory();
}, 5000);

// renderHistory shows who is watching now (lines still open) and every
// line of the history.
function renderHistory(lines) {
  const now = lines.filter((h) => !h.ended);
  $("watching").replaceChildren(...now.map((h) => {
    const li = document.createElement("li");
    li.textContent = h.user + " via " + h.output + " from " + h.remote + ", since " + new Date(h.started).toLocaleTimeString();
    return li;
  }));
  $("watching-none").hidden = now.length > 0;
  $("history").tBodies[0].replaceChildren(...lines.map((h) => {
    const tr = document.createElement("tr");
    const when = fmt(h.started) + (h.ended ? (h.count > 1 ? " – " + new Date(h.ended).toLocaleTimeString() : "") : " – now");
    const cells = [[h.user], [h.output + " (" + h.audience + ")", "via"], [h.remote, "from"], [when],
      [(h.count || 1) + (h.count > 1 ? " views" : " view")], [bytes(h.bytes)]];
    for (const [v, label] of cells) {
      const td = document.createElement("td");
      td.textContent = v;
      if (label) td.dataset.label = label;
      tr.append(td);
    }
    return tr;
  }));
}

function bytes(n) {
  if (n < 1024) return n + " B";
  if (n < 1 << 20) return (n / 1024).toFixed(0) + " KiB";
  return (n / (1 << 20)).toFixed(1) + " MiB";
}

function forgetOwnerExtras() {
  historyOf = "";
  $("rename-form").onsubmit = null;
  $("rename-name").value = "";
  $("rename-error").textContent = "";
  $("watching").replaceChildren();
  $("watching-none").hidden = false;
}
