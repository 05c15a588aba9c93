// The settings page /console/{facility}/settings: the clinic's staff edit its profile,
// counters and rooms, weekly web-reception sessions, closed days and holidays, i-message
// templates, display language, and each counter's reception and booking settings (the
// 時間帯予約 editor: settings.bookings.js). It uses the console's stored login
// (sessionStorage), or its own login form. Saving shows on monitors and
// patients' pages at once (the hub puts the new name, labels and language in the live views).

import { applyI18n, bindLangToggle, currentLang, onLangChange, setLang, t } from "./i18n.js";
import { bookingEditor } from "./settings.bookings.js";
import { logIn } from "./staff.password.js";
import "./settings.strings.js";
import { ApiError, TOKEN_KEY, claims, el, usable } from "./staffsession.js";

const facility = document.body.dataset.facility.replace(/[^0-9]/g, "");
const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const $ = (id) => document.getElementById(id);

const state = { token: null, data: null, closedDays: [] };

/** A readable message from the API's JSON error: our own text for the codes we know, else
 * the hub's message with the field it names (`at $.schedule.mon[0].start`) in words. */
function errorText(code, message) {
  const key = `se.err.${code}`;
  if (t(key) !== key) return t(key);
  if (code === "invalid_bands") return t("se.bk.invalid", { message });
  if (code !== "invalid_body") return message;
  const field = /at `\$\.(\w+)/.exec(message)?.[1] || /^(\w+):/.exec(message)?.[1];
  const names = { closed_days: "se.closed", holidays_closed: "se.holidays_closed", templates: "se.templates",
    schedule: "se.schedule", counters: "se.counters", rooms: "se.rooms", name: "se.name", lang: "se.lang",
    address: "se.address", hours: "se.hours", web_daily_cap: "se.cap", close_web_at: "se.close_web_at",
    requeue_offset: "se.requeue_offset", default_minutes: "se.default_minutes", bookings: "se.bk.title" };
  const where = names[field] ? `${t(names[field])} — ` : "";
  return `${t("se.invalid")}: ${where}${message}`;
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "network", t("se.network"));
  }
  const data = await response.json().catch(() => ({}));
  if (response.ok) return data;
  const code = data.error?.code || "http_error";
  if (response.status === 401) logout(t("se.expired"));
  else if (response.status === 403) throw new ApiError(403, code, t("se.forbidden"));
  throw new ApiError(response.status, code, errorText(code, data.error?.message || `HTTP ${response.status}`));
}

function status(message, isError = false, box = $("status")) {
  box.textContent = message || "";
  box.hidden = !message;
  box.classList.toggle("jb-notice-error", isError);
  box.classList.toggle("jb-notice-info", !isError);
  box.setAttribute("role", isError ? "alert" : "status");
}

// ---- session -----------------------------------------------------------------------------

function show(section) {
  $("login").hidden = section !== "login";
  $("app").hidden = section !== "app";
  $("logout").hidden = section !== "app";
}

function logout(reason = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  show("login");
  $("login-error").textContent = reason;
}

async function login(event) {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button");
  button.disabled = true;
  $("login-error").textContent = "";
  try {
    const result = await logIn(form, $("login"));
    if (result.refused) {
      const { status, code, wait, message } = result.refused;
      $("login-error").textContent = status === 401 ? t("se.login_wrong")
        : code === "login_throttled" ? t("se.login_wait", { wait: wait || "–" })
        : message;
      return;
    }
    if (result.expired) {
      $("login-error").textContent = t("se.expired");
      return;
    }
    if (!usable(claims(result.token), facility)) {
      $("login-error").textContent = t("se.login_other", { facility });
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, result.token);
    begin(result.token);
  } catch {
    $("login-error").textContent = t("se.network");
  } finally {
    button.disabled = false;
  }
}

async function begin(token) {
  state.token = token;
  show("app");
  try {
    state.data = await api("GET", `/v1/facilities/${facility}/settings`);
  } catch (err) {
    status(err.message, true);
    return;
  }
  const explicit = new URLSearchParams(location.search).get("lang") || /(?:^|; )junban_lang=/.test(document.cookie);
  if (!explicit && state.data.lang === "en" && currentLang() !== "en") setLang("en");
  renderAll();
}

// ---- the profile form ----------------------------------------------------------------------

function renderAll() {
  const d = state.data;
  $("facility-name").textContent = `${d.name} (${t("se.facility", { facility })})`;
  $("name").value = d.name;
  $("address").value = d.address;
  $("hours").value = d.hours;
  $("display-lang").value = d.lang;
  $("counters").replaceChildren(...d.counters.map((c) => counterRow(c, true)));
  renderWeek(d.schedule);
  state.closedDays = [...d.closed_days];
  renderClosedDays();
  $("holidays-closed").checked = d.holidays_closed;
  renderHolidays();
  $("templates").value = d.templates.join("\n");
  renderQueues();
}

function roomsText(rooms) {
  return (rooms || []).map((r) => `${r.room}=${r.label}`).join(", ");
}

function counterRow(c, existing) {
  const row = el("div", { class: "se-row se-counter" });
  row.append(
    el("label", { class: "jb-field se-num" }, el("span", { "data-i18n": "se.counter" }, t("se.counter")),
      el("input", { class: "jb-input", name: "counter", value: c.counter, maxlength: 2, inputmode: "numeric",
        pattern: "[0-9]{2}", readonly: existing, required: true })),
    el("label", { class: "jb-field" }, el("span", { "data-i18n": "se.label" }, t("se.label")),
      el("input", { class: "jb-input", name: "label", value: c.label, maxlength: 100 })),
    el("label", { class: "jb-field se-grow" }, el("span", { "data-i18n": "se.rooms" }, t("se.rooms")),
      el("input", { class: "jb-input", name: "rooms", value: roomsText(c.rooms), placeholder: t("se.rooms_placeholder") })),
    el("button", { class: "jb-btn jb-btn-danger-quiet", type: "button", "data-i18n": "se.remove",
      onclick: () => row.remove() }, t("se.remove")),
  );
  return row;
}

function nextCounter() {
  const used = new Set([...document.querySelectorAll("#counters [name=counter]")].map((i) => i.value));
  for (let n = 1; n < 100; n++) {
    const number = String(n).padStart(2, "0");
    if (!used.has(number)) return number;
  }
  return "";
}

function renderWeek(week) {
  $("schedule").replaceChildren(...WEEKDAYS.map((day) => {
    const list = el("div", { class: "se-sessions", "data-day": day });
    for (const s of week[day] || []) list.append(sessionRow(s));
    const add = el("button", { class: "jb-btn jb-btn-quiet se-add-session", type: "button", "data-i18n": "se.add_session",
      onclick: () => list.append(sessionRow({ start: "09:00", end: "12:00", label: "" })) }, t("se.add_session"));
    return el("div", { class: "se-day", "data-day": day }, el("h3", { "data-i18n": `se.day.${day}` }, t(`se.day.${day}`)), list, add);
  }));
}

function sessionRow(s) {
  const row = el("div", { class: "se-session" });
  row.append(
    el("label", { class: "jb-field" }, el("span", { "data-i18n": "se.start" }, t("se.start")),
      el("input", { class: "jb-input", type: "time", name: "start", value: s.start, required: true })),
    el("label", { class: "jb-field" }, el("span", { "data-i18n": "se.end" }, t("se.end")),
      el("input", { class: "jb-input", type: "time", name: "end", value: s.end === "24:00" ? "23:59" : s.end, required: true })),
    el("label", { class: "jb-field" }, el("span", { "data-i18n": "se.session_label" }, t("se.session_label")),
      el("input", { class: "jb-input", name: "label", value: s.label, maxlength: 20 })),
    el("button", { class: "jb-btn jb-btn-danger-quiet", type: "button", "data-i18n": "se.remove",
      onclick: () => row.remove() }, t("se.remove")),
  );
  return row;
}

function renderClosedDays() {
  state.closedDays.sort();
  $("closed-days").replaceChildren(...state.closedDays.map((day) => el("li", { class: "jb-chip" }, day, " ",
    el("button", { class: "jb-btn jb-btn-quiet se-x", type: "button", "aria-label": `${t("se.remove")} ${day}`,
      onclick: () => {
        state.closedDays = state.closedDays.filter((d) => d !== day);
        renderClosedDays();
      } }, "×"))));
}

function renderHolidays() {
  const name = currentLang() === "en" ? "name_en" : "name_ja";
  $("holidays").textContent = (state.data?.upcoming_holidays || [])
    .map((h) => `${h.date} ${h[name] || h.name_ja}`).join(" / ");
}

/** The form as the body of PUT /settings; throws an Error with a readable message. */
function collect() {
  const counters = {};
  const rooms = {};
  for (const row of document.querySelectorAll("#counters .se-counter")) {
    const number = row.querySelector("[name=counter]").value.trim();
    if (!/^[0-9]{2}$/.test(number) || number in counters) throw new Error(t("se.err.counter_number"));
    counters[number] = row.querySelector("[name=label]").value.trim();
    const text = row.querySelector("[name=rooms]").value.trim();
    if (!text) continue;
    rooms[number] = {};
    for (const part of text.split(/[,、，]/).map((p) => p.trim()).filter(Boolean)) {
      const [room, ...label] = part.split("=");
      if (!room.trim() || !label.length) throw new Error(t("se.err.rooms"));
      rooms[number][room.trim()] = label.join("=").trim();
    }
  }
  const schedule = {};
  for (const list of document.querySelectorAll("#schedule .se-sessions")) {
    schedule[list.dataset.day] = [...list.querySelectorAll(".se-session")].map((row) => {
      const start = row.querySelector("[name=start]").value;
      const end = row.querySelector("[name=end]").value;
      if (!start || !end) throw new Error(t("se.err.time"));
      return { start, end, label: row.querySelector("[name=label]").value.trim() };
    });
  }
  return {
    name: $("name").value.trim(),
    address: $("address").value.trim(),
    hours: $("hours").value.trim(),
    lang: $("display-lang").value,
    counters,
    rooms,
    schedule,
    closed_days: state.closedDays,
    holidays_closed: $("holidays-closed").checked,
    templates: $("templates").value.split("\n").map((x) => x.trim()).filter(Boolean),
  };
}

async function save(event) {
  event.preventDefault();
  const box = $("save-status");
  status("", false, box);
  let body;
  try {
    body = collect();
  } catch (err) {
    status(err.message, true, box);
    return;
  }
  $("save").disabled = true;
  try {
    state.data = await api("PUT", `/v1/facilities/${facility}/settings`, body);
    renderAll();
    status(t("se.saved"), false, box);
  } catch (err) {
    status(err.message, true, box);
  } finally {
    $("save").disabled = false;
  }
}

// ---- each counter's reception settings (PUT /v1/queues/{info}/config) ---------------------------

function renderQueues() {
  $("queues").replaceChildren(...state.data.queues.filter((q) => q.config).map(queueCard));
}

function field(key, input) {
  return el("label", { class: "jb-field" }, el("span", { "data-i18n": key }, t(key)), input);
}

function queueCard(q) {
  const c = q.config;
  const label = state.data.counters.find((x) => x.counter === q.counter)?.label || "";
  const form = el("form", { class: "se-queue", "data-info": q.info, novalidate: true });
  const message = el("p", { class: "jb-notice", role: "status", hidden: true });
  const web = t("se.web_now", { state: t(q.web_open && q.open ? "se.open" : "se.closed_now") });
  form.append(
    el("h3", {}, `${q.counter} ${label}`),
    el("p", { class: "jb-small jb-muted" }, web),
    field("se.cap", el("input", { class: "jb-input", type: "number", name: "web_daily_cap", min: 0, max: 100000,
      value: c.web_daily_cap ?? "" })),
    field("se.close_web_at", el("input", { class: "jb-input", type: "time", name: "close_web_at", value: c.close_web_at ?? "" })),
    field("se.requeue_offset", el("input", { class: "jb-input", type: "number", name: "requeue_offset", min: 0, max: 1000,
      value: c.requeue_offset })),
    field("se.default_minutes", el("input", { class: "jb-input", type: "number", name: "default_minutes", min: 0.5,
      max: 120, step: 0.5, value: c.default_minutes })),
  );
  for (const key of ["allow_checkin", "allow_postpone"]) {
    if (!(key in c)) continue; // shown when the hub has them
    form.append(el("label", { class: "jb-check" }, el("input", { type: "checkbox", name: key, checked: Boolean(c[key]) }),
      el("span", { "data-i18n": `se.${key}` }, t(`se.${key}`))));
  }
  const bookings = bookingEditor(q, api); // 時間帯予約 (settings.bookings.js)
  form.append(bookings.node, message,
    el("button", { class: "jb-btn", type: "submit", "data-i18n": "se.save_counter" }, t("se.save_counter")));
  form.addEventListener("submit", (event) => saveQueue(event, q, message, bookings));
  return form;
}

async function saveQueue(event, q, message, bookings) {
  event.preventDefault();
  const form = event.target;
  const cap = form.web_daily_cap.value.trim();
  const body = {
    web_daily_cap: cap === "" ? null : Number(cap),
    close_web_at: form.close_web_at.value || null,
    requeue_offset: Number(form.requeue_offset.value),
    default_minutes: Number(form.default_minutes.value),
  };
  for (const key of ["allow_checkin", "allow_postpone"]) if (form[key]) body[key] = form[key].checked;
  try {
    const value = bookings.value(); // left out while unread: the hub keeps them
    if (value !== undefined) body.bookings = value;
  } catch (err) {
    status(err.message, true, message);
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const view = await api("PUT", `/v1/queues/${q.info}/config`, body);
    q.config = { ...q.config, ...(view.config || body) };
    if (view.config && "bookings" in view.config) bookings.show(view.config.bookings);
    status(t("se.counter_saved", { counter: q.counter }), false, message);
  } catch (err) {
    status(err.message, true, message);
  } finally {
    button.disabled = false;
  }
}

// ---- start -------------------------------------------------------------------------------------

function main() {
  applyI18n();
  bindLangToggle($("lang"));
  onLangChange(() => { // the generated labels carry data-i18n; unsaved edits stay
    if (!state.data) return;
    renderHolidays();
    $("facility-name").textContent = `${state.data.name} (${t("se.facility", { facility })})`;
  });
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => logout(""));
  $("profile-form").addEventListener("submit", save);
  $("add-counter").addEventListener("click", () => {
    $("counters").append(counterRow({ counter: nextCounter(), label: "", rooms: [] }, false));
  });
  $("add-closed").addEventListener("click", () => {
    const day = $("closed-day").value;
    if (day && !state.closedDays.includes(day)) state.closedDays.push(day);
    $("closed-day").value = "";
    renderClosedDays();
  });
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && usable(claims(token), facility)) begin(token);
  else show("login");
}

main();
