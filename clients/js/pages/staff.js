// The staff page /console/{facility}/staff: a clinic admin (or the operator) manages the
// facility's staff accounts: list, add, reset a forgotten password (a temporary one, shown
// once), unlock a throttled login, grant or revoke admin, remove. It uses the console's
// stored login (sessionStorage), or its own login form. Non-admin staff see why they cannot.

import { applyI18n, currentLang, t } from "./i18n.js";
import { submitLogin } from "./staff.password.js";
import "./staff.strings.js";
import { ApiError, TOKEN_KEY, claims, el, usable } from "./staffsession.js";

const facility = document.body.dataset.facility.replace(/[^0-9]/g, "");
const REFRESH_MS = 15_000;
const $ = (id) => document.getElementById(id);

const state = { token: null, me: null, users: [], timer: null, secret: null };

const errorText = (code, fallback) => {
  const key = `st.err.${code}`;
  const text = t(key);
  return text === key ? fallback : text;
};

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "network", t("st.err.network"));
  }
  const data = await response.json().catch(() => ({}));
  if (response.ok) return data;
  const code = data.error?.code || "http_error";
  if (response.status === 401) logout(t("st.expired"));
  else if (response.status === 403 && code === "forbidden") showDenied();
  else if (code === "password_change_required") logout("");
  throw new ApiError(response.status, code, errorText(code, data.error?.message || `HTTP ${response.status}`));
}

function notify(message, isError = false) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
  box.classList.toggle("jb-notice-error", isError);
  box.classList.toggle("jb-notice-info", !isError);
}

// ---- session -----------------------------------------------------------------------------

function show(section) {
  for (const id of ["login", "denied", "app"]) $(id).hidden = id !== section;
  $("logout").hidden = section === "login";
}

function logout(reason = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(state.timer);
  Object.assign(state, { token: null, me: null, users: [], timer: null });
  hideSecret();
  $("me").textContent = "";
  show("login");
  $("login-error").textContent = reason;
  $("login-form").user.focus();
}

function showDenied() {
  clearInterval(state.timer);
  show("denied");
}

async function login(event) {
  event.preventDefault();
  const text = (key, vars) => t(`st.${key}`, vars);
  const token = await submitLogin(event.target, $("login"), $("login-error"), facility, text);
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    begin(token);
  }
}

function begin(token) {
  const c = claims(token);
  state.token = token;
  state.me = c.role === "operator" ? null : c.sub;
  $("me").textContent = c.sub || c.role;
  if (c.role === "staff" && !c.adm) {
    showDenied();
    return;
  }
  show("app");
  refresh();
  clearInterval(state.timer);
  state.timer = setInterval(refresh, REFRESH_MS);
}

// ---- the list ----------------------------------------------------------------------------

async function refresh() {
  const session = state.token;
  try {
    const data = await api("GET", `/v1/facilities/${facility}/users`);
    if (state.token !== session) return;
    state.users = data.users;
    render();
  } catch (err) {
    if (state.token === session && err.status !== 401 && err.status !== 403) notify(err.message, true);
  }
}

function lastLogin(epoch) {
  if (!epoch) return t("st.never");
  return new Intl.DateTimeFormat(currentLang() === "en" ? "en-GB" : "ja-JP", {
    dateStyle: "short",
    timeStyle: "short",
  }).format(new Date(epoch * 1000));
}

function stateCell(u) {
  const pills = [];
  if (u.throttled) pills.push(el("span", { class: "jb-pill st-locked" }, t("st.throttled", { s: u.retry_after })));
  if (u.must_change_password) pills.push(el("span", { class: "jb-pill jb-pill-off st-temp" }, t("st.temporary")));
  if (!pills.length) pills.push(el("span", { class: "jb-pill" }, t("st.ok")));
  if (u.failures > 0) pills.push(el("span", { class: "jb-muted jb-small st-failures" }, t("st.failures", { n: u.failures })));
  return pills;
}

function row(u) {
  const mine = u.user === state.me;
  const buttons = [
    el("button", { type: "button", class: "jb-btn jb-btn-quiet", "data-action": "reset", onclick: () => reset(u.user) }, t("st.reset")),
  ];
  if (u.failures > 0 || u.throttled) {
    buttons.push(el("button", { type: "button", class: "jb-btn", "data-action": "unlock", onclick: () => unlock(u.user) }, t("st.unlock")));
  }
  if (!mine) {
    buttons.push(el("button", { type: "button", class: "jb-btn jb-btn-quiet", "data-action": "admin", onclick: () => setAdmin(u.user, !u.admin) },
      t(u.admin ? "st.revoke" : "st.grant")));
    buttons.push(el("button", { type: "button", class: "jb-btn jb-btn-danger-quiet", "data-action": "remove", onclick: (e) => remove(u.user, e.currentTarget) },
      t("st.remove")));
  }
  return el("tr", { "data-user": u.user },
    el("td", { class: "st-name" }, u.user, mine ? el("span", { class: "jb-muted jb-small" }, ` ${t("st.you")}`) : ""),
    el("td", {}, el("span", { class: u.admin ? "jb-pill st-admin" : "jb-pill jb-pill-off" }, t(u.admin ? "st.admin" : "st.staff"))),
    el("td", {}, el("div", { class: "st-state" }, ...stateCell(u))),
    el("td", { class: "st-last" }, lastLogin(u.last_login)),
    el("td", {}, el("div", { class: "st-actions" }, ...buttons)));
}

function render() {
  $("users").replaceChildren(...state.users.map(row));
  $("empty").hidden = state.users.length > 0;
}

// ---- actions -----------------------------------------------------------------------------

const userPath = (user) => `/v1/facilities/${facility}/users/${encodeURIComponent(user)}`;

async function run(fn) {
  try {
    const message = await fn();
    notify(message || "");
  } catch (err) {
    if (err.status !== 401 && !(err.status === 403 && err.code === "forbidden")) notify(err.message, true);
  }
  await refresh();
}

function showSecret(user, password) {
  state.secret = password;
  $("secret-for").textContent = t("st.secret_for", { user });
  $("secret-value").textContent = password;
  $("secret-copied").textContent = "";
  $("secret").hidden = false;
  $("secret").scrollIntoView({ block: "nearest" });
  $("secret-copy").focus();
}

function hideSecret() {
  state.secret = null;
  $("secret-value").textContent = "";
  $("secret").hidden = true;
}

async function copySecret() {
  if (!state.secret) return;
  try {
    await navigator.clipboard.writeText(state.secret);
    $("secret-copied").textContent = t("st.copied");
  } catch {
    const range = document.createRange();
    range.selectNodeContents($("secret-value"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    $("secret-copied").textContent = document.execCommand("copy") ? t("st.copied") : t("st.copy_failed");
  }
}

function reset(user) {
  return run(async () => {
    const data = await api("POST", `${userPath(user)}/reset`);
    showSecret(user, data.temporary_password);
  });
}

function unlock(user) {
  return run(async () => {
    await api("POST", `${userPath(user)}/unlock`);
    return t("st.unlocked", { user });
  });
}

function setAdmin(user, admin) {
  return run(() => api("PUT", `${userPath(user)}/admin`, { admin }));
}

/** Removal takes two presses: the first arms the button for a few seconds. */
function remove(user, button) {
  if (button.dataset.armed !== "1") {
    button.dataset.armed = "1";
    button.textContent = t("st.confirm_remove");
    button.classList.add("jb-btn-danger");
    setTimeout(() => {
      if (!button.isConnected) return;
      button.dataset.armed = "";
      button.textContent = t("st.remove");
      button.classList.remove("jb-btn-danger");
    }, 5000);
    return;
  }
  return run(async () => {
    await api("DELETE", userPath(user));
    return t("st.removed", { user });
  });
}

async function add(event) {
  event.preventDefault();
  const form = event.target;
  const body = { user: form.user.value.trim(), admin: form.admin.checked };
  if (form.password.value) body.password = form.password.value;
  await run(async () => {
    const data = await api("POST", `/v1/facilities/${facility}/users`, body);
    form.reset();
    if (data.temporary_password) showSecret(data.user, data.temporary_password);
    return t("st.added", { user: data.user });
  });
}

// ---- language ----------------------------------------------------------------------------

function labelLangButton() {
  const other = currentLang() === "ja" ? "en" : "ja";
  $("lang").textContent = other === "en" ? "English" : "日本語";
  $("lang").setAttribute("lang", other);
}

function relabel() {
  applyI18n();
  labelLangButton();
  if (state.users.length) render();
}

function switchLanguage() {
  const lang = currentLang() === "ja" ? "en" : "ja";
  const url = new URL(location.href);
  url.searchParams.set("lang", lang);
  history.replaceState(history.state, "", url);
  document.documentElement.lang = lang;
  relabel();
}

/** ?lang= (the server set <html lang> from it), else the facility's `lang` ("ja+en": a
 * Japanese page), else the server's choice from the browser. */
async function loadFacility() {
  try {
    const r = await fetch(`/v1/facilities/${facility}`, { cache: "no-store" });
    if (!r.ok) return;
    const record = await r.json();
    $("facility-name").textContent = record.name || t("st.facility", { facility });
    const asked = new URLSearchParams(location.search).get("lang");
    if (asked !== "ja" && asked !== "en" && record.lang) {
      document.documentElement.lang = record.lang === "en" ? "en" : "ja";
      relabel();
    }
  } catch {
    // the name stays the facility number
  }
}

function init() {
  relabel();
  $("login-form").addEventListener("submit", login);
  $("add-form").addEventListener("submit", add);
  $("logout").addEventListener("click", () => logout());
  $("denied-logout").addEventListener("click", () => logout());
  $("secret-copy").addEventListener("click", copySecret);
  $("secret-done").addEventListener("click", hideSecret);
  $("lang").addEventListener("click", switchLanguage);
  loadFacility();
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && usable(claims(token), facility)) begin(token);
  else logout(token ? t("st.expired") : "");
}

init();
