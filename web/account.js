// The account page: change the password, create (shown once) and delete
// API tokens, and, for admins, make invitations (shown once).
"use strict";

let admin = false; // the signed-in person is an admin (from the session)

function openAccount() {
  closeViewer();
  closeWall();
  $("home").hidden = true;
  $("account").hidden = false;
  $("invite-box").hidden = !admin;
  loadTokens();
}

function closeAccount() {
  if ($("account").hidden) return;
  clearAccountPage();
  if (me) $("home").hidden = false;
}

// forgetAccount forgets the signed-in person's account (sign-out).
function forgetAccount() {
  admin = false;
  clearAccountPage();
  forgetAddCamera();
}

// clearAccountPage drops everything the page showed or was typed here:
// a secret is shown once, not again when the page is reopened.
function clearAccountPage() {
  $("account").hidden = true;
  $("tokens").replaceChildren();
  for (const id of ["token-new", "invite-new"]) $(id).hidden = true;
  for (const id of ["token-secret", "invite-code", "invite-expires", "password-error", "password-done",
    "token-error", "invite-error"]) $(id).textContent = "";
  for (const id of ["password-current", "password-new", "token-name"]) $(id).value = "";
}

async function loadTokens() {
  const asked = epoch;
  const res = await api("GET", "/api/tokens");
  const toks = res.ok ? await res.json() : [];
  if (asked !== epoch) return;
  $("tokens").replaceChildren(...toks.map((t) => {
    const li = document.createElement("li");
    const text = document.createElement("span");
    text.textContent = (t.name || "token") + " — " + (t.scope === "manage" ? "watch and manage" : "watch") +
      ", until " + new Date(t.expires).toLocaleDateString();
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = "Delete";
    b.setAttribute("aria-label", "Delete the token " + (t.name || t.id));
    b.addEventListener("click", async () => {
      const r = await api("DELETE", "/api/tokens/" + encodeURIComponent(t.id));
      if (r.ok) loadTokens();
    });
    li.append(text, b);
    return li;
  }));
}

// This file loads before app.js, which defines $: wired by hand.
document.getElementById("token-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const res = await api("POST", "/api/tokens", { name: $("token-name").value.trim(), scope: $("token-scope").value });
  $("token-error").textContent = res.ok ? "" : await errorText(res);
  if (!res.ok) return;
  const t = await res.json();
  $("token-name").value = "";
  $("token-secret").textContent = t.token;
  $("token-new").hidden = false;
  loadTokens();
});

document.getElementById("password-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("password-done").textContent = "";
  const res = await api("POST", "/api/password", { current: $("password-current").value, new: $("password-new").value });
  $("password-error").textContent = res.ok ? "" : await errorText(res);
  if (!res.ok) return;
  $("password-current").value = $("password-new").value = "";
  $("password-done").textContent = "Password changed. Your other sessions and API tokens have ended.";
  loadTokens();
});

document.getElementById("invite").addEventListener("click", async () => {
  const res = await api("POST", "/api/invitations");
  $("invite-error").textContent = res.ok ? "" : await errorText(res);
  if (!res.ok) return;
  const inv = await res.json();
  $("invite-code").textContent = inv.invitation;
  $("invite-expires").textContent = "Valid until " + new Date(inv.expires).toLocaleString() + ", for one sign-up.";
  $("invite-new").hidden = false;
});

document.getElementById("account-open").addEventListener("click", openAccount);
document.getElementById("account-close").addEventListener("click", closeAccount);

// --- adding a camera --------------------------------------------------------

document.getElementById("add-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("add-new").hidden = true;
  const body = { name: $("add-name").value };
  if ($("add-source").value.trim()) body.source = $("add-source").value.trim();
  const res = await api("POST", "/api/cameras", body);
  $("add-error").textContent = res.ok ? "" : await errorText(res);
  if (!res.ok) return;
  const cam = await res.json();
  $("add-name").value = $("add-source").value = "";
  if (cam.password) {
    $("add-url").textContent = cam.push_url || "";
    $("add-user").textContent = cam.user;
    $("add-password").textContent = cam.password;
    $("add-new").hidden = false;
  }
  refresh();
});

// forgetAddCamera drops a new camera's password and what was typed.
function forgetAddCamera() {
  $("add-new").hidden = true;
  for (const id of ["add-url", "add-user", "add-password", "add-error"]) $(id).textContent = "";
  for (const id of ["add-name", "add-source"]) $(id).value = "";
  $("add-box").open = false;
}

// showAdminParts shows what only admins may use: pull sources.
function showAdminParts() {
  for (const id of ["add-source", "add-source-label"]) $(id).hidden = !admin;
}
