// The patient page: /q/{info} (the clinic, its live wait state, "take a ticket") and
// /q/{info}/t/{id} (that ticket followed live, the full-screen "your turn", cancel).
// The ticket's token is kept in localStorage (and may arrive in the URL fragment, #token=…,
// from a printed QR code), so a reload or a flaky network never loses the ticket.

import { JunbanClient } from "/static/junban.js";
import { addStrings, applyI18n, bindLangToggle, onLangChange, t } from "./i18n.js";
import { STRINGS } from "./patient.strings.js";
import { alertTurn, primeAlerts, notificationsAvailable, askNotifications } from "./patient.alert.js";

addStrings(STRINGS);

const $ = (id) => document.getElementById(id);
const body = document.body.dataset;
const INFO = body.info;
const FACILITY = body.facility;
const TICKET_ID = body.ticket || null;
const STORE_KEY = "junban.tickets";
const ACTIVE = new Set(["waiting", "called"]);

const state = { queue: null, facility: null, ticket: null, token: null, fatal: null };
const client = new JunbanClient({ base: location.origin, token: null });

// ---- storage ------------------------------------------------------------------------------
function stored() {
  try {
    return JSON.parse(localStorage.getItem(STORE_KEY) || "{}") || {};
  } catch {
    return {};
  }
}

function remember(info, entry) {
  const all = stored();
  if (entry) all[info] = entry;
  else delete all[info];
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(all));
  } catch {
    /* private mode: the URL still works for this tab */
  }
}

function tokenForTicket() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromHash = hash.get("token");
  if (fromHash) {
    remember(INFO, { id: TICKET_ID, token: fromHash, saved: Date.now() });
    history.replaceState(null, "", location.pathname + location.search);
    return fromHash;
  }
  const mine = stored()[INFO];
  return mine && mine.id === TICKET_ID ? mine.token : null;
}

// ---- HTTP ---------------------------------------------------------------------------------
async function api(method, path, { token, body: payload, key } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (key) headers["Idempotency-Key"] = key;
  if (payload !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: payload === undefined ? undefined : JSON.stringify(payload),
    cache: "no-store",
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    /* an empty or non-JSON body */
  }
  return { status: response.status, data, retryAfter: response.headers.get("Retry-After") };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries a request on network errors and transient 5xx with the same Idempotency-Key. */
async function apiWithRetry(method, path, options) {
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await api(method, path, options);
      const code = answer.data?.error?.code;
      const transient = answer.status >= 500 && code !== "outside_service_hours";
      if (!transient || attempt >= 3) return answer;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
    await sleep(500 * 2 ** attempt + Math.random() * 300);
  }
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16)).join("");
}

// ---- rendering: clinic and queue ------------------------------------------------------------
function inServiceHours(hours, tz) {
  const [start, end] = (hours || "").split("-").map((hm) => {
    const [h, m] = hm.split(":").map(Number);
    return h * 60 + m;
  });
  if (!Number.isFinite(start) || !Number.isFinite(end)) return true;
  let parts;
  try {
    parts = new Intl.DateTimeFormat("en-GB", {
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: tz || "Asia/Tokyo",
    }).formatToParts(new Date());
  } catch {
    return true;
  }
  const get = (type) => Number(parts.find((p) => p.type === type)?.value);
  const now = get("hour") * 60 + get("minute");
  return start <= end ? now >= start && now < end : now >= start || now < end;
}

/** Why a new web ticket cannot be taken now (a strings key), or null. */
function refusal(q) {
  if (!q) return null;
  if (q.suspended) return "err.facility_suspended";
  if (!inServiceHours(body.serviceHours, q.tz)) return "err.outside_service_hours";
  if (!q.open) return "err.reception_closed";
  if (!q.web_open) {
    if (q.web_closed_reason === "cap") return "err.daily_cap_reached";
    if (q.web_closed_reason === "closing_time") return "err.closing_time";
    return "err.web_closed";
  }
  return null;
}

/** A clear sentence for an API error code (err.* strings), else a generic one. */
function errorText(code, vars = {}) {
  const key = `err.${code}`;
  const text = t(key, { ...hoursText(), code, ...vars });
  return text === key ? t("err.unknown", { code }) : text;
}

function hoursText() {
  const [start, end] = (body.serviceHours || "06:00-24:00").split("-");
  return { start, end };
}

function showNotice(key, tone = "warn", vars = {}) {
  const box = $("notice");
  if (!key) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.hidden = false;
  box.className = `jb-notice${tone === "error" ? " jb-notice-error" : tone === "info" ? " jb-notice-info" : ""}`;
  box.textContent = t(key, { ...hoursText(), ...vars });
}

function showError(code) {
  const box = $("notice");
  box.hidden = false;
  box.className = "jb-notice jb-notice-error";
  box.textContent = errorText(code);
}

function renderClinic() {
  const f = state.facility;
  const q = state.queue;
  if (f) {
    $("clinic-name").textContent = f.name;
    document.title = `${f.name} · ${t("common.brand")}`;
    const counter = (f.counters || []).find((c) => `${FACILITY}-${c.counter}` === INFO);
    $("counter-label").textContent = counter ? `${counter.label} (${INFO})` : INFO;
    $("footer").hidden = !(f.address || f.hours);
    $("address").textContent = f.address ? `${t("p.address")}: ${f.address}` : "";
    $("hours").textContent = f.hours ? `${t("p.hours")}: ${f.hours}` : "";
  }
  const message = q?.message ?? f?.message ?? "";
  $("message").hidden = !message;
  $("message").textContent = message;
  const pill = $("open-pill");
  if (q) {
    const open = q.open && !q.suspended;
    pill.textContent = t(open ? "p.open" : "p.closed");
    pill.classList.toggle("jb-pill-off", !open);
  }
}

function renderQueue() {
  const q = state.queue;
  if (!q) return;
  $("waiting-count").textContent = t("common.people", { n: q.waiting_count });
  const newWait = Math.round(q.waiting_count * q.minutes_per_patient);
  $("new-wait").textContent = t("common.minutes", { n: newWait });
  const list = $("calling");
  list.replaceChildren(
    ...q.calling.map((c) => {
      const li = document.createElement("li");
      li.className = "jb-chip jb-num";
      li.textContent = String(c.number);
      li.setAttribute("aria-label", t("p.calling_aria", { n: c.number, room: roomText(c.room) }));
      return li;
    }),
  );
  $("calling-none").hidden = q.calling.length > 0;
  renderClinic();
  if (!TICKET_ID) renderTake();
}

function roomText(room) {
  return room ? t("common.room", { room }) : t("common.no_room");
}

// ---- take a ticket --------------------------------------------------------------------------
function renderTake() {
  const reason = refusal(state.queue);
  $("take").hidden = Boolean(reason);
  $("new-wait-box").hidden = Boolean(reason);
  $("take-btn").disabled = Boolean(reason) || takeBusy;
  showNotice(reason, reason === "err.facility_suspended" ? "error" : "warn");
}

let takeBusy = false;

function pendingKey(payload) {
  const slot = `junban.pending.${INFO}`;
  const text = JSON.stringify(payload);
  try {
    const pending = JSON.parse(sessionStorage.getItem(slot) || "null");
    if (pending && pending.body === text) return pending.key;
    const key = newKey();
    sessionStorage.setItem(slot, JSON.stringify({ key, body: text }));
    return key;
  } catch {
    return newKey();
  }
}

async function takeTicket(event) {
  event.preventDefault();
  if (takeBusy) return;
  primeAlerts();
  const name = $("name").value.trim();
  const phone = $("phone").value.trim();
  const formError = $("form-error");
  formError.hidden = true;
  if ((name || phone) && !$("consent").checked) {
    formError.textContent = t("p.consent_needed");
    formError.hidden = false;
    $("consent").focus();
    return;
  }
  const payload = {};
  if (name) payload.name = name;
  if (phone) payload.phone = phone;
  takeBusy = true;
  $("take-btn").disabled = true;
  $("take-btn").textContent = t("p.taking");
  try {
    const key = pendingKey(payload);
    const answer = await apiWithRetry("POST", `/v1/queues/${INFO}/tickets`, { body: payload, key });
    if (answer.status === 201) {
      sessionStorage.removeItem(`junban.pending.${INFO}`);
      const id = answer.data.ticket.id;
      remember(INFO, { id, token: answer.data.token, number: answer.data.ticket.number, saved: Date.now() });
      location.assign(`/q/${INFO}/t/${encodeURIComponent(id)}`);
      return;
    }
    const code = answer.data?.error?.code || `http_${answer.status}`;
    formError.textContent = errorText(code, { n: Number(answer.retryAfter) || 30 });
    formError.hidden = false;
  } catch {
    formError.textContent = t("err.network");
    formError.hidden = false;
  } finally {
    takeBusy = false;
    $("take-btn").textContent = t("p.take_btn");
    renderTake();
  }
}

/** On /q/{info}: a ticket this browser still holds for this queue opens its page. */
async function resumeStoredTicket() {
  const mine = stored()[INFO];
  if (!mine?.id || !mine.token) return false;
  try {
    const answer = await api("GET", `/v1/queues/${INFO}/tickets/${encodeURIComponent(mine.id)}`, {
      token: mine.token,
    });
    if (answer.status === 200 && ACTIVE.has(answer.data.ticket.status)) {
      location.replace(`/q/${INFO}/t/${encodeURIComponent(mine.id)}`);
      return true;
    }
    if (answer.status >= 400 && answer.status < 500) remember(INFO, null);
  } catch {
    /* offline: stay here; the form's key makes a retry safe */
  }
  return false;
}

// ---- one ticket -----------------------------------------------------------------------------
function renderTicket() {
  const card = $("ticket");
  card.hidden = false;
  $("take").hidden = true;
  $("new-wait-box").hidden = true;
  if (state.fatal) {
    card.dataset.status = "cancelled";
    $("ticket-status").textContent = t(state.fatal);
    $("ticket-status").dataset.tone = "bad";
    $("ticket-stats").hidden = true;
    $("ticket-hint").hidden = true;
    $("cancel-btn").hidden = true;
    $("notify-btn").hidden = true;
    showAgain();
    return;
  }
  const view = state.ticket;
  if (!view) return;
  const tk = view.ticket;
  card.dataset.status = tk.status;
  $("ticket-number").textContent = String(tk.number);
  $("ticket-number").setAttribute("aria-label", t("p.number_aria", { n: tk.number }));
  const waiting = tk.status === "waiting";
  $("ticket-stats").hidden = !waiting;
  $("ahead").textContent = t("common.people", { n: view.ahead });
  $("estimate").textContent =
    view.estimate_min == null ? "–" : t("common.minutes", { n: Math.round(view.estimate_min) });
  const status = $("ticket-status");
  status.dataset.tone = tk.status === "called" ? "called" : ACTIVE.has(tk.status) ? "" : "bad";
  if (tk.status === "done") status.dataset.tone = "";
  status.textContent = statusText(view);
  $("ticket-hint").hidden = !waiting;
  $("cancel-btn").hidden = !waiting;
  $("notify-btn").hidden = !(waiting && notificationsAvailable());
  if (!ACTIVE.has(tk.status)) {
    remember(INFO, null);
    showAgain();
  }
  renderCalled(view);
}

function statusText(view) {
  const tk = view.ticket;
  if (tk.status === "waiting") return view.ahead === 0 ? t("p.next") : t("p.waiting");
  if (tk.status === "called") return t("p.called_line", { room: roomText(tk.room) });
  return t(`p.status_${tk.status}`);
}

function showAgain() {
  const link = $("again-link");
  link.href = `/q/${INFO}`;
  link.hidden = false;
}

let dismissedCall = null;

function renderCalled(view) {
  const tk = view.ticket;
  const callKey = `${tk.id}:${tk.called_at}:${tk.recalls}`;
  const overlay = $("called");
  const show = tk.status === "called" && dismissedCall !== callKey;
  if (show) {
    $("called-number").textContent = String(tk.number);
    $("called-room").textContent = t("p.go_to", { room: roomText(tk.room) });
    const wasHidden = overlay.hidden;
    overlay.hidden = false;
    if (wasHidden) $("called-ok").focus();
    alertTurn(callKey, t("p.notify_title", { n: tk.number }), t("p.go_to", { room: roomText(tk.room) }));
  } else {
    overlay.hidden = true;
  }
  document.documentElement.classList.toggle("p-called-open", show);
  overlay.dataset.key = callKey;
}

function onTicketState(view) {
  state.ticket = view;
  state.fatal = null;
  renderTicket();
}

async function loadTicket() {
  state.token = tokenForTicket();
  if (!state.token) {
    state.fatal = "p.no_token";
    renderTicket();
    return;
  }
  client.setToken(state.token);
  try {
    const answer = await api("GET", `/v1/queues/${INFO}/tickets/${encodeURIComponent(TICKET_ID)}`, {
      token: state.token,
    });
    if (answer.status === 200) onTicketState(answer.data);
    else if (answer.status === 404) return fatal("p.gone");
    else if (answer.status === 401 || answer.status === 403) return fatal("p.no_token");
  } catch {
    /* offline: the live channel will deliver when the network is back */
  }
  client.subscribe(`ticket:${INFO}:${TICKET_ID}`, onTicketState);
}

function fatal(key) {
  state.fatal = key;
  remember(INFO, null);
  renderTicket();
}

// ---- cancel ---------------------------------------------------------------------------------
let cancelKey = null;

async function cancelTicket() {
  const yes = $("cancel-yes");
  yes.disabled = true;
  cancelKey = cancelKey || newKey();
  try {
    const answer = await apiWithRetry(
      "DELETE",
      `/v1/queues/${INFO}/tickets/${encodeURIComponent(TICKET_ID)}`,
      { token: state.token, key: cancelKey },
    );
    $("cancel-dialog").close();
    if (answer.status === 200) onTicketState(answer.data);
    else showError(answer.data?.error?.code || `http_${answer.status}`);
  } catch {
    $("cancel-dialog").close();
    showError("network");
  } finally {
    yes.disabled = false;
  }
}

// ---- wiring ---------------------------------------------------------------------------------
function renderAll() {
  renderClinic();
  renderQueue();
  if (TICKET_ID) renderTicket();
}

async function loadFacility() {
  try {
    const answer = await api("GET", `/v1/facilities/${FACILITY}`);
    if (answer.status === 200) {
      state.facility = answer.data;
      const q = (answer.data.queues || []).find((v) => v.info === INFO);
      if (q && !state.queue) state.queue = q;
      renderAll();
    }
  } catch {
    /* the live channel brings the queue; name and address come on the next load */
  }
}

function main() {
  applyI18n();
  bindLangToggle($("lang"));
  onLangChange(renderAll);
  const net = $("net");
  net.textContent = t("common.loading");
  client.onStatus((s) => {
    net.dataset.online = String(s.online);
    net.textContent = t(s.online ? "common.online" : "common.offline");
  });
  client.onError((e) => {
    if (!TICKET_ID || e.ch !== `ticket:${INFO}:${TICKET_ID}`) return;
    if (e.code === "unknown_ticket") fatal("p.gone");
    else if (["unauthorized", "forbidden", "token_expired", "invalid_token"].includes(e.code)) fatal("p.no_token");
  });
  client.subscribe(`queue:${INFO}`, (view) => {
    state.queue = view;
    renderQueue();
  });
  loadFacility();
  $("take-form").addEventListener("submit", takeTicket);
  $("cancel-btn").addEventListener("click", () => $("cancel-dialog").showModal());
  $("cancel-no").addEventListener("click", () => $("cancel-dialog").close());
  $("cancel-yes").addEventListener("click", cancelTicket);
  $("notify-btn").addEventListener("click", async () => {
    primeAlerts();
    await askNotifications();
    renderTicket();
  });
  $("called-ok").addEventListener("click", () => {
    dismissedCall = $("called").dataset.key;
    $("called").hidden = true;
    document.documentElement.classList.remove("p-called-open");
  });
  document.addEventListener("pointerdown", primeAlerts, { once: true });
  if (TICKET_ID) loadTicket();
  else resumeStoredTicket().then((moved) => moved || renderTake());
}

main();
