// The waiting-room monitor /monitor/{facility}: a 1920×1080 TV that runs for days unattended.
// Live data: the `facility:{facility}` channel (one public view per counter) through the JS
// client, which reconnects and resumes by itself; this page only renders and announces.

import { JunbanClient } from "/static/junban.js";
import { Announcer, Chime, callSentence } from "./monitor.sound.js";
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

const state = {
  client: null,
  record: null, // GET /v1/facilities/{facility}
  views: new Map(), // info -> latest public view
  seen: new Map(), // info -> {epoch, day, keys, first}
  online: null,
  startedAt: Date.now(),
  autoplay: false, // sound started without a user gesture: a reload keeps it
};
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

const PAIRING_ERRORS = {
  invalid_code: "8 桁の数字を入力してください。",
  unknown_pairing_code: "コードが違うか、使用済みまたは期限切れです。スタッフ画面で新しいコードを発行してください。",
  rate_limited: "試行回数が多すぎます。1 分ほど待ってからもう一度お試しください。",
};

async function claimCode(event) {
  event.preventDefault();
  const code = $("pairing-code").value.replace(/[\s-]/g, "");
  const button = event.submitter || $("pairing-form").querySelector("button");
  if (!/^[0-9]{8}$/.test(code)) {
    $("pairing-error").textContent = PAIRING_ERRORS.invalid_code;
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
      $("pairing-error").textContent = PAIRING_ERRORS[c] || body.error?.message || `エラー ${r.status}`;
      return;
    }
    if (body.facility !== facility) {
      $("pairing-error").textContent = `このコードは施設 ${body.facility} 用です。`;
      return;
    }
    localStorage.setItem(TOKEN_KEY, body.token);
    $("pairing-code").value = "";
    start(body.token);
  } catch {
    $("pairing-error").textContent = "サーバーに接続できません。ネットワークを確認してください。";
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
      unpair("このモニターの接続の有効期限が切れました。もう一度接続してください。");
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
      $("clinic-name").textContent = `施設 ${facility} は見つかりません`;
      return;
    }
    if (!r.ok) throw new Error(String(r.status));
    state.record = await r.json();
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

function renderHeader() {
  const name = state.record?.name || `施設 ${facility}`;
  $("clinic-name").textContent = name;
  document.title = `${name} — 呼び出しモニター`;
}

function counterLabel(info) {
  const counter = info.split("-")[1];
  const found = state.record?.counters?.find((c) => c.counter === counter);
  return found?.label || `窓口 ${counter}`;
}

function roomText(room) {
  if (!room) return "";
  return /^[0-9]+$/.test(room) ? `${room}番診察室へ` : `${room}へ`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function counterCard(info) {
  let card = document.querySelector(`[data-info="${CSS.escape(info)}"]`);
  if (card) return card;
  card = el("article", "mon-counter");
  card.dataset.info = info;
  const id = `label-${info}`;
  card.setAttribute("aria-labelledby", id);
  const head = el("header", "mon-counter-head");
  const h = el("h2", "mon-counter-label");
  h.id = id;
  const waiting = el("p", "mon-waiting");
  waiting.setAttribute("aria-live", "polite");
  head.append(h, waiting);
  const now = el("div", "mon-now");
  now.append(el("span", "mon-now-caption", "お呼び出し中"), el("span", "mon-now-number jb-num"),
    el("span", "mon-now-room"));
  const recent = el("div", "mon-recent");
  recent.append(el("span", "mon-recent-caption", "呼び出し済み"), el("ol", "mon-recent-list"));
  card.append(head, now, recent, el("p", "mon-closed", "本日の受付は終了しました"));
  $("counters").append(card);
  return card;
}

function renderCounters() {
  const infos = new Set([...(state.record?.counters || []).map((c) => `${facility}-${c.counter}`),
    ...state.views.keys()]);
  const sorted = [...infos].sort();
  $("counters").dataset.count = String(sorted.length);
  for (const info of sorted) renderCounter(info);
  renderMessage();
}

function renderCounter(info) {
  const card = counterCard(info);
  const view = state.views.get(info);
  card.querySelector(".mon-counter-label").textContent = counterLabel(info);
  const calling = view?.calling || [];
  const [first, ...rest] = calling;
  const number = card.querySelector(".mon-now-number");
  number.textContent = first ? String(first.number) : "—";
  number.setAttribute("aria-label", first ? `${first.number}番` : "呼び出しなし");
  card.querySelector(".mon-now-room").textContent = first ? roomText(first.room) : "";
  card.classList.toggle("is-idle", !first);
  const list = card.querySelector(".mon-recent-list");
  list.replaceChildren(...rest.slice(0, 4).map((c) => {
    const li = el("li", "mon-recent-item");
    li.append(el("span", "jb-num", String(c.number)), el("small", "", /^[0-9]+$/.test(c.room || "") ? `${c.room}番` : c.room || ""));
    li.setAttribute("aria-label", `${c.number}番 ${roomText(c.room)}`);
    return li;
  }));
  card.querySelector(".mon-recent").hidden = rest.length === 0;
  const waiting = card.querySelector(".mon-waiting");
  const count = String(view?.waiting_count ?? 0);
  if (waiting.dataset.count !== count) { // aria-live: only a changed count is announced
    waiting.dataset.count = count;
    waiting.replaceChildren("お待ち ", el("b", "jb-num", count), " 人");
  }
  card.classList.toggle("is-closed", view ? !view.open : false);
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
}

function onView(view) {
  if (!view?.info) return;
  state.views.set(view.info, view);
  const fresh = newCalls(view);
  renderCounter(view.info);
  renderMessage();
  for (const call of fresh) enqueue(call, view.info);
}

// ---- announcing new calls ----------------------------------------------------------------

/** The calls in `view` this screen has not announced yet (oldest first). A recall bumps the
 * call's `recalls` (and moves it to the front of `calling`): announce it again. */
function newCalls(view) {
  const keys = (view.calling || []).map((c) => `${c.number}@${c.room}#${c.recalls ?? 0}`);
  const prev = state.seen.get(view.info);
  state.seen.set(view.info, { epoch: view.epoch, day: view.day, keys: new Set(keys), first: keys[0] });
  if (!prev || prev.epoch !== view.epoch || prev.day !== view.day) return []; // first sight
  const fresh = view.calling.filter((c, i) => !prev.keys.has(keys[i]));
  const sameSet = fresh.length === 0 && keys.length === prev.keys.size;
  if (sameSet && keys[0] && keys[0] !== prev.first) fresh.push(view.calling[0]);
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
      const text = callSentence(call.number, call.room);
      try {
        logAnnouncement(text);
        flash(call, info);
        await chime.play();
        if (speechOn()) await announcer.say(text);
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
  button.querySelector(".mon-toggle-state").textContent = on ? "オン" : "オフ";
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
  $("clock").textContent = new Intl.DateTimeFormat("ja-JP", {
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
    $("clinic-name").textContent = "施設番号が正しくありません";
    return;
  }
  takeTokenFromFragment();
  setupSound();
  $("pairing-form").addEventListener("submit", claimCode);
  tick();
  setInterval(tick, 15000);
  const token = localStorage.getItem(TOKEN_KEY);
  if (usable(token)) start(token);
  else {
    if (token) localStorage.removeItem(TOKEN_KEY);
    showPairing(token ? "このモニターの接続の有効期限が切れました。もう一度接続してください。" : "");
  }
}

main();
