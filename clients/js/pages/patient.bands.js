// The patient page's 「時間帯予約」 on /q/{info}: shown only when the counter takes bookings
// (its public view's `bookings`, then GET …/bands answers 200; 404 bookings_off: nothing new). A day (today and ahead, within the
// clinic's horizon), its bands with the places left (満 when full, 受付終了 once started or
// closed), and for an open band the form: name and phone (診察券番号 optional) behind the
// consent box. A booking goes to its page (/q/{info}/t/{id}, patient.booking.js) with its
// token kept by booking id; this browser's bookings of the queue are listed above the days.
// Today's places left also follow the queue's live view (its `bands`).

import { onLangChange, t } from "./i18n.js";
import { bandText, dayText, forgetBooking, rememberBooking, storedBookings } from "./patient.booking.js";
import { rememberTicket } from "./tickets.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 60000;
const PATIENT_REF = /^[0-9A-Za-z-]{1,20}$/;

// ctx (patient.js): {info, api, apiWithRetry, newKey, errorText, resume(), queue()}
const list = { ctx: null, answer: null, loading: false, day: null, band: null, mine: [], busy: false };

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Show the bands of queue `ctx.info` (once, on /q/{info}) when its view says it takes bookings. */
export function showBands(ctx) {
  list.ctx = ctx;
  $("band-day").addEventListener("change", (event) => {
    list.day = event.target.value;
    list.band = null;
    $("book-error").hidden = true;
    renderBands();
  });
  $("band-list").addEventListener("click", chooseBand);
  $("book-form").addEventListener("submit", book);
  $("book-form").addEventListener("input", () => ($("book-error").hidden = true)); // seen, then fixed
  onLangChange(() => {
    renderBands();
    renderMine();
  });
  setInterval(() => list.answer && document.visibilityState === "visible" && loadBands(), REFRESH_MS);
  queueSeen(ctx.queue());
}

/** Each view of the queue: bookings switched on or off, and today's places left. */
export function queueSeen(q) {
  if (!list.ctx || !q) return;
  if (q.bookings === false) return bookingsOff(); // no request that can only answer 404
  if (list.answer) return mergeQueueBands(q);
  if (!list.loading) loadBands().then(() => list.answer && loadMine());
}

function bookingsOff() {
  list.answer = null;
  document.body.dataset.bookings = "off";
  $("bands").hidden = true;
}

async function loadBands() {
  let answer;
  list.loading = true;
  try {
    answer = await list.ctx.api("GET", `/v1/queues/${list.ctx.info}/bands?days=62`);
  } catch {
    return; /* offline: the next view or refresh */
  } finally {
    list.loading = false;
  }
  if (answer.status === 200) {
    list.answer = answer.data;
    document.body.dataset.bookings = "on";
    renderBands();
  } else if (answer.status === 404) {
    bookingsOff(); // bookings_off (or no such queue): nothing to book
  }
}

/** Today's places left from the queue's live view (`bands: [{from, to, remaining}]`). */
function mergeQueueBands(q) {
  const today = list.answer.days.find((d) => d.date === list.answer.today);
  if (!today || !Array.isArray(q?.bands) || q.day !== list.answer.today) return;
  let changed = false;
  for (const live of q.bands) {
    const band = today.bands.find((b) => b.from === live.from);
    if (!band || band.remaining === live.remaining) continue;
    band.remaining = live.remaining;
    band.open = band.open && live.remaining > 0;
    changed = true;
  }
  if (changed) renderBands();
}

function bookable(day) {
  return !day.closed && day.bands.some((b) => b.open);
}

export function renderBands() {
  const data = list.answer;
  if (!data) return;
  $("bands").hidden = false;
  const days = data.days.filter((d) => d.closed || d.bands.length);
  if (!days.some((d) => d.date === list.day)) {
    list.day = (days.find(bookable) || days[0])?.date ?? null;
  }
  const options = days.map((d) => {
    const suffix = d.closed ? t("b.closed_suffix") : bookable(d) ? "" : t("b.full_suffix");
    return [d.date, dayText(d.date, data.today) + suffix];
  });
  const select = $("band-day");
  const signature = JSON.stringify(options);
  if (select.dataset.options !== signature) {
    select.dataset.options = signature;
    select.replaceChildren(...options.map(([value, label]) => new Option(label, value)));
  }
  if (list.day) select.value = list.day;
  $("band-day-field").hidden = days.length === 0;
  $("band-none").hidden = days.length > 0;
  const day = days.find((d) => d.date === list.day);
  $("band-empty").hidden = !day || day.bands.length > 0;
  const focused = document.activeElement?.closest?.("#band-list") ? document.activeElement.dataset.from : null;
  $("band-list").replaceChildren(...(day?.bands || []).map((b) => bandItem(day, b)));
  if (focused) $("band-list").querySelector(`[data-from="${focused}"]`)?.focus();
  if (!day?.bands.some((b) => b.from === list.band && b.open)) list.band = null;
  const chosen = day?.bands.find((b) => b.from === list.band);
  $("book-form").hidden = !chosen;
  if (chosen) {
    setText($("book-chosen"), t("b.chosen", { day: dayText(day.date, data.today), band: bandText(chosen.from, chosen.to) }));
  }
  $("book-btn").disabled = list.busy;
}

function bandItem(day, band) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "p-band";
  button.dataset.from = band.from;
  const full = band.remaining <= 0;
  const state = full ? "full" : band.open && !day.closed ? "open" : "closed";
  button.dataset.state = state;
  button.disabled = state !== "open";
  button.setAttribute("aria-pressed", String(band.from === list.band));
  const time = document.createElement("span");
  time.className = "p-band-time jb-num";
  time.textContent = bandText(band.from, band.to);
  const left = document.createElement("span");
  left.className = "p-band-left";
  left.textContent = full ? t("b.full") : state === "open" ? t("b.left", { n: band.remaining }) : t("b.ended");
  button.append(time, left);
  li.append(button);
  return li;
}

function chooseBand(event) {
  const button = event.target.closest("button.p-band");
  if (!button || button.disabled) return;
  list.band = button.dataset.from;
  $("book-error").hidden = true;
  renderBands();
  $("book-name").focus();
}

// ---- booking ---------------------------------------------------------------------------------
function formError(key, focus, vars) {
  const box = $("book-error");
  box.textContent = typeof key === "string" && key.startsWith("b.") ? t(key, vars) : key;
  box.hidden = false;
  focus?.focus();
}

/** One Idempotency-Key per booking asked for (the same body again: the same key). */
function pendingKey(payload) {
  const slot = `junban.pending.book.${list.ctx.info}`;
  const text = JSON.stringify(payload);
  try {
    const pending = JSON.parse(sessionStorage.getItem(slot) || "null");
    if (pending && pending.body === text) return pending.key;
    const key = list.ctx.newKey();
    sessionStorage.setItem(slot, JSON.stringify({ key, body: text }));
    return key;
  } catch {
    return list.ctx.newKey();
  }
}

async function book(event) {
  event.preventDefault();
  if (list.busy || !list.band) return;
  $("book-error").hidden = true;
  const name = $("book-name").value.trim();
  const phone = $("book-phone").value.trim();
  const ref = $("book-ref").value.normalize("NFKC").trim();
  if (!name) return formError("b.need_name_phone", $("book-name"));
  if (!phone) return formError("b.need_name_phone", $("book-phone"));
  if (ref && !PATIENT_REF.test(ref)) return formError("b.ref_bad", $("book-ref"));
  if (!$("book-consent").checked) return formError("b.consent_needed", $("book-consent"));
  const payload = { date: list.day, band: list.band, name, phone, patient_ref: ref || null };
  const { info } = list.ctx;
  list.busy = true;
  const button = $("book-btn");
  button.disabled = true;
  button.textContent = t("b.booking");
  try {
    const key = pendingKey(payload);
    const answer = await list.ctx.apiWithRetry("POST", `/v1/queues/${info}/bookings`, { body: payload, key });
    if (answer.status === 201) {
      sessionStorage.removeItem(`junban.pending.book.${info}`);
      const b = answer.data.booking;
      rememberBooking({ id: b.id, info, token: answer.data.token, date: b.date, band: b.band });
      location.assign(answer.data.url || `/q/${info}/t/${encodeURIComponent(b.id)}`);
      return;
    }
    const code = answer.data?.error?.code || `http_${answer.status}`;
    formError(list.ctx.errorText(code, { n: Number(answer.retryAfter) || 30 }));
    if (["band_full", "band_closed", "outside_horizon", "unknown_band"].includes(code)) await loadBands();
  } catch {
    formError(t("err.network"));
  } finally {
    list.busy = false;
    button.textContent = t("b.book_btn");
    button.disabled = false;
  }
}

// ---- this browser's bookings of the queue -------------------------------------------------------
async function loadMine() {
  const { info } = list.ctx;
  const shown = [];
  for (const entry of storedBookings(info)) {
    const url = `/v1/queues/${info}/bookings/${encodeURIComponent(entry.id)}`;
    try {
      const answer = await list.ctx.api("GET", url, { token: entry.token });
      const view = answer.data;
      if (answer.status === 200 && view.booking.status === "booked") {
        if (Date.now() <= Date.parse(view.window.late_until)) {
          shown.push({ ...entry, date: view.booking.date, band: view.booking.band });
          continue;
        }
      } else if (answer.status === 200 && view.booking.status === "checked_in") {
        rememberTicket({ id: entry.id, info, token: entry.token }); // a ticket now: followed as one
        forgetBooking(entry.id);
        list.ctx.resume();
        continue;
      } else if (answer.status !== 200 && ![401, 403, 404].includes(answer.status)) {
        shown.push(entry); // the hub is busy: shown as kept
        continue;
      }
      forgetBooking(entry.id); // cancelled, past, or refused
    } catch {
      shown.push(entry); // offline: shown as kept
    }
  }
  list.mine = shown;
  renderMine();
}

function renderMine() {
  const mine = list.mine.filter((e) => e.band?.from);
  $("mine").hidden = mine.length === 0;
  $("mine-list").replaceChildren(
    ...mine.map((entry) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `/q/${list.ctx.info}/t/${encodeURIComponent(entry.id)}`;
      a.className = "p-mine-link";
      a.textContent = `${dayText(entry.date, list.answer?.today)} ${bandText(entry.band.from, entry.band.to)}`;
      const open = document.createElement("span");
      open.textContent = t("b.open_mine");
      a.append(" ", open);
      li.append(a);
      return li;
    }),
  );
}
