// The bookings page /console/{facility}/bookings (予約): one counter's time-band bookings of
// a day (GET /v1/queues/{info}/bookings?date=): each band with its count, its bookings (name,
// phone, 診察券番号, channel, status) with 受付 (check-in: the booking becomes a ticket of
// today's line, its number shown on the row) and 取消 (after a confirmation), and a phone
// booking form per band. Read again every 15 s and after each action. The shell (login,
// header, language, the API call) is staffpage.js.

import { clock, currentLang, t } from "./i18n.js";
import "./bookings.strings.js";
import { newKey, staffPage, todayIn } from "./staffpage.js";
import { confirmDialog, el } from "./staffsession.js";

const REFRESH_MS = 15_000;
const DAY_MS = 86_400_000;
const $ = (id) => document.getElementById(id);

const state = {
  info: null, date: null, data: null, off: false, seq: 0, timer: null, loadedAt: null,
  loadFailed: false,
  numbers: new Map(), // booking id -> its ticket's number (the check-in answer, or the queue)
  cards: new Map(), // band start -> {node, head, list, band, headSig, listSig}
  busy: new Set(), // booking ids with an action in flight
};

const page = staffPage({ prefix: "bk", onStart: start, onStop: stop, onRelabel: relabel });
const counterKey = () => `junban.bookings.counter.${page.facility}`;
const q = (path = "") => `/v1/queues/${state.info}/bookings${path}`;

/** The date `n` days after `iso` (YYYY-MM-DD, a calendar date). */
function addDays(iso, n) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d) + n * DAY_MS).toISOString().slice(0, 10);
}

// ---- session -----------------------------------------------------------------------------

function start() {
  const counters = Array.isArray(page.record?.counters) ? page.record.counters : [];
  const select = $("counter");
  select.replaceChildren(...counters.map((c) => el("option", { value: c.counter },
    c.label ? t("bk.counter_option", { counter: c.counter, label: c.label }) : c.counter)));
  const asked = new URLSearchParams(location.search).get("counter");
  const saved = localStorage.getItem(counterKey());
  const known = (c) => counters.some((x) => x.counter === c);
  select.value = known(asked) ? asked : known(saved) ? saved : counters[0]?.counter ?? "";
  if (!$("date").value) $("date").value = todayIn(page.tz);
  choose();
  clearInterval(state.timer);
  state.timer = setInterval(() => load(), REFRESH_MS);
}

function stop() {
  clearInterval(state.timer);
  Object.assign(state, { timer: null, data: null, off: false, seq: state.seq + 1 });
  clearCards();
}

function relabel() {
  clearCards(); // every text again in the new language (a half-typed phone booking too: rare)
  if (page?.token) render();
}

function clearCards() {
  state.cards.clear();
  $("bands").replaceChildren();
}

/** The counter or the date changed: a fresh list. */
function choose() {
  const counter = $("counter").value;
  if (!counter) return;
  localStorage.setItem(counterKey(), counter);
  state.info = `${page.facility}-${counter}`;
  state.date = $("date").value || todayIn(page.tz);
  state.data = null;
  state.off = false;
  clearCards();
  page.notify("");
  load();
}

function moveDay(n) {
  $("date").value = n === 0 ? todayIn(page.tz) : addDays($("date").value || todayIn(page.tz), n);
  choose();
}

// ---- loading -----------------------------------------------------------------------------

async function load() {
  if (!page.token || !state.info) return;
  const seq = ++state.seq;
  const { info, date } = state;
  if (!state.data) $("updated").textContent = t("bk.loading");
  try {
    const data = await page.api("GET", `/v1/queues/${info}/bookings?date=${encodeURIComponent(date)}`);
    await findNumbers(info, data);
    if (seq !== state.seq) return;
    Object.assign(state, { data, off: false, loadedAt: new Date() });
    if (state.loadFailed) page.notify("");
    state.loadFailed = false;
    render();
  } catch (err) {
    if (seq !== state.seq) return;
    if (err.code === "bookings_off") {
      Object.assign(state, { data: null, off: true, loadedAt: new Date() });
      render();
    } else if (err.status !== 401) {
      state.loadFailed = true;
      $("updated").textContent = "";
      page.notify(page.said(err), true);
    }
  }
}

/** The ticket numbers of today's checked-in bookings this page has not seen checked in
 * (the ticket's id is the booking's): from the queue's staff view. */
async function findNumbers(info, data) {
  const missing = (data.bookings || []).some((b) => b.status === "checked_in" && !state.numbers.has(b.id));
  if (!missing || data.date !== todayIn(page.tz)) return;
  try {
    const view = await page.api("GET", `/v1/queues/${info}/staff`);
    for (const tk of view.tickets || []) if (tk.channel === "reserved") state.numbers.set(tk.id, tk.number);
  } catch {
    // the rows show 受付済み without the number
  }
}

// ---- rendering ---------------------------------------------------------------------------

const bandLabel = (band) => t("bk.band", { from: band.from, to: band.to });
const nameOf = (b) => b.name || t("bk.no_name");

/** The day's bands by start, with any band that has bookings but left the settings. */
function bandsOf(data) {
  const bands = (data.bands || []).map((b) => ({ ...b }));
  for (const b of data.bookings || []) {
    if (!bands.some((x) => x.from === b.band.from)) {
      bands.push({ from: b.band.from, to: b.band.to, capacity: null, remaining: null, open: false, gone: true });
    }
  }
  return bands.sort((a, b) => a.from.localeCompare(b.from));
}

function render() {
  $("off").hidden = !state.off;
  const at = state.loadedAt ? clock(state.loadedAt.toISOString(), page.tz) : "";
  $("updated").textContent = state.loadedAt ? t("bk.updated", { date: state.date, at }) : "";
  const data = state.data;
  if (!data) {
    $("day-note").hidden = true;
    clearCards();
    return;
  }
  const bands = bandsOf(data);
  const note = data.closed ? t("bk.closed_day") : bands.length ? "" : t("bk.no_bands");
  $("day-note").textContent = note;
  $("day-note").hidden = !note;
  const nodes = bands.map((band) => {
    let card = state.cards.get(band.from);
    if (!card || Boolean(card.band.gone) !== Boolean(band.gone)) {
      card?.node.remove();
      card = bandCard(band);
      state.cards.set(band.from, card);
    }
    card.band = band;
    updateCard(card, (data.bookings || []).filter((b) => b.band.from === band.from));
    return card.node;
  });
  for (const [from, card] of state.cards) {
    if (bands.some((b) => b.from === from)) continue;
    state.cards.delete(from);
    card.node.remove();
  }
  nodes.forEach((node, i) => {
    const at = $("bands").children[i];
    if (at !== node) $("bands").insertBefore(node, at ?? null);
  });
}

function bandCard(band) {
  const head = el("div", { class: "bk-band-head" });
  const list = el("ul", { class: "bk-list" });
  const card = { head, list, band, headSig: "", listSig: "" };
  card.node = el("article", { class: "jb-card bk-band", "data-band": band.from }, head, list);
  if (!band.gone) card.node.append(phoneForm(card));
  return card;
}

function updateCard(card, bookings) {
  const band = card.band;
  const taken = band.capacity == null ? bookings.filter((b) => b.status !== "cancelled").length
    : band.capacity - band.remaining;
  const headSig = JSON.stringify([band, taken, currentLang()]);
  if (headSig !== card.headSig) {
    card.headSig = headSig;
    const count = band.capacity == null ? t("bk.count_unknown", { taken })
      : t("bk.count", { taken, capacity: band.capacity });
    const pill = band.gone ? el("span", { class: "jb-pill jb-pill-off" }, t("bk.gone"))
      : band.remaining <= 0 ? el("span", { class: "jb-pill bk-full" }, t("bk.full"))
      : el("span", { class: "jb-pill" }, t("bk.left", { n: band.remaining }));
    card.head.replaceChildren(
      el("h2", { class: "jb-num" }, bandLabel(band)),
      el("span", { class: "bk-count jb-num" }, count),
      pill,
      band.open ? el("span", { class: "jb-small jb-muted" }, t("bk.web_open")) : "");
  }
  const rows = bookings.map((b) => [b, state.numbers.get(b.id) ?? null, state.busy.has(b.id)]);
  const listSig = JSON.stringify([rows, currentLang()]);
  if (listSig === card.listSig) return;
  card.listSig = listSig;
  const focused = card.list.contains(document.activeElement) ? document.activeElement : null;
  const again = focused && [focused.closest("li")?.dataset.id, focused.dataset.action];
  card.list.replaceChildren(...(rows.length ? rows.map(([b, number, busy]) => bookingRow(b, number, busy))
    : [el("li", { class: "bk-empty jb-muted" }, t("bk.none"))]));
  if (again) card.list.querySelector(`li[data-id="${again[0]}"] [data-action="${again[1]}"]`)?.focus();
}

function bookingRow(b, number, busy) {
  const status = t(`bk.status.${b.status}`) + (b.status === "cancelled" && b.cancelled_by ? t(`bk.by.${b.cancelled_by}`) : "");
  const who = el("span", { class: "bk-who" },
    el("span", { class: "bk-name" }, nameOf(b)),
    b.phone ? el("span", { class: "bk-phone jb-num" }, b.phone) : "",
    b.patient_ref ? el("span", { class: "bk-ref" }, t("bk.ref", { ref: b.patient_ref })) : "");
  const flags = el("span", { class: "bk-flags" },
    el("span", { class: `bk-chan bk-chan-${b.channel}` }, t(`bk.ch.${b.channel}`)),
    el("span", { class: `bk-status bk-status-${b.status}` }, status),
    number != null ? el("span", { class: "bk-ticket jb-num" }, t("bk.ticket", { number })) : "");
  const actions = el("span", { class: "bk-actions" });
  if (b.status === "booked" || (b.status === "no_show" && state.date === todayIn(page.tz))) {
    actions.append(el("button", { class: "jb-btn", type: "button", "data-action": "check-in", disabled: busy,
      "aria-label": t("bk.check_in_aria", { name: nameOf(b) }), onclick: () => checkIn(b) }, t("bk.check_in")));
  }
  if (b.status === "booked") {
    actions.append(el("button", { class: "jb-btn jb-btn-danger-quiet", type: "button", "data-action": "cancel", disabled: busy,
      "aria-label": t("bk.cancel_aria", { name: nameOf(b) }), onclick: () => cancel(b) }, t("bk.cancel")));
  }
  return el("li", { class: `bk-booking bk-${b.status}`, "data-id": b.id, "data-status": b.status }, who, flags, actions);
}

function phoneForm(card) {
  const error = el("p", { class: "sp-error bk-form-error", role: "alert" });
  const done = el("p", { class: "bk-form-done", role: "status" });
  const input = (name, attrs = {}) => el("input", { class: "jb-input", name, autocomplete: "off", ...attrs });
  const form = el("form", { class: "bk-phone-form" },
    el("label", { class: "jb-field" }, el("span", {}, t("bk.name")), input("name", { maxlength: 100, required: true })),
    el("label", { class: "jb-field" }, el("span", {}, t("bk.phone")), input("phone", { maxlength: 32, inputmode: "tel" })),
    el("label", { class: "jb-field" }, el("span", {}, t("bk.patient_ref")),
      input("patient_ref", { maxlength: 20, pattern: "[0-9A-Za-z\\-]{1,20}" })),
    el("button", { class: "jb-btn", type: "submit" }, t("bk.book")),
    error, done);
  form.addEventListener("submit", (event) => book(event, card, error, done));
  return el("details", { class: "bk-phone" }, el("summary", {}, t("bk.phone_title")), form);
}

// ---- actions -----------------------------------------------------------------------------

/** The text of an action's refusal: `too_early` with the time check-in opens. */
function refusal(err) {
  if (err.code === "too_early" && err.detail?.opens_at) {
    return `${t("bk.err.too_early", { time: clock(err.detail.opens_at, page.tz) })} (too_early)`;
  }
  return page.said(err);
}

async function book(event, card, error, done) {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button[type=submit]");
  error.textContent = "";
  done.textContent = "";
  const name = form.name.value.trim();
  const body = {
    date: state.date, band: card.band.from, name, phone: form.phone.value.trim(),
    patient_ref: form.patient_ref.value.trim(), channel: "phone",
  };
  button.disabled = true;
  try {
    await page.api("POST", q(), body, { "Idempotency-Key": newKey() });
    form.reset();
    done.textContent = t("bk.booked", { name: name || t("bk.no_name"), band: bandLabel(card.band) });
  } catch (err) {
    error.textContent = refusal(err);
  } finally {
    button.disabled = false;
  }
  load();
}

async function act(b, fn) {
  if (state.busy.has(b.id)) return;
  state.busy.add(b.id);
  render();
  try {
    page.notify(await fn());
  } catch (err) {
    if (page.token) page.notify(refusal(err), true);
  } finally {
    state.busy.delete(b.id);
    await load();
  }
}

function checkIn(b) {
  return act(b, async () => {
    const answer = await page.api("POST", q(`/${encodeURIComponent(b.id)}/check-in`), {});
    const number = answer.ticket?.number;
    if (number != null) state.numbers.set(b.id, number);
    return t("bk.checked_in", { name: nameOf(b), number: number ?? "–" });
  });
}

async function cancel(b) {
  if (!(await confirmDialog(t("bk.confirm_cancel", { name: nameOf(b), band: bandLabel(b.band) })))) return;
  return act(b, async () => {
    await page.api("DELETE", q(`/${encodeURIComponent(b.id)}`));
    return t("bk.cancelled", { name: nameOf(b) });
  });
}

$("counter").addEventListener("change", choose);
$("date").addEventListener("change", () => $("date").value && choose());
$("prev-day").addEventListener("click", () => moveDay(-1));
$("next-day").addEventListener("click", () => moveDay(1));
$("today").addEventListener("click", () => moveDay(0));
