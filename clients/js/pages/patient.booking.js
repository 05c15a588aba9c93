// The patient page's booking part: /q/{info}/t/{id} for a booking id (R + its date + 8
// characters) shows the booking (band, 「予約を取り消す」, 「到着しました」 in its check-in window)
// until it becomes a ticket with the same id; then the page's live ticket view takes over
// (patient.js: toTicket). The booking's token is kept in localStorage by booking id
// (junban.booking.{id} = {id, info, token, date, band}; it may arrive as #token=… like a
// ticket's); at check-in it moves to the ticket store (tickets.js), the same token serving
// both. Also here: the 予約 label and band of a reserved ticket.

import { addStrings, clock, currentLang, onLangChange, t } from "./i18n.js";
import { BOOKING_STRINGS } from "./patient.strings.js";
import { rememberTicket, ticketById } from "./tickets.js";

addStrings(BOOKING_STRINGS);

const $ = (id) => document.getElementById(id);
const BOOKING_ID = /^R[0-9]{8}[A-Za-z0-9_-]{8}$/;
const STORE = "junban.booking.";
const POLL_MS = 30000;
const KEEP_DAYS = 2; // a booking's token lives 36 h past its day

export const isBookingId = (id) => BOOKING_ID.test(id || "");

// ---- storage --------------------------------------------------------------------------------
function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* private mode or full: the URL still works for this tab */
  }
}

/** Keep booking `entry` ({id, info, token, date?, band?}), over what was kept of it. */
export function rememberBooking(entry) {
  write(STORE + entry.id, { ...read(STORE + entry.id), ...entry, saved: Date.now() });
}

export function forgetBooking(id) {
  write(STORE + id, null);
}

function bookingById(id) {
  const entry = read(STORE + id);
  return entry?.token ? entry : null;
}

/** The bookings this browser holds for queue `info`; those long past are forgotten. */
export function storedBookings(info) {
  const oldest = new Date(Date.now() - KEEP_DAYS * 86400000).toISOString().slice(0, 10);
  const found = [];
  try {
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const key = localStorage.key(i);
      if (!key?.startsWith(STORE)) continue;
      const entry = read(key);
      const day = entry?.date || `${entry?.id?.slice(1, 5)}-${entry?.id?.slice(5, 7)}-${entry?.id?.slice(7, 9)}`;
      if (!entry?.token || day < oldest) localStorage.removeItem(key);
      else if (entry.info === info) found.push({ ...entry, date: day });
    }
  } catch {
    /* storage off */
  }
  return found.sort((a, b) => `${a.date}${a.band?.from}`.localeCompare(`${b.date}${b.band?.from}`));
}

// ---- words ----------------------------------------------------------------------------------
export function bandText(from, to) {
  return t("b.band", { from, to });
}

/** "12月8日(火)", "Tue 8 December"; today's with 今日. */
export function dayText(date, today) {
  let text = date;
  try {
    text = new Intl.DateTimeFormat(currentLang() === "en" ? "en-GB" : "ja-JP", {
      month: "long", day: "numeric", weekday: "short", timeZone: "UTC",
    }).format(new Date(`${date}T00:00:00Z`));
  } catch {
    /* an odd date: as it came */
  }
  return date === today ? t("b.today", { date: text }) : text;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** A reserved ticket (channel "reserved") carries 予約 and its band ("10:00-10:30"). */
export function renderReserved(tk) {
  const on = tk?.channel === "reserved";
  $("ticket-reserved").hidden = !on;
  const [from, to] = String(tk?.band || "").split("-");
  setText($("ticket-band"), on && to ? bandText(from, to) : "");
}

// ---- one booking ----------------------------------------------------------------------------
// ctx (patient.js): {info, id, api, apiWithRetry, errorText, tz(), today(), toTicket()}
const page = { ctx: null, view: null, token: null, timer: null, problem: null, error: null };

function path() {
  return `/v1/queues/${page.ctx.info}/bookings/${encodeURIComponent(page.ctx.id)}`;
}

function tokenForBooking() {
  const { info, id } = page.ctx;
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    rememberBooking({ id, info, token: fromHash });
    history.replaceState(null, "", location.pathname + location.search);
    return fromHash;
  }
  const mine = bookingById(id) || ticketById(id); // checked in on this device: a ticket now
  return mine && mine.info === info ? mine.token : null;
}

/** Follow the booking of this page until it is a ticket (then `ctx.toTicket()`). */
export async function followBooking(ctx) {
  page.ctx = ctx;
  $("booking-checkin").addEventListener("click", checkIn);
  $("booking-cancel").addEventListener("click", () => $("booking-cancel-dialog").showModal());
  $("booking-cancel-no").addEventListener("click", () => $("booking-cancel-dialog").close());
  $("booking-cancel-yes").addEventListener("click", cancel);
  onLangChange(renderBooking);
  page.token = tokenForBooking();
  if (!page.token) return showProblem("b.no_token");
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && page.timer) refresh();
  });
  page.timer = setInterval(refresh, POLL_MS); // while booked: `can.check_in` comes with the window
  await refresh();
}

function stop() {
  clearInterval(page.timer);
  page.timer = null;
}

async function refresh() {
  let answer;
  try {
    answer = await page.ctx.api("GET", path(), { token: page.token });
  } catch {
    return; /* offline: the next poll */
  }
  const code = answer.data?.error?.code;
  if (answer.status === 200) show(answer.data);
  else if (answer.status === 401 || answer.status === 403) showProblem("b.no_token", true);
  else if (answer.status === 404 && code === "bookings_off") toTicket(page.token);
  else if (answer.status === 404) showProblem("b.gone", true);
}

function showProblem(key, forget = false) {
  stop();
  if (forget) forgetBooking(page.ctx.id);
  page.problem = key;
  renderBooking();
}

function show(view) {
  page.view = view;
  page.problem = null;
  const b = view.booking;
  if (b.status === "checked_in") return toTicket(page.token);
  if (b.status === "booked" && !expired(view)) {
    rememberBooking({ id: b.id, info: page.ctx.info, token: page.token, date: b.date, band: b.band });
  } else {
    stop(); // cancelled, or its time is over: nothing more comes
    forgetBooking(b.id);
  }
  renderBooking();
}

/** The booking is a ticket now: the page follows it live (same id, same token). */
function toTicket(token, number) {
  stop();
  const { id, info } = page.ctx;
  rememberTicket({ id, info, token, ...(number ? { number } : {}) });
  forgetBooking(id);
  page.view = null;
  page.problem = null;
  $("booking").hidden = true;
  page.ctx.toTicket();
}

/** Booked but past its window (a day the keeper never marked): shown as no-show. */
function expired(view) {
  return view.booking.status === "booked" && Date.now() > Date.parse(view.window.late_until);
}

export function renderBooking() {
  if (!page.ctx || (!page.view && !page.problem)) return;
  const card = $("booking");
  card.hidden = false;
  const view = page.view;
  const status = page.problem ? "gone" : expired(view) ? "no_show" : view.booking.status;
  card.dataset.status = status;
  $("booking-date").hidden = $("booking-band").hidden = Boolean(page.problem);
  const error = $("booking-error");
  error.hidden = !page.error;
  setText(error, page.error || "");
  const link = $("booking-link");
  link.hidden = !(page.problem || status === "cancelled" || status === "no_show");
  link.href = `/q/${page.ctx.info}`;
  setText(link, t(status === "cancelled" ? "b.again" : "b.take"));
  const line = $("booking-status");
  if (page.problem) {
    setText(line, t(page.problem));
    line.dataset.tone = "bad";
    $("booking-window").hidden = $("booking-checkin").hidden = $("booking-cancel").hidden = true;
    return;
  }
  const b = view.booking;
  const tz = page.ctx.tz();
  setText($("booking-date"), dayText(b.date, page.ctx.today()));
  setText($("booking-band"), bandText(b.band.from, b.band.to));
  setText(line, t(`b.status_${status}`));
  line.dataset.tone = status === "booked" ? "" : "bad";
  const note = noteKey(view, status);
  const box = $("booking-window");
  box.hidden = !note;
  const time = clock(note === "b.late" ? view.window.late_until : view.window.opens_at, tz);
  setText(box, note ? t(note, { time }) : "");
  $("booking-checkin").hidden = !(view.can.check_in && status === "booked");
  $("booking-cancel").hidden = !(view.can.cancel && status === "booked");
}

function noteKey(view, status) {
  if (status === "cancelled") return "b.cancelled_note";
  if (status === "no_show") return "b.no_show_note";
  if (status !== "booked") return null;
  const now = Date.now();
  if (now < Date.parse(view.window.opens_at)) return "b.opens";
  if (!view.can.check_in) return "b.on_site"; // inside the window: the clinic checks in at the desk
  return now > Date.parse(view.window.band_end) ? "b.late" : "b.now";
}

function showError(text) {
  page.error = text;
  renderBooking();
  if (text) $("booking-error").scrollIntoView?.({ block: "nearest" });
}

async function checkIn() {
  const button = $("booking-checkin");
  button.disabled = true;
  setText(button, t("b.checking_in"));
  showError(null);
  try {
    // again for the same booking: the same ticket, so a retry is safe
    const answer = await page.ctx.apiWithRetry("POST", `${path()}/check-in`, { token: page.token });
    if (answer.status === 200) {
      return toTicket(answer.data.token || page.token, answer.data.ticket?.number);
    }
    const err = answer.data?.error || {};
    const code = err.code || `http_${answer.status}`;
    const time = clock(err.opens_at || page.view?.window.opens_at, page.ctx.tz());
    showError(page.ctx.errorText(code, { time }));
    if (code === "no_show" || code === "illegal_transition") await refresh();
  } catch {
    showError(t("err.network"));
  } finally {
    button.disabled = false;
    setText(button, t("b.checkin_btn"));
  }
}

async function cancel() {
  const yes = $("booking-cancel-yes");
  yes.disabled = true;
  try {
    const answer = await page.ctx.apiWithRetry("DELETE", path(), { token: page.token });
    $("booking-cancel-dialog").close();
    if (answer.status === 200) {
      showError(null);
      return show(answer.data);
    }
    const code = answer.data?.error?.code || `http_${answer.status}`;
    showError(code === "band_closed" ? t("b.cancel_closed") : page.ctx.errorText(code));
    await refresh(); // cancelled already, checked in at the desk, …
  } catch {
    $("booking-cancel-dialog").close();
    showError(t("err.network"));
  } finally {
    yes.disabled = false;
  }
}
