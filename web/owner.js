// The owner's tools in the live view beside shares: rename the camera,
// how long its recordings are kept, who is watching now, and the access
// history grouped so that one person's page refreshing its thumbnail is
// one line, not six a minute.
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
  loadRetention(base);
  releaseTools(cam, base);
}

const GiB = 1024 * 1024 * 1024;

// loadRetention shows the camera's retention rule: days and GiB of footage
// kept, 0 for the server's default. Without recording the server has no
// rule to show (404) and the form stays hidden.
async function loadRetention(base) {
  const asked = epoch;
  $("retention-box").hidden = true;
  $("retention-form").onsubmit = null;
  for (const id of ["retention-error", "retention-done"]) $(id).textContent = "";
  const res = await api("GET", base + "/retention");
  const rule = res.ok ? await res.json() : null;
  if (asked !== epoch || base !== historyOf || !rule) return;
  $("retention-days").value = rule.days;
  $("retention-event-days").value = rule.event_days;
  $("retention-gib").value = +(rule.bytes / GiB).toFixed(1);
  $("retention-box").hidden = false;
  $("retention-form").onsubmit = async (e) => {
    e.preventDefault();
    const body = { days: Number($("retention-days").value), event_days: Number($("retention-event-days").value),
      bytes: Math.round(Number($("retention-gib").value) * GiB) };
    const r = await api("PUT", base + "/retention", body);
    if (asked !== epoch) return;
    $("retention-error").textContent = r.ok ? "" : await errorText(r);
    $("retention-done").textContent = r.ok ? "Saved: " + retentionText(await r.json()) : "";
  };
}

// retentionText says what a rule keeps.
function retentionText(rule) {
  const days = rule.days ? rule.days + (rule.days === 1 ? " day" : " days") : "the default time";
  const size = rule.bytes ? +(rule.bytes / GiB).toFixed(1) + " GiB" : "the default size";
  const events = rule.in_force && rule.in_force.event_days > rule.in_force.days ? " (around events " + rule.in_force.event_days + " days)" : "";
  // A lowered rule deletes nothing until its grace period is over.
  const grace = rule.grace_until ? " Until " + fmt(rule.grace_until) + " the rule before stays in force: change it back to keep that footage." : "";
  return "footage is kept for " + days + events + ", at most " + size + "." + grace;
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
  $("retention-box").hidden = true;
  $("retention-form").onsubmit = null;
  for (const id of ["retention-days", "retention-event-days", "retention-gib"]) $(id).value = "";
  for (const id of ["retention-error", "retention-done"]) $(id).textContent = "";
}
