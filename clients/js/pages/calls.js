// The call history page /console/{facility}/calls (通話履歴) of a facility with the phone
// call-out option: the calls of a day (date picker; today's refresh every 5 s), its CSV
// (fetched with the login, saved as a file) and the phone settings (threshold, hours, retry,
// caller number). It uses the console's stored login, or its own form.

import { applyI18n, currentLang, t } from "./i18n.js";
import "./calls.strings.js";
import { submitLogin } from "./staff.password.js";
import { ApiError, TOKEN_KEY, claims, el, usable } from "./staffsession.js";

const facility = document.body.dataset.facility.replace(/[^0-9]/g, "");
const base = `/v1/facilities/${facility}`;
const REFRESH_MS = 5_000;
const $ = (id) => document.getElementById(id);

const state = { token: null, calls: [], timer: null, tz: "Asia/Tokyo", loading: false, settingsLoaded: false };

// ---- HTTP --------------------------------------------------------------------------------

function errorText(code, fallback) {
  const key = `ca.err.${code}`;
  const text = t(key);
  return text === key ? fallback : text;
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "network", t("ca.err.network"));
  }
  const data = await response.json().catch(() => ({}));
  if (response.ok) return data;
  const code = data.error?.code || "http_error";
  if (response.status === 401) logout(t("ca.expired"));
  throw new ApiError(response.status, code, errorText(code, data.error?.message || `HTTP ${response.status}`));
}

const said = (err) => (err.code && err.code !== "network" ? `${err.message} (${err.code})` : err.message);

function notify(message, isError = false) {
  const box = $("notice");
  box.textContent = message || "";
  box.hidden = !message;
  box.setAttribute("role", isError ? "alert" : "status");
  box.classList.toggle("jb-notice-error", isError);
  box.classList.toggle("jb-notice-info", !isError);
}

// ---- session -----------------------------------------------------------------------------

function show(section) {
  for (const id of ["login", "app"]) $(id).hidden = id !== section;
  $("logout").hidden = section === "login";
}

function logout(reason = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(state.timer);
  Object.assign(state, { token: null, calls: [], timer: null, settingsLoaded: false });
  $("me").textContent = "";
  show("login");
  $("login-error").textContent = reason;
  $("login-form").user.focus();
}

async function login(event) {
  event.preventDefault();
  const text = (key, vars) => t(`ca.${key}`, vars);
  const token = await submitLogin(event.target, $("login"), $("login-error"), facility, text);
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    begin(token);
  }
}

function begin(token) {
  const c = claims(token);
  state.token = token;
  $("me").textContent = c.sub || c.role;
  show("app");
  if (!$("day").value) $("day").value = today();
  refresh();
  loadSettings();
  clearInterval(state.timer);
  // only today's list changes: another day is read once (and on a change of day)
  state.timer = setInterval(() => $("day").value === today() && refresh(), REFRESH_MS);
}

// ---- the day's calls ---------------------------------------------------------------------

/** Today in the facility's time zone, as YYYY-MM-DD. */
function today() {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone: state.tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  } catch {
    return new Date().toISOString().slice(0, 10);
  }
}

/** A call record's time as a Date: ISO text, or epoch seconds (or milliseconds). */
function timeOf(c) {
  const v = c.at ?? c.queued_at ?? c.created_at ?? c.time ?? c.ts;
  if (typeof v === "number") return new Date(v > 1e12 ? v : v * 1000);
  if (typeof v === "string" && v) {
    const d = new Date(/^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : v);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  return null;
}

function timeText(d) {
  if (!d) return "";
  try {
    return new Intl.DateTimeFormat(currentLang() === "en" ? "en-GB" : "ja-JP", {
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: state.tz,
    }).format(d);
  } catch {
    return d.toTimeString().slice(0, 8);
  }
}

/** A known key's text, else the value itself. */
function known(prefix, value) {
  if (value == null || value === "") return "";
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? String(value) : text;
}

function listOf(data) {
  if (Array.isArray(data)) return data;
  const list = data?.calls ?? data?.items;
  return Array.isArray(list) ? list : [];
}

async function refresh() {
  const session = state.token;
  if (!session || state.loading) return;
  const day = $("day").value || today();
  state.loading = true;
  try {
    const data = await api("GET", `${base}/calls?${new URLSearchParams({ from: day, to: day })}`);
    if (state.token !== session || ($("day").value || today()) !== day) return;
    if (typeof data?.tz === "string") state.tz = data.tz;
    state.calls = listOf(data);
    render();
    $("updated").textContent = t("ca.updated", { at: timeText(new Date()) });
    if ($("notice").classList.contains("jb-notice-error") && !$("notice").hidden) notify("");
  } catch (err) {
    if (err.status !== 401 && state.token === session) notify(said(err), true);
  } finally {
    state.loading = false;
  }
}

/** The newest call first. */
function sorted(calls) {
  return [...calls].sort((a, b) => (timeOf(b)?.getTime() ?? 0) - (timeOf(a)?.getTime() ?? 0));
}

function render() {
  const calls = sorted(state.calls);
  const rows = calls.map((c) => {
    const status = c.status ?? c.state ?? "";
    const seconds = c.duration ?? c.seconds;
    const trigger = c.trigger ?? c.kind ?? "";
    const by = c.by ?? c.staff ?? "";
    const number = c.number ?? c.ticket_number;
    return el("tr", { "data-id": c.id ?? c.call ?? "", "data-status": status, "data-trigger": trigger },
      el("td", { class: "ca-time" }, timeText(timeOf(c))),
      el("td", {}, c.info ?? ""),
      el("td", { class: "ca-number jb-num" }, number != null ? t("ca.number", { number }) : ""),
      el("td", { class: "ca-phone" }, c.phone ?? c.to ?? ""),
      el("td", {}, known("ca.trigger", trigger)),
      el("td", {}, el("span", { class: `jb-pill ca-status ca-status-${String(status).replace(/[^a-z-]/g, "")}` }, known("ca.status", status))),
      el("td", { class: "ca-seconds" }, seconds != null && seconds !== "" ? t("ca.seconds", { n: seconds }) : ""),
      el("td", {}, by && by !== "auto" && by !== "system" ? by : trigger === "manual" ? by : t("ca.auto")));
  });
  $("calls").replaceChildren(...rows);
  $("calls-empty").hidden = rows.length > 0;
  $("calls-count").textContent = t("ca.count", { n: rows.length });
}

/** The day's calls as CSV: fetched with the login (a plain link would not carry it), then
 * saved under the hub's file name. */
async function downloadCsv() {
  const day = $("day").value || today();
  try {
    const query = new URLSearchParams({ from: day, to: day, format: "csv" });
    const r = await fetch(`${base}/calls?${query}`, { headers: { Authorization: `Bearer ${state.token}` }, cache: "no-store" });
    if (!r.ok) {
      const data = await r.json().catch(() => ({}));
      const code = data.error?.code;
      throw new Error(code ? errorText(code, data.error?.message || code) : `HTTP ${r.status}`);
    }
    const blob = await r.blob();
    const disposition = r.headers.get("Content-Disposition") || "";
    const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || `calls-${facility}-${day}.csv`;
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    notify(t("ca.csv_failed", { why: err.message }), true);
  }
}

// ---- settings ----------------------------------------------------------------------------

const HHMM = /^([01]\d|2[0-4]):[0-5]\d$/;

/** Fill the form from the settings the hub has (a GET, when the hub offers one). */
function fillSettings(s) {
  if (!s || typeof s !== "object") return;
  const form = $("settings-form");
  const window = Array.isArray(s.window) ? s.window : [s.window_from ?? s.call_from, s.window_to ?? s.call_to];
  if (Number.isInteger(s.threshold)) form.threshold.value = String(s.threshold);
  if (HHMM.test(window[0] || "")) form.window_from.value = window[0];
  if (HHMM.test(window[1] || "")) form.window_to.value = window[1] === "24:00" ? "23:59" : window[1];
  if (typeof s.retry === "boolean") form.retry.checked = s.retry;
  else if (Number.isInteger(s.retry)) form.retry.checked = s.retry > 0;
  const triggers = Array.isArray(s.triggers) ? s.triggers : null;
  if (triggers) {
    form.on_near.checked = triggers.includes("near");
    form.on_called.checked = triggers.includes("called");
  }
  const caller = s.caller ?? s.caller_number ?? s.from;
  if (typeof caller === "string") form.caller.value = caller;
}

async function loadSettings() {
  const session = state.token;
  try {
    const data = await api("GET", `${base}/phone/settings`);
    if (state.token === session && !state.settingsLoaded) fillSettings(data.settings ?? data);
  } catch {
    /* the form keeps its defaults: saving sets them */
  }
  state.settingsLoaded = true;
}

async function saveSettings(event) {
  event.preventDefault();
  const form = event.target;
  const error = $("settings-error");
  error.textContent = "";
  const threshold = Number(form.threshold.value);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > 10) {
    error.textContent = t("ca.err.threshold");
    return;
  }
  const from = form.window_from.value;
  const to = form.window_to.value;
  if (!HHMM.test(from) || !HHMM.test(to) || from >= to) {
    error.textContent = t("ca.err.window");
    return;
  }
  const body = {
    threshold,
    window_from: from,
    window_to: to,
    retry: form.retry.checked,
    triggers: [form.on_near.checked && "near", form.on_called.checked && "called"].filter(Boolean),
    caller: form.caller.value.trim(),
  };
  const button = $("settings-save");
  button.disabled = true;
  try {
    const data = await api("PUT", `${base}/phone/settings`, body);
    fillSettings(data?.settings ?? data);
    notify(t("ca.saved"));
  } catch (err) {
    if (err.status !== 401) error.textContent = said(err);
  } finally {
    button.disabled = false;
  }
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
  if (state.token) {
    render();
    $("updated").textContent = "";
  }
}

function switchLanguage() {
  const lang = currentLang() === "ja" ? "en" : "ja";
  const url = new URL(location.href);
  url.searchParams.set("lang", lang);
  history.replaceState(history.state, "", url);
  document.documentElement.lang = lang;
  relabel();
}

/** ?lang= (the server set <html lang> from it), else the facility's `lang`, else the
 * server's choice from the browser; the facility's name and time zone. */
async function loadFacility() {
  try {
    const r = await fetch(`/v1/facilities/${facility}`, { cache: "no-store" });
    if (!r.ok) return;
    const record = await r.json();
    $("facility-name").textContent = record.name || t("ca.facility", { facility });
    if (typeof record.tz === "string" && record.tz) state.tz = record.tz;
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
  $("logout").addEventListener("click", () => logout());
  $("calls-csv").addEventListener("click", downloadCsv);
  $("day").addEventListener("change", () => {
    state.calls = [];
    render();
    refresh();
  });
  $("today").addEventListener("click", () => {
    $("day").value = today();
    $("day").dispatchEvent(new Event("change"));
  });
  $("settings-form").addEventListener("submit", saveSettings);
  $("lang").addEventListener("click", switchLanguage);
  loadFacility();
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && usable(claims(token), facility)) begin(token);
  else logout(token ? t("ca.expired") : "");
}

init();
