// The patient page: /q/{info} (the clinic, its live wait state, "take a ticket") and
// /q/{info}/t/{id} (that ticket followed live, the full-screen "your turn", cancel).
// The ticket's token is kept in localStorage by ticket id (tickets.js; it may arrive in the
// URL fragment, #token=…, from a printed QR code), so a reload or a flaky network never loses
// the ticket. An absent ticket is not over (staff may requeue or call it): only done and
// cancelled tickets, and tokens the hub refuses (401/403/404), are forgotten.
// Time-band reservations: the bands and the booking form on /q/{info} (patient.bands.js); a
// booking's page is /q/{info}/t/{booking id}, followed by patient.booking.js until check-in
// makes it the ticket with the same id, which this file then follows as any other.

import { JunbanClient, newer } from "/static/junban.js";
import { addStrings, applyI18n, bindLangToggle, onLangChange, t } from "./i18n.js";
import { renderNotices } from "./notices.js";
import { STRINGS } from "./patient.strings.js";
import { alertTurn, primeAlerts } from "./patient.alert.js";
import { offerLine, recheckNotify, renderNotify, setupNotify } from "./patient.notify.js";
import { forgetTicket, latestTicket, rememberTicket, ticketById } from "./tickets.js";
import { phoneConsent, renderPhoneOption } from "./patient.phone.js";
import { followBooking, isBookingId, renderBooking, renderReserved } from "./patient.booking.js";
import { queueSeen, showBands } from "./patient.bands.js";

addStrings(STRINGS);

const $ = (id) => document.getElementById(id);
const body = document.body.dataset;
const INFO = body.info;
const FACILITY = body.facility;
const TICKET_ID = body.ticket || null;
const FINAL = new Set(["done", "cancelled"]); // absent is not final: staff may call it again
const AUTH_CODES = new Set(["unauthorized", "forbidden", "token_expired", "invalid_token", "token_revoked"]);

const state = { queue: null, facility: null, ticket: null, token: null, fatal: null };
let bookingMode = isBookingId(TICKET_ID); // a booking's page, until it is a ticket
// The ticket page keeps its live channel while the phone is in a pocket (hidden tab): the
// "your turn" sound, vibration and notification depend on it. "Live" is shown only while the
// link is proven: a ping every 4 s that the hub must answer within 3 s, and the browser's
// offline event at once (the client's defaults would leave a dead link unseen for 35 s).
const client = new JunbanClient({
  base: location.origin,
  token: null,
  hiddenGrace: TICKET_ID ? Infinity : undefined,
  pingInterval: 4000,
  pongTimeout: 3000,
});

// ---- storage ------------------------------------------------------------------------------
function tokenForTicket() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromHash = hash.get("token");
  if (fromHash) {
    rememberTicket({ id: TICKET_ID, info: INFO, token: fromHash });
    history.replaceState(null, "", location.pathname + location.search);
    return fromHash;
  }
  const mine = ticketById(TICKET_ID);
  return mine && mine.info === INFO ? mine.token : null;
}

/** Write `text` into `node` only when it differs: live regions re-announce every write. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
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

/** The role=alert box: written only when what it says changes (no re-announcements). */
function setNotice(text, className) {
  const box = $("notice");
  if (!text) {
    if (!box.hidden) box.hidden = true;
    setText(box, "");
    return;
  }
  if (box.className !== className) box.className = className;
  setText(box, text);
  if (box.hidden) box.hidden = false;
}

function showNotice(key, tone = "warn", vars = {}) {
  const tones = { error: " jb-notice-error", info: " jb-notice-info" };
  setNotice(key ? t(key, { ...hoursText(), ...vars }) : "", `jb-notice${tones[tone] || ""}`);
}

function showError(code) {
  setNotice(errorText(code), "jb-notice jb-notice-error");
}

function renderClinic() {
  const f = state.facility;
  const q = state.queue;
  if (f) {
    setText($("clinic-name"), f.name);
    document.title = `${f.name} · ${t("common.brand")}`;
    const counter = (f.counters || []).find((c) => `${FACILITY}-${c.counter}` === INFO);
    setText($("counter-label"), counter ? `${counter.label} (${INFO})` : INFO);
    $("footer").hidden = !(f.address || f.hours);
    setText($("address"), f.address ? `${t("p.address")}: ${f.address}` : "");
    setText($("hours"), f.hours ? `${t("p.hours")}: ${f.hours}` : "");
  }
  renderNotices($("op-notices"), q?.notices ?? f?.notices, q?.tz ?? f?.tz);
  const message = q?.message ?? f?.message ?? "";
  $("message").hidden = !message;
  setText($("message"), message);
  const pill = $("open-pill");
  if (q) {
    const open = q.open && !q.suspended;
    setText(pill, t(open ? "p.open" : "p.closed"));
    pill.classList.toggle("jb-pill-off", !open);
  }
}

/** "about 15–25 min": the range learnt from the clinic's history (estimate_range), else the
 *  point estimate; "–" once the ticket no longer waits. */
function estimateText(view) {
  if (view.estimate_min == null) return "–";
  const range = view.estimate_range;
  if (Array.isArray(range) && range.length === 2) return t("common.minutes_range", { lo: range[0], hi: range[1] });
  return t("common.minutes", { n: Math.round(view.estimate_min) });
}

function renderQueue() {
  const q = state.queue;
  if (!q) return;
  setText($("waiting-count"), t("common.people", { n: q.waiting_count }));
  // a new walk-in also waits for the bookings expected to check in ahead of it
  const newWait = Math.round((q.waiting_count + (Number(q.booked_ahead) || 0)) * q.minutes_per_patient);
  setText($("new-wait"), t("common.minutes", { n: newWait }));
  const list = $("calling");
  const calls = JSON.stringify([document.documentElement.lang, q.calling.map((c) => [c.number, c.room])]);
  if (list.dataset.calls !== calls) {
    list.dataset.calls = calls; // an aria-live list: rebuilt only when the calls change
    list.replaceChildren(
    ...q.calling.map((c) => {
      const li = document.createElement("li");
      li.className = "jb-chip jb-num";
      li.textContent = String(c.number);
      li.setAttribute("aria-label", t("p.calling_aria", { n: c.number, room: roomText(c.room) }));
      return li;
    }),
    );
  }
  $("calling-none").hidden = q.calling.length > 0;
  renderClinic();
  if (!TICKET_ID) {
    renderTake();
    queueSeen(q); // bookings on or off, today's places left
  } else if (bookingMode) {
    renderBooking(); // its times in the clinic's zone, which the queue's view carries
  }
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
  const call = phoneConsent(phone); // 電話で呼び出しを希望する (patient.phone.js)
  if (call.error) {
    formError.textContent = t(call.error);
    formError.hidden = false;
    call.focus?.focus();
    return;
  }
  const payload = { ...call.body };
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
      rememberTicket({ id, info: INFO, token: answer.data.token, number: answer.data.ticket.number });
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
  const mine = latestTicket(INFO);
  if (!mine) return false;
  try {
    const answer = await api("GET", `/v1/queues/${INFO}/tickets/${encodeURIComponent(mine.id)}`, {
      token: mine.token,
    });
    if (answer.status === 200 && !FINAL.has(answer.data.ticket.status)) {
      location.replace(`/q/${INFO}/t/${encodeURIComponent(mine.id)}`);
      return true;
    }
    // over, or a token the hub refuses: forget that ticket (and only that one)
    if (answer.status === 200 || [401, 403, 404].includes(answer.status)) forgetTicket(mine.id, INFO);
  } catch {
    /* offline: stay here; the form's key makes a retry safe */
  }
  return false;
}

// ---- one ticket -----------------------------------------------------------------------------
function renderTicket() {
  const card = $("ticket");
  card.hidden = bookingMode;
  $("take").hidden = true;
  $("new-wait-box").hidden = true;
  if (bookingMode) return; // patient.booking.js shows the booking
  if (state.fatal) {
    card.dataset.status = "cancelled";
    setText($("ticket-status"), t(state.fatal));
    $("ticket-status").dataset.tone = "bad";
    $("ticket-stats").hidden = true;
    $("ticket-hint").hidden = true;
    $("cancel-btn").hidden = true;
    renderNotify(false);
    renderSelfActions(null);
    $("recover").hidden = state.fatal !== "p.no_token"; // found again by number + phone
    showAgain();
    return;
  }
  const view = state.ticket;
  if (!view) return;
  $("recover").hidden = true;
  const tk = view.ticket;
  card.dataset.status = tk.status;
  setText($("ticket-number"), String(tk.number));
  renderReserved(tk); // 予約 and its band
  $("ticket-number").setAttribute("aria-label", t("p.number_aria", { n: tk.number }));
  const waiting = tk.status === "waiting";
  $("ticket-stats").hidden = !waiting;
  setText($("ahead"), t("common.people", { n: view.ahead }));
  setText($("estimate"), estimateText(view));
  const status = $("ticket-status");
  const tone = tk.status === "called" ? "called" : tk.status === "waiting" || tk.status === "done" ? "" : "bad";
  if (status.dataset.tone !== tone) status.dataset.tone = tone;
  setText(status, statusText(view));
  $("ticket-hint").hidden = !waiting;
  $("cancel-btn").hidden = !waiting;
  renderSelfActions(view);
  renderNotify(waiting); // 呼び出しを通知で受け取る (patient.notify.js)
  if (FINAL.has(tk.status)) {
    forgetTicket(tk.id, INFO);
    showAgain();
  } else {
    $("again-link").hidden = true; // absent, then requeued or called again
  }
  renderCalled(view);
}

/** "I'm here", "I'll be late" (as the clinic allows: the view's `can`) and "open on another
 * device"; `view` null hides them all. */
function renderSelfActions(view) {
  const tk = view?.ticket;
  const can = view?.can || {};
  const waiting = tk?.status === "waiting";
  $("here-btn").hidden = !can.checkin;
  $("late-btn").hidden = !can.postpone;
  $("arrived-note").hidden = !(waiting && tk.arrived_at);
  $("self-actions").hidden = !(can.checkin || can.postpone);
  $("link-btn").hidden = !(tk && state.token && !FINAL.has(tk.status) && tk.status !== "transferred");
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
let focusBeforeCall = null;

/** "Your turn": a modal <dialog> (the page behind is inert); focus returns on close. */
function renderCalled(view) {
  const tk = view.ticket;
  const callKey = `${tk.id}:${tk.called_at}:${tk.recalls}`;
  const dialog = $("called");
  const show = tk.status === "called" && dismissedCall !== callKey;
  dialog.dataset.key = callKey;
  if (show) {
    setText($("called-number"), String(tk.number));
    setText($("called-room"), t("p.go_to", { room: roomText(tk.room) }));
    if (!dialog.open) {
      focusBeforeCall = document.activeElement;
      dialog.showModal();
      $("called-ok").focus();
    }
    alertTurn(callKey, t("p.notify_title", { n: tk.number }), t("p.go_to", { room: roomText(tk.room) }));
  } else if (dialog.open) {
    dialog.close();
  }
  document.documentElement.classList.toggle("p-called-open", show);
}

function onCalledClosed() {
  dismissedCall = $("called").dataset.key; // 「わかりました」 or Esc: this call is seen
  document.documentElement.classList.remove("p-called-open");
  const back = focusBeforeCall;
  focusBeforeCall = null;
  if (back && back !== document.body && back.isConnected && !back.closest("[hidden]")) back.focus();
}

let ticketSeen = null; // (epoch, v) of the ticket state shown, whichever way it came

function onTicketState(view) {
  if (view?.v !== undefined && view?.epoch !== undefined) {
    if (!newer(view, ticketSeen)) return; // an older answer (HTTP) after a newer live state
    ticketSeen = { epoch: view.epoch, v: view.v };
  }
  state.ticket = view;
  state.fatal = null;
  markFresh();
  renderTicket();
  if (view?.ticket?.status === "transferred") followTransfer();
}

/** The ticket moved to another counter: its page there, with a token for that queue. */
let following = false;
async function followTransfer() {
  if (following) return;
  following = true;
  try {
    const answer = await api("GET", `/v1/queues/${INFO}/tickets/${encodeURIComponent(TICKET_ID)}`, {
      token: state.token,
    });
    const moved = answer.data?.moved;
    if (answer.status === 200 && moved?.info && moved.token) {
      rememberTicket({ id: TICKET_ID, info: moved.info, token: moved.token, number: answer.data.ticket.number });
      location.replace(`/q/${moved.info}/t/${encodeURIComponent(TICKET_ID)}`);
      return;
    }
  } catch {
    /* offline: the next live state tries again */
  }
  following = false;
}

async function loadTicket() {
  state.token = tokenForTicket();
  if (!state.token) {
    state.fatal = "p.no_token";
    renderTicket();
    return;
  }
  try {
    // check the token first: a refused one must not take the live connection down
    const answer = await api("GET", `/v1/queues/${INFO}/tickets/${encodeURIComponent(TICKET_ID)}`, {
      token: state.token,
    });
    if (answer.status === 404) return fatal("p.gone");
    if (answer.status === 401 || answer.status === 403) return fatal("p.no_token");
    if (answer.status === 200) onTicketState(answer.data);
  } catch {
    /* offline: the live channel will deliver when the network is back */
  }
  client.setToken(state.token);
  client.subscribe(`ticket:${INFO}:${TICKET_ID}`, onTicketState);
  recheckNotify(); // a push subscription the browser renewed is posted again
}

/** The hub refuses this ticket (unknown, or its token): forget this ticket's token only and
 * go on without it, so the public queue view keeps working. */
function fatal(key) {
  state.fatal = key;
  if (state.token) forgetTicket(TICKET_ID, INFO);
  state.token = null;
  client.setToken(null);
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

// ---- "I'm here", "I'll be late" -------------------------------------------------------------
const selfKeys = {};

async function selfAction(action, button) {
  button.disabled = true;
  selfKeys[action] = selfKeys[action] || newKey();
  try {
    const answer = await apiWithRetry(
      "POST",
      `/v1/queues/${INFO}/tickets/${encodeURIComponent(TICKET_ID)}/${action}`,
      { token: state.token, key: selfKeys[action] },
    );
    selfKeys[action] = null;
    if (answer.status === 200) {
      showNotice(action === "postpone" ? "p.late_done" : null, "info");
      onTicketState(answer.data);
    } else {
      showError(answer.data?.error?.code || `http_${answer.status}`);
    }
  } catch {
    showError("network");
  } finally {
    button.disabled = false;
  }
}

// ---- open on another device ------------------------------------------------------------------
async function showLink() {
  const dialog = $("link-dialog");
  const qr = $("link-qr");
  try {
    const answer = await api("GET", `/v1/queues/${INFO}/tickets/${encodeURIComponent(TICKET_ID)}/link`, {
      token: state.token,
    });
    if (answer.status !== 200) return showError(answer.data?.error?.code || `http_${answer.status}`);
    const link = answer.data.short_url || answer.data.url;
    const a = $("link-url");
    a.href = link;
    a.textContent = link.replace(/^https?:\/\//, "");
    if (qr.src.startsWith("blob:")) URL.revokeObjectURL(qr.src);
    if (answer.data.qr_svg) {
      qr.src = URL.createObjectURL(new Blob([answer.data.qr_svg], { type: "image/svg+xml" }));
      qr.alt = link;
      qr.hidden = false;
    }
    $("link-copy").textContent = t("p.link_copy");
    dialog.showModal();
  } catch {
    showError("network");
  }
}

async function copyLink() {
  try {
    await navigator.clipboard.writeText($("link-url").href);
    $("link-copy").textContent = t("p.link_copied");
  } catch {
    /* no clipboard here: the link is on screen to copy by hand */
  }
}

// ---- a ticket taken on another device: number + phone ------------------------------------------
async function recoverTicket(event) {
  event.preventDefault();
  const box = $("recover-error");
  box.hidden = true;
  const number = Number(String($("recover-number").value).normalize("NFKC").trim());
  const phone = $("recover-phone").value.trim();
  if (!Number.isInteger(number) || number < 1 || !phone) {
    box.textContent = t("p.recover_missing");
    box.hidden = false;
    return;
  }
  const button = $("recover-btn");
  button.disabled = true;
  try {
    const answer = await api("POST", `/v1/queues/${INFO}/tickets/recover`, { body: { number, phone } });
    if (answer.status === 200) {
      const tk = answer.data.ticket;
      rememberTicket({ id: tk.id, info: INFO, token: answer.data.token, number: tk.number });
      location.assign(`/q/${INFO}/t/${encodeURIComponent(tk.id)}`);
      return;
    }
    const code = answer.data?.error?.code || `http_${answer.status}`;
    box.textContent = errorText(code, { n: Math.ceil(Number(answer.retryAfter)) || 60 });
    box.hidden = false;
  } catch {
    box.textContent = t("err.network");
    box.hidden = false;
  } finally {
    button.disabled = false;
  }
}

// ---- live or not: shown only while the link is proven ---------------------------------------
let live = null; // null: not connected yet
let lastUpdate = null; // Date.now() of the last state shown

function markFresh() {
  lastUpdate = Date.now();
}

function clockText(ms) {
  try {
    return new Intl.DateTimeFormat(document.documentElement.lang || "ja", {
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    }).format(new Date(ms));
  } catch {
    return new Date(ms).toLocaleTimeString();
  }
}

function renderNet() {
  const net = $("net");
  if (live === null) {
    setText(net, t("common.loading"));
    return;
  }
  net.dataset.online = String(live);
  document.body.dataset.live = String(live);
  const seen = Math.max(lastUpdate ?? 0, client.lastSeen ?? 0);
  if (live) setText(net, t("p.live"));
  else setText(net, seen ? t("p.stale_since", { time: clockText(seen) }) : t("p.stale"));
}

function setLive(online) {
  live = online && navigator.onLine !== false;
  if (live) markFresh();
  renderNet();
}

// ---- wiring ---------------------------------------------------------------------------------
function renderAll() {
  renderNet();
  renderClinic();
  renderQueue();
  if (TICKET_ID) renderTicket();
}

async function loadFacility() {
  try {
    const answer = await api("GET", `/v1/facilities/${FACILITY}`);
    if (answer.status === 200) {
      state.facility = answer.data;
      offerLine((answer.data.notify_channels || []).includes("line")); // LINE when the hub has it
      renderPhoneOption(answer.data);
      const q = (answer.data.queues || []).find((v) => v.info === INFO);
      if (q && newer(q, state.queue)) state.queue = q; // never over a newer live state
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
  renderNet();
  client.onStatus((s) => {
    $("net").dataset.transport = s.transport || ""; // "ws", "sse", "poll": for support and tests
    setLive(s.online);
  });
  addEventListener("offline", () => setLive(false));
  addEventListener("online", () => setLive(client.status.online));
  // a phone taken out of the pocket: prove the link now rather than at the next ping
  document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && client.reconnectNow());
  // never connected at all (no status change to report): say so after a while
  setTimeout(() => live === null && setLive(false), 8000);
  client.onError((e) => {
    if (!TICKET_ID || !state.token) return;
    // the ticket's channel refused, or the whole connection closed for the ticket's token
    // (4401, ch null; the client then goes on without it, so the queue view keeps working)
    if (e.ch !== null && e.ch !== `ticket:${INFO}:${TICKET_ID}`) return;
    if (e.code === "unknown_ticket") fatal("p.gone");
    else if (AUTH_CODES.has(e.code)) fatal("p.no_token");
  });
  let seenProfile; // the clinic's name, label and language as the last view carried them
  client.subscribe(`queue:${INFO}`, (view) => {
    const profile = JSON.stringify(view.profile ?? null);
    if (seenProfile !== undefined && profile !== seenProfile) loadFacility(); // settings saved
    seenProfile = profile;
    state.queue = view;
    markFresh();
    renderQueue(); // renders the clinic part too
  });
  loadFacility();
  $("take-form").addEventListener("submit", takeTicket);
  $("cancel-btn").addEventListener("click", () => $("cancel-dialog").showModal());
  $("cancel-no").addEventListener("click", () => $("cancel-dialog").close());
  $("cancel-yes").addEventListener("click", cancelTicket);
  $("here-btn").addEventListener("click", () => selfAction("arrived", $("here-btn")));
  $("late-btn").addEventListener("click", () => $("late-dialog").showModal());
  $("late-no").addEventListener("click", () => $("late-dialog").close());
  $("late-yes").addEventListener("click", async () => {
    $("late-dialog").close();
    await selfAction("postpone", $("late-btn"));
  });
  $("link-btn").addEventListener("click", showLink);
  $("link-copy").addEventListener("click", copyLink);
  $("link-close").addEventListener("click", () => $("link-dialog").close());
  $("recover-form").addEventListener("submit", recoverTicket);
  setupNotify({ info: INFO, ticketId: TICKET_ID, token: () => state.token });
  $("notify-btn").addEventListener("click", primeAlerts);
  $("called-ok").addEventListener("click", () => $("called").close());
  $("called").addEventListener("close", onCalledClosed);
  document.addEventListener("pointerdown", primeAlerts, { once: true });
  const bookings = {
    info: INFO,
    id: TICKET_ID,
    api,
    apiWithRetry,
    newKey,
    errorText,
    tz: () => state.queue?.tz ?? state.facility?.tz,
    today: () => state.queue?.day,
    resume: resumeStoredTicket,
    queue: () => state.queue,
    toTicket: () => {
      bookingMode = false;
      loadTicket();
    },
  };
  if (bookingMode) followBooking(bookings);
  else if (TICKET_ID) loadTicket();
  else {
    $("recover").hidden = false;
    resumeStoredTicket().then((moved) => {
      if (moved) return;
      renderTake();
      showBands(bookings);
    });
    // the service-hours refusal is a matter of the clock: at opening time the form appears
    // without waiting for the next queue change
    setInterval(() => state.queue && renderTake(), 20000);
  }
}

main();
