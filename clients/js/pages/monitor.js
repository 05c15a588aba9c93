// The waiting-room monitor /monitor/{facility}: a 1920×1080 TV that runs for days unattended.
// Live data: the `facility:{facility}` channel (one public view per counter) through the JS
// client, which reconnects and resumes by itself; this page only renders and announces.
// URL: ?counter=01 (or 01,02) shows only those counters, &room=2 only that room's calls;
// ?lang=ja|en|ja+en overrides the facility's language on this screen.

import { JunbanClient } from "/static/junban.js";
import { buildCard, callsOf, el, fillCard, roomName } from "./monitor.cards.js";
import { fitCard, fitText, gridFor, itemsFor, programmeShown } from "./monitor.layout.js";
import { Announcer, Chime, callSentence } from "./monitor.sound.js";
import { languagesOf, tr } from "./monitor.strings.js";
import { renderNotices } from "./notices.js";

const facility = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const TOKEN_KEY = `junban.monitor.token.${facility}`;
const SPEECH_KEY = "junban.monitor.speech";
const OFFLINE_GRACE_MS = 3000;
const AUTH_CODES = new Set(["token_expired", "invalid_token", "token_revoked", "unauthorized", "forbidden"]);
// The daily fresh start happens at 04:MM, MM drawn once per page (0–44), so the screens of
// many clinics do not all reconnect in the same second.
const RELOAD_MINUTE = Math.floor(Math.random() * 45);
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const CHOSEN = params.getAll("counter").flatMap((c) => c.split(",")).map((c) => c.trim())
  .filter((c) => /^[0-9A-Za-z]{1,8}$/.test(c));
const ROOM = (params.get("room") || "").trim() || null;
const LANG_PARAM = /\b(ja|en)\b/i.test(params.get("lang") || "") ? params.get("lang") : null;
const RECORD_REFRESH_MS = 10 * 60 * 1000; // names, labels and the language change rarely

const state = {
  client: null,
  record: null, // GET /v1/facilities/{facility}
  views: new Map(), // info -> latest public view
  seen: new Map(), // info -> {epoch, day, keys, first}
  online: null,
  startedAt: Date.now(),
  autoplay: false, // sound started without a user gesture: a reload keeps it
  langs: languagesOf(LANG_PARAM), // the screen's languages (display and voice)
};
const ctx = () => ({ langs: state.langs, record: state.record, room: ROOM });
const lang = () => state.langs[0];
const chime = new Chime();
const announcer = new Announcer();
const queue = []; // announcements waiting their turn (never cut one off)
let speaking = false;

// ---- token: URL fragment (#token=…) or a one-time pairing code ----------------------------

function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

function usable(token) {
  const c = token && claims(token);
  if (!c || !(c.exp * 1000 > Date.now())) return false;
  return c.role === "operator" || (["monitor", "staff"].includes(c.role) && c.fac === facility);
}

function takeTokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (!token) return;
  localStorage.setItem(TOKEN_KEY, token);
  history.replaceState(null, "", location.pathname + location.search); // out of the URL bar
}

function showPairing(reason = "") {
  $("board").hidden = true;
  $("message-bar").hidden = true;
  $("pairing").hidden = false;
  $("pairing-error").textContent = reason;
  $("pairing-code").focus();
}

const PAIRING_ERRORS = new Set(["invalid_code", "unknown_pairing_code", "rate_limited"]);

async function claimCode(event) {
  event.preventDefault();
  const code = $("pairing-code").value.replace(/[\s-]/g, "");
  const button = event.submitter || $("pairing-form").querySelector("button");
  if (!/^[0-9]{8}$/.test(code)) {
    $("pairing-error").textContent = tr(lang(), "m.invalid_code");
    return;
  }
  button.disabled = true;
  try {
    const r = await fetch(`/v1/facilities/${encodeURIComponent(facility)}/monitor-pairings/${code}/claim`, {
      method: "POST",
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      const c = body.error?.code;
      $("pairing-error").textContent = PAIRING_ERRORS.has(c) ? tr(lang(), `m.${c}`)
        : body.error?.message || tr(lang(), "m.error", { status: r.status });
      return;
    }
    if (body.facility !== facility) {
      $("pairing-error").textContent = tr(lang(), "m.other_facility", { facility: body.facility });
      return;
    }
    localStorage.setItem(TOKEN_KEY, body.token);
    $("pairing-code").value = "";
    start(body.token);
  } catch {
    $("pairing-error").textContent = tr(lang(), "m.network");
  } finally {
    button.disabled = false;
  }
}

function unpair(reason) {
  localStorage.removeItem(TOKEN_KEY);
  state.client?.close();
  state.client = null;
  showPairing(reason);
}

// ---- connection --------------------------------------------------------------------------

async function start(token) {
  $("pairing").hidden = true;
  $("board").hidden = false;
  const client = (state.client = new JunbanClient({ base: location.origin, token }));
  client.onStatus((s) => setOnline(s.online));
  client.onError((e) => {
    // the connection closed for the token (4401: expired, revoked, invalid)
    if (e.ch === null && AUTH_CODES.has(e.code)) {
      unpair(tr(lang(), "m.expired"));
    }
  });
  setTimeout(() => state.online === null && setOnline(false), OFFLINE_GRACE_MS);
  client.subscribe(`facility:${facility}`, (view) => onView(view));
  await loadFacility();
}

async function loadFacility(attempt = 0) {
  try {
    const r = await fetch(`/v1/facilities/${encodeURIComponent(facility)}`, { cache: "no-store" });
    if (r.status === 404 || r.status === 400) {
      $("clinic-name").textContent = tr(lang(), "m.not_found", { facility });
      return;
    }
    if (!r.ok) throw new Error(String(r.status));
    state.record = await r.json();
    state.langs = languagesOf(LANG_PARAM ?? state.record.lang);
    applyLanguage();
    renderHeader();
    for (const view of state.record.queues || []) {
      if (!state.views.has(view.info)) state.views.set(view.info, view);
    }
    renderCounters();
  } catch {
    const delay = Math.min(30000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2);
    setTimeout(() => loadFacility(attempt + 1), delay);
  }
}

function setOnline(online) {
  const wasOffline = state.online === false;
  state.online = online;
  $("offline").hidden = online;
  $("board").classList.toggle("is-stale", !online);
  $("board").setAttribute("aria-busy", String(!online));
  if (online && wasOffline) loadFacility(); // names, labels and the message may have changed
}

// ---- rendering ---------------------------------------------------------------------------

/** The fixed words of the page in the screen's first language (html lang follows). */
function applyLanguage() {
  document.documentElement.lang = lang();
  for (const node of document.querySelectorAll("[data-k]")) node.textContent = tr(lang(), node.dataset.k);
  for (const node of document.querySelectorAll("[data-k-aria]")) {
    node.setAttribute("aria-label", tr(lang(), node.dataset.kAria));
  }
  renderSpeechToggle();
  tick();
}

function renderHeader() {
  const name = state.record?.name || tr(lang(), "m.facility", { facility });
  $("clinic-name").textContent = name;
  document.title = `${name} — ${tr(lang(), "m.title")}`;
  fitText($("clinic-name"), window.innerHeight * 0.04, 12);
}

/** The counters on this screen: the facility's (or the URL's choice), sorted. */
function shownInfos() {
  const infos = new Set([...(state.record?.counters || []).map((c) => `${facility}-${c.counter}`),
    ...state.views.keys()]);
  const all = [...infos].sort();
  if (!CHOSEN.length) return all;
  return CHOSEN.map((c) => `${facility}-${c}`).filter((info) => infos.has(info) || !state.record);
}

function renderCounters() {
  const infos = shownInfos();
  const withProgramme = programmeShown(infos.length, ROOM !== null);
  const { cols, rows } = gridFor(infos.length, withProgramme);
  const box = $("counters");
  box.dataset.count = String(infos.length);
  box.style.setProperty("--cols", String(cols));
  box.style.setProperty("--rows", String(rows));
  $("board").dataset.programme = withProgramme ? "side" : "strip";
  if (ROOM) $("board").dataset.room = ROOM;
  for (const card of [...box.children]) {
    if (infos.includes(card.dataset.info)) continue;
    resized.unobserve(card);
    card.remove();
  }
  for (const info of infos) {
    if (box.querySelector(`[data-info="${CSS.escape(info)}"]`)) continue;
    const card = buildCard(info);
    box.append(card);
    resized.observe(card);
  }
  for (const info of infos) box.append(box.querySelector(`[data-info="${CSS.escape(info)}"]`)); // sorted
  renderMessage();
  for (const info of infos) renderCounter(info);
}

function renderCounter(info) {
  const card = document.querySelector(`.mon-counter[data-info="${CSS.escape(info)}"]`);
  if (!card) return;
  fillCard(ctx(), card, state.views.get(info), itemsFor(card.clientWidth));
  fitCard(card);
}

const widths = new WeakMap();
const resized = new ResizeObserver((entries) => {
  for (const { target, contentRect } of entries) {
    const size = `${Math.round(contentRect.width)}x${Math.round(contentRect.height)}`;
    const was = widths.get(target);
    widths.set(target, size);
    if (was === undefined || was === size) continue;
    if (target.id === "clinic-name") {
      if (was.split("x")[0] !== size.split("x")[0]) renderHeader(); // its height follows its font
    } else if (target.isConnected) renderCounter(target.dataset.info);
  }
});

function fitAll() {
  renderHeader();
  for (const card of document.querySelectorAll(".mon-counter")) renderCounter(card.dataset.info);
}

function renderMessage() {
  let latest = null;
  for (const view of state.views.values()) {
    if (!latest || (view.updated_at || "") > (latest.updated_at || "")) latest = view;
  }
  const text = (latest?.message ?? state.record?.message ?? "").trim();
  $("message").textContent = text;
  $("message-bar").hidden = !text || !$("pairing").hidden;
  // the operator's notices (same on every counter) and a neutral notice when suspended
  renderNotices($("op-notices"), latest?.notices ?? state.record?.notices, latest?.tz ?? state.record?.tz);
  const views = [...state.views.values()];
  $("suspended").hidden = !(views.length > 0 && views.every((v) => v.suspended));
  // without the programme region, the notices take a strip under the counters when any
  const strip = $("board").dataset.programme === "strip";
  const programme = $("programme");
  programme.hidden = strip && $("suspended").hidden && $("op-notices").hidden;
}

const profiles = new Map(); // info -> the last `profile` (name, label, lang) its view carried

function onView(view) {
  if (!view?.info) return;
  const profile = JSON.stringify(view.profile ?? null);
  const seenProfile = profiles.get(view.info);
  profiles.set(view.info, profile);
  if (seenProfile !== undefined && seenProfile !== profile) loadFacility(); // settings saved
  const known = state.views.has(view.info);
  state.views.set(view.info, view);
  const fresh = newCalls(view);
  if (!known) renderCounters(); // a counter this screen did not know yet
  renderMessage();
  renderCounter(view.info);
  if (!shownInfos().includes(view.info)) return; // another counter's screen announces it
  for (const call of fresh) enqueue(call, view.info);
}

// ---- announcing new calls ----------------------------------------------------------------

/** The calls in `view` this screen has not announced yet (oldest first). A recall bumps the
 * call's `recalls` (and moves it to the front of `calling`): announce it again. */
function newCalls(view) {
  const calling = callsOf(ctx(), view);
  const keys = calling.map((c) => `${c.number}@${c.room}#${c.recalls ?? 0}`);
  const prev = state.seen.get(view.info);
  state.seen.set(view.info, { epoch: view.epoch, day: view.day, keys: new Set(keys), first: keys[0] });
  if (!prev || prev.epoch !== view.epoch || prev.day !== view.day) return []; // first sight
  const fresh = calling.filter((c, i) => !prev.keys.has(keys[i]));
  const sameSet = fresh.length === 0 && keys.length === prev.keys.size;
  if (sameSet && keys[0] && keys[0] !== prev.first) fresh.push(calling[0]);
  return fresh.slice(0, 3).reverse();
}

function enqueue(call, info) {
  queue.push({ call, info });
  if (!speaking) drain();
}

async function drain() {
  speaking = true;
  try {
    while (queue.length) {
      const { call, info } = queue.shift();
      const counter = info.split("-")[1];
      const said = state.langs.map((l) => [callSentence(call.number, roomName(ctx(), counter, call.room, l), l), l]);
      try {
        for (const [text] of said) logAnnouncement(text);
        flash(call, info);
        await chime.play();
        if (speechOn()) for (const [text, l] of said) await announcer.say(text, l);
      } catch (err) {
        setTimeout(() => { throw err; }, 0); // reported; the next call is still announced
      }
    }
  } finally {
    speaking = false; // never stuck: that would also block the daily reload
  }
}

function logAnnouncement(text) {
  const log = $("announcements");
  log.append(el("p", "", text));
  while (log.childElementCount > 20) log.firstElementChild.remove();
}

function flash(call, info) {
  const card = document.querySelector(`.mon-counter[data-info="${CSS.escape(info)}"]`);
  const n = card?.querySelector(".mon-now-number");
  if (!n || n.textContent !== String(call.number)) return; // that counter's number only
  card.classList.remove("is-new");
  void card.offsetWidth; // restart the animation
  card.classList.add("is-new");
}

// ---- sound settings ----------------------------------------------------------------------

function speechOn() {
  return localStorage.getItem(SPEECH_KEY) === "on";
}

function renderSpeechToggle() {
  const on = speechOn();
  const button = $("speech-toggle");
  button.setAttribute("aria-pressed", String(on));
  button.querySelector(".mon-toggle-state").textContent = tr(lang(), on ? "m.on" : "m.off");
  button.hidden = !announcer.available;
}

async function unlockSound() {
  const ok = await chime.unlock();
  $("sound-hint").hidden = ok;
}

function setupSound() {
  renderSpeechToggle();
  $("speech-toggle").addEventListener("click", () => {
    localStorage.setItem(SPEECH_KEY, speechOn() ? "off" : "on");
    renderSpeechToggle();
  });
  document.addEventListener("pointerdown", unlockSound);
  document.addEventListener("keydown", unlockSound);
  // autoplay may be allowed (kiosk browsers: --autoplay-policy=no-user-gesture-required);
  // otherwise the hint asks for one click
  const policy = navigator.getAutoplayPolicy?.("audiocontext");
  let gesture = false;
  document.addEventListener("pointerdown", () => { gesture = true; }, { once: true, capture: true });
  document.addEventListener("keydown", () => { gesture = true; }, { once: true, capture: true });
  setTimeout(() => {
    $("sound-hint").hidden = chime.ready;
    state.autoplay = policy ? policy === "allowed" : chime.ready && !gesture;
  }, 500);
}

// ---- clock and the daily fresh start -----------------------------------------------------

function tick() {
  const tz = state.record?.tz || "Asia/Tokyo";
  const now = new Date();
  $("clock").textContent = new Intl.DateTimeFormat(lang() === "en" ? "en-GB" : "ja-JP", {
    hour: "2-digit", minute: "2-digit", timeZone: tz,
  }).format(now);
  $("clock").dateTime = now.toISOString();
  const parts = new Intl.DateTimeFormat("en-GB", { hour: "numeric", minute: "numeric", hourCycle: "h23", timeZone: tz })
    .formatToParts(now);
  const part = (type) => Number(parts.find((p) => p.type === type)?.value);
  const hour = part("hour");
  const minute = part("minute");
  const upHours = (Date.now() - state.startedAt) / 3.6e6;
  // days of uptime: start clean, but never lose the sound: a browser that needs a click for
  // audio would come back silent, so reload only when audio is off anyway or autoplays
  const soundSafe = !chime.ready || state.autoplay;
  if (hour === 4 && minute >= RELOAD_MINUTE && upHours > 2 && state.online && !speaking && soundSafe) {
    location.reload();
  }
}

function main() {
  if (!/^[0-9]{1,8}$/.test(facility)) {
    $("clinic-name").textContent = tr(lang(), "m.bad_facility");
    return;
  }
  takeTokenFromFragment();
  applyLanguage();
  setupSound();
  // a box that changes size (window, message bar, sound hint, notices strip) is fitted again
  resized.observe($("clinic-name"));
  document.fonts?.ready.then(fitAll);
  setInterval(() => state.client && loadFacility(), RECORD_REFRESH_MS * (0.9 + Math.random() / 5));
  $("pairing-form").addEventListener("submit", claimCode);
  tick();
  setInterval(tick, 15000);
  const token = localStorage.getItem(TOKEN_KEY);
  if (usable(token)) start(token);
  else {
    if (token) localStorage.removeItem(TOKEN_KEY);
    showPairing(token ? tr(lang(), "m.expired") : "");
  }
}

main();
