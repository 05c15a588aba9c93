// The analytics page /console/{facility}/analytics (分析): a facility's (or one counter's)
// visits, waits, service times, drop-off and the accuracy of the waits shown to patients, from
// GET /v1/facilities/{f}/analytics (the daily summaries). Cards for today, yesterday and the
// last 7 days (the 7 days' percentiles from that range's own `totals`), SVG charts over the
// chosen period (charts.js), and its CSV by day or by hour (fetched with the login, saved as
// a file). It uses the console's stored login, or its own form.

import { applyI18n, currentLang, t } from "./i18n.js";
import "./analytics.strings.js";
import { barChart, heatmap, lineChart } from "./charts.js";
import { submitLogin } from "./staff.password.js";
import { ApiError, TOKEN_KEY, claims, el, usable } from "./staffsession.js";

const facility = document.body.dataset.facility.replace(/[^0-9]/g, "");
const base = `/v1/facilities/${facility}`;
const REFRESH_MS = 60_000; // today's card and bars fill in as the day goes
const DAY_MS = 86_400_000;
const $ = (id) => document.getElementById(id);

const state = {
  token: null, timer: null, tz: "Asia/Tokyo", today: null, seq: 0,
  data: null, // the chosen period (and counter)
  week: null, // the last 7 days: the cards
  labels: {}, // counter -> its label (the facility record)
  loadedAt: null,
};

// ---- HTTP --------------------------------------------------------------------------------

function errorText(code, fallback) {
  const key = `an.err.${code}`;
  const text = t(key);
  return text === key ? fallback : text;
}

async function api(method, path) {
  let response;
  try {
    response = await fetch(path, { method, headers: { Authorization: `Bearer ${state.token}` }, cache: "no-store" });
  } catch {
    throw new ApiError(0, "network", t("an.err.network"));
  }
  const data = await response.json().catch(() => ({}));
  if (response.ok) return data;
  const code = data.error?.code || "http_error";
  if (response.status === 401) logout(t("an.expired"));
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
  Object.assign(state, { token: null, timer: null, data: null, week: null, seq: state.seq + 1 });
  $("me").textContent = "";
  show("login");
  $("login-error").textContent = reason;
  $("login-form").user.focus();
}

async function login(event) {
  event.preventDefault();
  const text = (key, vars) => t(`an.${key}`, vars);
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
  load();
  clearInterval(state.timer);
  state.timer = setInterval(() => load(), REFRESH_MS);
}

// ---- dates and numbers -------------------------------------------------------------------

/** The date `n` days after `iso` (YYYY-MM-DD; a calendar date, no time zone). */
export function addDays(iso, n) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d) + n * DAY_MS).toISOString().slice(0, 10);
}

/** "12/6" from "2026-12-06". */
const shortDate = (iso) => iso.slice(5).split("-").map(Number).join("/");

const locale = () => (currentLang() === "en" ? "en-US" : "ja-JP");
/** A number with at most `digits` decimals. */
const num = (v, digits = 1) => new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(v);
const none = (v) => v == null || !Number.isFinite(Number(v));
const minutes = (v) => (none(v) ? t("an.none") : t("an.minutes", { n: num(v) }));
const people = (v) => (none(v) ? t("an.none") : t("an.people", { n: num(v, 0) }));
/** A share 0..1 as a percentage. */
const share = (v) => (none(v) ? t("an.none") : t("an.percent", { n: num(v * 100) }));
const hourLabel = (h) => t("an.hour_label", { h });

// ---- loading -----------------------------------------------------------------------------

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  return `${base}/analytics?${q}`;
}

/** The chosen period and the last 7 days (`keepWeek`: those already shown, when they are
 * still this counter's up to today). Today is the hub's (the facility's local date, not this
 * computer's clock): the first load asks for the default range (the 30 days to today), later
 * ones send only `from`, so the hub ends them at its today; when that moved on (midnight),
 * they ask once more from the new today. */
async function load({ keepWeek = false, again = false } = {}) {
  const session = state.token;
  if (!session) return;
  const seq = ++state.seq;
  const counter = $("counter").value;
  const days = Number($("range").value) || 30;
  $("updated").textContent = t("an.loading");
  try {
    let first = null;
    if (!state.today) {
      first = await api("GET", query({ counter }));
      state.today = first.to;
    }
    const today = state.today;
    const range = (n) => (first && n === 30 ? Promise.resolve(first)
      : api("GET", query({ from: addDays(today, 1 - n), counter })));
    const old = state.week;
    const reuse = keepWeek && old && (old.counter || "") === counter && old.to === today;
    const [data, week] = await Promise.all([range(days), days === 7 || reuse ? null : range(7)]);
    if (seq !== state.seq || state.token !== session) return;
    if (data.to !== today && !again) {
      state.today = data.to;
      load({ again: true });
      return;
    }
    if (typeof data.tz === "string" && data.tz) state.tz = data.tz;
    state.data = data;
    state.week = days === 7 ? data : week ?? old;
    state.loadedAt = new Date();
    if ($("notice").classList.contains("jb-notice-error")) notify("");
    render();
  } catch (err) {
    if (seq !== state.seq || state.token !== session) return;
    $("updated").textContent = "";
    if (err.status !== 401) notify(said(err), true);
  }
}

// ---- rendering ---------------------------------------------------------------------------

function renderCounters() {
  const select = $("counter");
  const chosen = select.value;
  const counters = Array.isArray(state.data?.counters) ? state.data.counters : [];
  const options = [el("option", { value: "" }, t("an.all_counters"))];
  for (const c of counters) {
    const label = state.labels[c];
    options.push(el("option", { value: c }, label ? t("an.counter_option", { counter: c, label }) : c));
  }
  select.replaceChildren(...options);
  select.value = counters.includes(chosen) ? chosen : "";
}

const METRICS = [
  ["issued", (s) => s.issued, people],
  ["wait_mean", (s) => s.wait?.mean, minutes],
  ["wait_p90", (s) => s.wait?.p90, minutes],
  ["service_mean", (s) => s.service?.mean, minutes],
  ["no_show_rate", (s) => (s.issued > 0 ? (s.no_shows ?? 0) / s.issued : null), share],
  ["web_share", (s) => s.web_share, share],
];

function card(period, stats, date) {
  const s = stats || {};
  const heading = el("h3", {}, t(`an.period.${period}`));
  if (date) heading.append(el("span", { class: "an-date" }, date));
  if (s.incomplete) heading.append(el("span", { class: "jb-pill" }, t("an.partial")));
  const list = el("dl", { class: "an-stats" });
  for (const [key, pick, fmt] of METRICS) {
    const value = pick(s);
    list.append(el("div", { class: "jb-stat", "data-metric": key, "data-value": none(value) ? "" : value },
      el("dt", {}, t(`an.metric.${key}`)),
      el("dd", { class: "jb-num" }, fmt(value))));
  }
  return el("article", { class: "an-period", "data-period": period, "data-date": date || "" }, heading, list);
}

function renderCards() {
  const week = state.week;
  const days = Array.isArray(week?.days) ? week.days : [];
  const byDate = (d) => days.find((x) => x.date === d) || null;
  const today = byDate(week.to) || days.find((x) => x.today) || null;
  const yesterday = byDate(addDays(week.to, -1));
  $("cards").replaceChildren(
    card("today", today, week.to),
    card("yesterday", yesterday, addDays(week.to, -1)),
    card("week", week.totals, `${week.from} – ${week.to}`));
}

function renderCharts() {
  const data = state.data;
  const days = Array.isArray(data.days) ? data.days : [];
  const labels = days.map((d) => shortDate(d.date));
  const totals = data.totals || {};
  const issued = days.map((d) => d.issued ?? 0);
  const total = issued.reduce((a, b) => a + b, 0);
  const range = { from: data.from, to: data.to };

  $("chart-visits").replaceChildren(barChart({
    title: t("an.chart.visits"),
    desc: t("an.chart.visits_desc", { ...range, days: days.length, total: num(total, 0) }),
    labels, values: issued, head: [t("an.date"), t("an.metric.issued")],
    format: (v) => num(v, 0), ticks: 15, width: 1100, height: 260,
  }));

  const hours = Array.from({ length: 24 }, (_, h) => (data.by_hour || []).find((x) => x.hour === h)?.issued ?? 0);
  const peak = hours.indexOf(Math.max(...hours));
  $("chart-hours").replaceChildren(barChart({
    title: t("an.chart.hours"),
    desc: t("an.chart.hours_desc", { peak: Math.max(...hours) > 0 ? hourLabel(peak) : t("an.none") }),
    labels: hours.map((_, h) => hourLabel(h)), values: hours, head: [t("an.hour"), t("an.metric.issued")],
    format: (v) => num(v, 0), ticks: 8,
  }));

  const weekdays = t("an.weekdays").split(",");
  const grid = Array.from({ length: 7 }, (_, r) => Array.from({ length: 24 }, (_, c) => Number(data.heatmap?.[r]?.[c]) || 0));
  $("chart-heatmap").replaceChildren(heatmap({
    title: t("an.chart.heatmap"), desc: t("an.chart.heatmap_desc"),
    rows: weekdays, cols: Array.from({ length: 24 }, (_, h) => String(h)), values: grid,
    head: t("an.weekday"), format: (v) => num(v, 0), colEvery: 1, width: 1100, cellHeight: 30,
  }));

  $("chart-wait").replaceChildren(lineChart({
    title: t("an.chart.wait"), desc: t("an.chart.wait_desc"), labels, head: t("an.date"),
    series: [
      { key: "p50", name: t("an.wait_p50"), values: days.map((d) => d.wait?.p50 ?? null), className: "ch-p50" },
      { key: "p90", name: t("an.wait_p90"), values: days.map((d) => d.wait?.p90 ?? null), className: "ch-p90" },
    ],
    format: minutes, axisFormat: (v) => num(v, 0), ticks: 8,
  }));

  $("chart-accuracy").replaceChildren(lineChart({
    title: t("an.chart.accuracy"), desc: t("an.chart.accuracy_desc"), labels, head: t("an.date"),
    series: [
      { key: "within", name: t("an.accuracy"), className: "ch-accuracy",
        values: days.map((d) => (none(d.accuracy?.within) ? null : d.accuracy.within * 100)) },
      { key: "ranges", name: t("an.ranges"), className: "ch-ranges",
        values: days.map((d) => (none(d.ranges?.within) ? null : d.ranges.within * 100)) },
    ],
    max: 100, format: (v) => t("an.percent", { n: num(v) }), axisFormat: (v) => `${num(v, 0)}%`, ticks: 8,
  }));

  const drops = ["walkouts", "no_shows", "cancelled_after_call"];
  const counts = drops.map((k) => totals[k] ?? 0);
  $("chart-dropoff").replaceChildren(barChart({
    title: t("an.chart.dropoff"),
    desc: t("an.chart.dropoff_desc", { walkouts: counts[0], no_shows: counts[1], cancelled: counts[2] }),
    labels: drops.map((k) => t(`an.drop.${k}`)), values: counts, head: [t("an.reason"), t("an.count")],
    format: (v) => num(v, 0), showValues: true, barClass: "ch-drop",
  }));
}

function render() {
  if (!state.data) return;
  renderCounters();
  renderCards();
  renderCharts();
  const at = new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", timeZone: state.tz }).format(state.loadedAt);
  $("updated").textContent = t("an.updated", { from: state.data.from, to: state.data.to, at });
}

// ---- CSV ---------------------------------------------------------------------------------

/** The period's CSV (by day or by hour): fetched with the login (a plain link would not
 * carry it), then saved under the hub's file name. */
async function downloadCsv(grain) {
  const data = state.data;
  if (!state.token || !data) return;
  try {
    const url = query({ from: data.from, to: data.to, counter: data.counter || "", format: "csv", grain });
    const r = await fetch(url, { headers: { Authorization: `Bearer ${state.token}` }, cache: "no-store" });
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      const code = body.error?.code;
      throw new Error(code ? errorText(code, body.error?.message || code) : `HTTP ${r.status}`);
    }
    const blob = await r.blob();
    const disposition = r.headers.get("Content-Disposition") || "";
    const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || `analytics-${facility}-${data.from}-${data.to}-${grain}.csv`;
    const href = URL.createObjectURL(blob);
    const a = el("a", { href, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(href), 10_000);
  } catch (err) {
    notify(t("an.csv_failed", { why: err.message }), true);
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
  if (state.token) render();
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
 * server's choice from the browser; the facility's name, time zone and counters' labels. */
async function loadFacility() {
  try {
    const r = await fetch(`/v1/facilities/${facility}`, { cache: "no-store" });
    if (!r.ok) return;
    const record = await r.json();
    $("facility-name").textContent = record.name || t("an.facility", { facility });
    if (typeof record.tz === "string" && record.tz) state.tz = record.tz;
    for (const c of Array.isArray(record.counters) ? record.counters : []) {
      if (c && typeof c.counter === "string" && typeof c.label === "string") state.labels[c.counter] = c.label;
    }
    const asked = new URLSearchParams(location.search).get("lang");
    if (asked !== "ja" && asked !== "en" && record.lang) document.documentElement.lang = record.lang === "en" ? "en" : "ja";
    relabel();
  } catch {
    // the name stays the facility number
  }
}

function init() {
  relabel();
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => logout());
  $("counter").addEventListener("change", () => load());
  $("range").addEventListener("change", () => load({ keepWeek: true }));
  $("csv-day").addEventListener("click", () => downloadCsv("day"));
  $("csv-hour").addEventListener("click", () => downloadCsv("hour"));
  $("lang").addEventListener("click", switchLanguage);
  loadFacility();
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && usable(claims(token), facility)) begin(token);
  else logout(token ? t("an.expired") : "");
}

init();
