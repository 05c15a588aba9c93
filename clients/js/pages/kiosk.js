// The reception kiosk /kiosk/{facility} (発券機): a touch screen that runs for days unattended.
// Paired once with a code from the console (like a monitor; no staff login): it keeps a
// `kiosk` token, which issues kiosk tickets at this facility and nothing else. One big button
// per counter; a tap takes a ticket, shows the number, the number of people ahead and the
// ticket's short QR link, prints the paper ticket (window.print(); Chrome started with
// --kiosk-printing prints without a dialog) and returns to the start screen.
// Live data: the `facility:{facility}` channel through the JS client (it reconnects and
// resumes by itself); the facility record is read again every few minutes.
// URL options: ?lang=ja|en (else the clinic's language), ?return=SECONDS (default 10).

import { JunbanClient } from "/static/junban.js";
import { addStrings, applyI18n, clock, currentLang, t } from "./i18n.js";

addStrings({
  ja: {
    "ks.title": "番号札をお取りください",
    "ks.lead": "受付する窓口を押してください。番号札が印刷されます。",
    "ks.offline": "接続が切れています。再接続中…",
    "ks.waiting": "待ち {n}人",
    "ks.closed": "受付時間外です",
    "ks.suspended": "ただいま休止中です",
    "ks.all_closed": "ただいま受付できる窓口はありません。受付にお声がけください。",
    "ks.your_number": "あなたの番号",
    "ks.ahead": "あなたの前に {n}人 お待ちです",
    "ks.ahead_none": "まもなくお呼びします",
    "ks.scan": "スマートフォンで読み取ると、順番が近づいたらお知らせします",
    "ks.take": "番号札をお取りください",
    "ks.done": "とじる",
    "ks.back": "もどる",
    "ks.busy": "発券しています…",
    "ks.err_closed": "この窓口は受付を終了しました。受付にお声がけください。",
    "ks.err_suspended": "ただいまサービスを休止しています。受付にお声がけください。",
    "ks.err_failed": "番号札を発行できませんでした。受付にお声がけください。",
    "ks.err_offline": "サーバーに接続できません。受付にお声がけください。",
    "ks.pair_title": "この発券機を接続します",
    "ks.pair_help": "スタッフ画面の「発券機を接続」で表示された 8 桁のコードを入力してください。",
    "ks.pair_code": "接続コード",
    "ks.pair_submit": "接続",
    "ks.pair_invalid": "8 桁の数字を入力してください。",
    "ks.pair_unknown": "コードが違うか、使用済みまたは期限切れです。スタッフ画面で新しいコードを発行してください。",
    "ks.pair_limited": "試行回数が多すぎます。1 分ほど待ってからもう一度お試しください。",
    "ks.pair_other": "このコードは施設 {facility} 用です。",
    "ks.pair_expired": "この発券機の接続の有効期限が切れました。もう一度接続してください。",
    "ks.bad_facility": "施設番号が正しくありません",
    "ks.no_facility": "施設 {facility} は見つかりません",
    "ks.slip_number": "受付番号",
    "ks.slip_issued": "{time} 発券",
    "ks.slip_ahead": "発券時の待ち人数：{n}人",
    "ks.slip_scan": "QRコードを読み取ると、順番をスマートフォンで確認できます",
  },
  en: {
    "ks.title": "Please take a number",
    "ks.lead": "Touch the desk you are here for. Your ticket will be printed.",
    "ks.offline": "Connection lost. Reconnecting…",
    "ks.waiting": "{n} waiting",
    "ks.closed": "Reception is closed",
    "ks.suspended": "Service suspended",
    "ks.all_closed": "No desk is taking patients right now. Please ask at reception.",
    "ks.your_number": "Your number",
    "ks.ahead": "{n} ahead of you",
    "ks.ahead_none": "You will be called shortly",
    "ks.scan": "Scan with your phone to be told when your turn is near",
    "ks.take": "Please take your ticket",
    "ks.done": "Done",
    "ks.back": "Back",
    "ks.busy": "Issuing your ticket…",
    "ks.err_closed": "This desk has stopped taking patients. Please ask at reception.",
    "ks.err_suspended": "The service is suspended. Please ask at reception.",
    "ks.err_failed": "Your ticket could not be issued. Please ask at reception.",
    "ks.err_offline": "Cannot reach the server. Please ask at reception.",
    "ks.pair_title": "Pair this kiosk",
    "ks.pair_help": "Enter the 8-digit code shown by “Pair a kiosk” in the staff console.",
    "ks.pair_code": "Pairing code",
    "ks.pair_submit": "Pair",
    "ks.pair_invalid": "Enter the 8 digits.",
    "ks.pair_unknown": "Wrong, used or expired code. Make a new one in the staff console.",
    "ks.pair_limited": "Too many tries. Wait a minute and try again.",
    "ks.pair_other": "This code is for facility {facility}.",
    "ks.pair_expired": "This kiosk's pairing has expired. Please pair it again.",
    "ks.bad_facility": "Malformed facility number",
    "ks.no_facility": "Facility {facility} not found",
    "ks.slip_number": "Your number",
    "ks.slip_issued": "Issued {time}",
    "ks.slip_ahead": "Waiting ahead when issued: {n}",
    "ks.slip_scan": "Scan to follow your turn on your phone",
  },
});

const $ = (id) => document.getElementById(id);
const facility = document.body.dataset.facility || "";
const TOKEN_KEY = `junban.kiosk.token.${facility}`;
const AUTH_CODES = new Set(["token_expired", "invalid_token", "token_revoked", "unauthorized"]);
const params = new URLSearchParams(location.search);
const RETURN_MS = Math.max(2, Math.min(120, Number(params.get("return")) || 10)) * 1000;
const RECORD_EVERY_MS = 5 * 60 * 1000;
const RELOAD_MINUTE = Math.floor(Math.random() * 45); // the daily fresh start, 04:MM

const state = {
  token: null,
  client: null,
  record: null,
  views: new Map(), // info -> public view
  online: null,
  busy: false,
  backTimer: null,
  screen: "start",
  defaultLang: null,
  startedAt: Date.now(),
};

// ---- language: ?lang=, else the clinic's, else the page's; a patient's switch lasts one visit

function setPageLang(lang) {
  document.documentElement.lang = lang;
  applyI18n();
  $("lang").textContent = lang === "ja" ? "English" : "日本語";
  $("lang").setAttribute("lang", lang === "ja" ? "en" : "ja");
  renderHeader();
  renderCounters();
}

function clinicLang(record) {
  if (["ja", "en"].includes(params.get("lang"))) return params.get("lang");
  if (record?.lang === "en") return "en";
  if (record?.lang === "ja" || record?.lang === "ja+en") return "ja";
  return currentLang();
}

// ---- pairing ----------------------------------------------------------------------------

function claims(token) {
  try {
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return null;
  }
}

function usable(token) {
  const c = token && claims(token);
  return Boolean(c && c.exp * 1000 > Date.now() && c.role === "kiosk" && c.fac === facility);
}

function show(screen) {
  state.screen = screen;
  for (const id of ["start", "issued", "failed", "pairing"]) $(id).hidden = id !== screen;
  document.body.dataset.screen = screen;
}

function showPairing(reasonKey = "") {
  state.client?.close();
  state.client = null;
  show("pairing");
  $("pairing-error").textContent = reasonKey ? t(reasonKey) : "";
  $("pairing-code").focus();
}

function unpair(reasonKey) {
  localStorage.removeItem(TOKEN_KEY);
  state.token = null;
  showPairing(reasonKey);
}

const PAIRING_ERRORS = {
  invalid_code: "ks.pair_invalid",
  unknown_pairing_code: "ks.pair_unknown",
  rate_limited: "ks.pair_limited",
};

async function claimCode(event) {
  event.preventDefault();
  const code = $("pairing-code").value.replace(/[\s-]/g, "");
  if (!/^[0-9]{8}$/.test(code)) {
    $("pairing-error").textContent = t("ks.pair_invalid");
    return;
  }
  const button = $("pairing-form").querySelector("button");
  button.disabled = true;
  try {
    const url = `/v1/facilities/${encodeURIComponent(facility)}/kiosk-pairings/${code}/claim`;
    const r = await fetch(url, { method: "POST" });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      const key = PAIRING_ERRORS[body.error?.code];
      $("pairing-error").textContent = key ? t(key) : body.error?.message || `${r.status}`;
      return;
    }
    if (body.facility !== facility) {
      $("pairing-error").textContent = t("ks.pair_other", { facility: body.facility });
      return;
    }
    localStorage.setItem(TOKEN_KEY, body.token);
    $("pairing-code").value = "";
    start(body.token);
  } catch {
    $("pairing-error").textContent = t("ks.err_offline");
  } finally {
    button.disabled = false;
  }
}

// ---- live data ----------------------------------------------------------------------------

function start(token) {
  state.token = token;
  const client = (state.client = new JunbanClient({ base: location.origin, token, hiddenGrace: Infinity }));
  client.onStatus((s) => setOnline(s.online));
  client.onError((e) => {
    if (e.ch === null && AUTH_CODES.has(e.code)) unpair("ks.pair_expired");
  });
  client.subscribe(`facility:${facility}`, (view) => {
    state.views.set(view.info, view);
    renderCounters();
  });
  backToStart();
  loadRecord();
}

async function loadRecord() {
  try {
    const r = await fetch(`/v1/facilities/${encodeURIComponent(facility)}`, { cache: "no-store" });
    if (r.status === 404) {
      $("clinic-name").textContent = t("ks.no_facility", { facility });
      return;
    }
    if (!r.ok) throw new Error(String(r.status));
    const first = state.record === null;
    state.record = await r.json();
    for (const view of state.record.queues || []) {
      const known = state.views.get(view.info);
      if (!known || known.epoch !== view.epoch || view.v > known.v) state.views.set(view.info, view);
    }
    if (first) {
      state.defaultLang = clinicLang(state.record);
      setPageLang(state.defaultLang);
    }
    renderHeader();
    renderCounters();
    tick(); // the clock in the clinic's time zone at once
  } catch {
    setTimeout(loadRecord, 5000 + Math.random() * 5000);
  }
}

function setOnline(online) {
  state.online = online;
  $("offline").hidden = online !== false;
  renderCounters();
}

// ---- rendering -----------------------------------------------------------------------------

function renderHeader() {
  if (state.record) $("clinic-name").textContent = state.record.name;
}

function counterState(counter) {
  const view = state.views.get(`${facility}-${counter.counter}`);
  if (state.record?.suspended || view?.suspended) return { ok: false, reason: t("ks.suspended") };
  if (!view || !view.open) return { ok: false, reason: t("ks.closed") };
  return { ok: true, reason: t("ks.waiting", { n: view.waiting_count ?? view.waiting.length }) };
}

/** One button per counter, made once and updated in place: a live update never swaps the
 * button under a finger that is pressing it. */
function counterButton(counter) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "ks-counter";
  button.dataset.counter = counter.counter;
  const label = document.createElement("span");
  label.className = "ks-counter-label";
  const info = document.createElement("span");
  button.append(label, info);
  button.addEventListener("click", () => {
    const current = (state.record?.counters || []).find((c) => c.counter === counter.counter);
    if (current) take(current);
  });
  return button;
}

function renderCounters() {
  const box = $("counters");
  if (!state.record) return;
  const counters = state.record.counters || [];
  const wanted = counters.map((c) => c.counter).join(",");
  if (box.dataset.counters !== wanted) {
    box.dataset.counters = wanted;
    box.dataset.count = String(counters.length);
    box.replaceChildren(...counters.map(counterButton));
  }
  counters.forEach((counter, i) => {
    const { ok, reason } = counterState(counter);
    const button = box.children[i];
    button.disabled = !ok || state.busy;
    button.setAttribute("aria-disabled", String(!ok));
    const [label, info] = button.children;
    label.textContent = counter.label;
    info.className = ok ? "ks-counter-info" : "ks-counter-info ks-counter-reason";
    info.textContent = reason;
  });
  const anyOpen = counters.some((c) => counterState(c).ok);
  $("notice").hidden = anyOpen;
  $("notice").textContent = anyOpen ? "" : t("ks.all_closed");
}

function tick() {
  const now = new Date();
  const tz = state.record?.tz;
  $("clock").textContent = clock(now.toISOString(), tz);
  $("clock").dateTime = now.toISOString();
  // a fresh start once a day, early in the morning, never in the middle of a patient's visit
  const upHours = (Date.now() - state.startedAt) / 3600000;
  if (now.getHours() === 4 && now.getMinutes() >= RELOAD_MINUTE && upHours > 2 && state.screen !== "issued") {
    location.reload();
  }
}

// ---- taking a ticket ------------------------------------------------------------------------

function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function post(path, key) {
  return fetch(path, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${state.token}`,
      "Content-Type": "application/json",
      "Idempotency-Key": key,
    },
    body: JSON.stringify({ channel: "kiosk" }),
  });
}

const TICKET_ERRORS = {
  reception_closed: "ks.err_closed",
  facility_suspended: "ks.err_suspended",
};

async function take(counter) {
  if (state.busy || !state.token) return;
  state.busy = true;
  renderCounters();
  const info = `${facility}-${counter.counter}`;
  const key = idempotencyKey();
  try {
    let r;
    try {
      r = await post(`/v1/queues/${info}/tickets`, key);
    } catch {
      r = await post(`/v1/queues/${info}/tickets`, key); // once more: the same key, one ticket
    }
    const body = await r.json().catch(() => ({}));
    if (r.status === 401) return unpair("ks.pair_expired");
    if (!r.ok) return fail(TICKET_ERRORS[body.error?.code] || "ks.err_failed");
    const linkPath = `/v1/queues/${info}/tickets/${encodeURIComponent(body.ticket.id)}/link`;
    const link = await fetch(linkPath, { headers: { Authorization: `Bearer ${body.token}` } })
      .then((resp) => (resp.ok ? resp.json() : null))
      .catch(() => null);
    await showIssued(counter, body, link);
  } catch {
    fail("ks.err_offline");
  } finally {
    state.busy = false;
    renderCounters();
  }
}

/** The hub's QR code SVG (segno) as DOM nodes in `box` (parsed as XML: nothing runs). */
function putQr(box, svg, url) {
  const parsed = svg ? new DOMParser().parseFromString(svg, "image/svg+xml").documentElement : null;
  const ok = parsed && parsed.nodeName === "svg";
  box.replaceChildren(...(ok ? [document.importNode(parsed, true)] : []));
  box.hidden = !ok;
  box.dataset.url = ok ? url : "";
  box.setAttribute("aria-label", ok ? url : "");
}

async function showIssued(counter, taken, link) {
  const tk = taken.ticket;
  const tz = state.record?.tz;
  $("issued-counter").textContent = counter.label;
  $("issued-number").textContent = String(tk.number);
  $("issued-ahead").textContent = taken.ahead > 0 ? t("ks.ahead", { n: taken.ahead }) : t("ks.ahead_none");
  $("slip-clinic").textContent = state.record?.name || "";
  $("slip-counter").textContent = counter.label;
  $("slip-number").textContent = String(tk.number);
  $("slip-time").textContent = t("ks.slip_issued", { time: `${dateText(tk.issued_at, tz)} ${clock(tk.issued_at, tz)}` });
  $("slip-ahead").textContent = t("ks.slip_ahead", { n: taken.ahead });
  for (const box of [$("issued-qr"), $("slip-qr")]) putQr(box, link?.qr_svg, link?.short_url);
  $("slip-url").textContent = link ? link.short_url.replace(/^https?:\/\//, "") : "";
  document.body.dataset.ticket = String(tk.number);
  show("issued");
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));
  window.print();
  clearTimeout(state.backTimer);
  state.backTimer = setTimeout(backToStart, RETURN_MS);
}

function dateText(iso, tz) {
  try {
    return new Intl.DateTimeFormat(currentLang() === "en" ? "en-GB" : "ja-JP", {
      month: "2-digit", day: "2-digit", timeZone: tz || undefined,
    }).format(new Date(iso));
  } catch {
    return "";
  }
}

function fail(key) {
  $("failed-text").textContent = t(key);
  show("failed");
  clearTimeout(state.backTimer);
  state.backTimer = setTimeout(backToStart, RETURN_MS);
}

function backToStart() {
  clearTimeout(state.backTimer);
  if (!state.token) return;
  show("start");
  if (state.defaultLang && currentLang() !== state.defaultLang) setPageLang(state.defaultLang);
  renderCounters();
}

// ---- start ---------------------------------------------------------------------------------

function main() {
  applyI18n();
  $("lang").addEventListener("click", () => setPageLang(currentLang() === "ja" ? "en" : "ja"));
  setPageLang(currentLang());
  if (!/^[0-9]{1,8}$/.test(facility)) {
    $("clinic-name").textContent = t("ks.bad_facility");
    return;
  }
  $("pairing-form").addEventListener("submit", claimCode);
  $("done").addEventListener("click", backToStart);
  $("failed-back").addEventListener("click", backToStart);
  document.addEventListener("contextmenu", (e) => e.preventDefault()); // no long-press menu
  tick();
  setInterval(tick, 15000);
  setInterval(() => state.token && loadRecord(), RECORD_EVERY_MS);
  const token = localStorage.getItem(TOKEN_KEY);
  if (usable(token)) start(token);
  else {
    if (token) localStorage.removeItem(TOKEN_KEY);
    showPairing(token ? "ks.pair_expired" : "");
    loadRecord();
  }
}

main();
