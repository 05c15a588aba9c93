// 「呼び出しを通知で受け取る」 on the ticket page: Web Push through the service worker /q-sw.js
// (scope /q/), with the threshold (notify when 1–10 are ahead, 3 by default), posted to
// POST /v1/queues/{info}/tickets/{id}/notifications. Where push cannot work (iPhone Safari
// outside a Home-Screen app, no Push API, Web Push off on this hub, permission refused, a
// subscribe that fails) the panel says why and offers e-mail, and LINE when the hub has it.
// A subscription may change under the page (the browser renews it; only Firefox tells the
// worker), so every visit re-checks it and posts the new one (recheckNotify).

import { addStrings, t } from "./i18n.js";
import { NOTIFY_STRINGS } from "./patient.strings.js";

addStrings(NOTIFY_STRINGS);

const $ = (id) => document.getElementById(id);
const SW_URL = "/q-sw.js";
const SCOPE = "/q/";
const THRESHOLDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const DEFAULT_THRESHOLD = 3;
const CARRIERS = /(^|\.)(docomo\.ne\.jp|ezweb\.ne\.jp|au\.com|uqmobile\.jp|softbank\.ne\.jp|ymobile\.ne\.jp|rakumail\.jp|icloud\.com|me\.com|mac\.com)$/i;

const ctx = { info: null, ticketId: null, token: () => null, open: false, line: false };

function savedKey() {
  return `junban.notify.${ctx.info}.${ctx.ticketId}`;
}

function saved() {
  try {
    return JSON.parse(localStorage.getItem(savedKey()) || "null");
  } catch {
    return null;
  }
}

function save(record) {
  try {
    localStorage.setItem(savedKey(), JSON.stringify({ ...(saved() || {}), ...record }));
  } catch {
    /* storage off: the next visit simply offers the button again */
  }
}

/** iPhone/iPad Safari outside a Home-Screen app: no Web Push there (iOS 16.4+ needs one). */
export function iosOutsideHomeScreen() {
  const ua = navigator.userAgent || "";
  const ios = /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
  const standalone = navigator.standalone === true || matchMedia?.("(display-mode: standalone)").matches;
  return ios && !standalone;
}

function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

function b64urlToBytes(text) {
  const base64 = (text + "=".repeat((4 - (text.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

async function request(method, path, payload) {
  const headers = { Accept: "application/json" };
  const token = ctx.token();
  if (token) headers.Authorization = `Bearer ${token}`;
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
    /* empty */
  }
  return { status: response.status, data };
}

function subscribePath() {
  return `/v1/queues/${ctx.info}/tickets/${encodeURIComponent(ctx.ticketId)}/notifications`;
}

function threshold() {
  const n = Number($("notify-threshold").value);
  return THRESHOLDS.includes(n) ? n : DEFAULT_THRESHOLD;
}

function lang() {
  return document.documentElement.lang === "en" ? "en" : "ja";
}

function setStatus(text) {
  const node = $("notify-status");
  if (node.textContent !== text) node.textContent = text;
}

/** Why push is not offered (a strings key), and the other ways. */
function showFallback(why) {
  const box = $("notify-why");
  box.dataset.why = why;
  box.textContent = t(why);
  box.hidden = false;
  $("notify-push").hidden = true;
  $("notify-other").hidden = false;
  $("notify-line").hidden = !ctx.line;
  document.body.dataset.notify = "fallback";
}

function fillThresholds() {
  const select = $("notify-threshold");
  const current = Number(select.value) || saved()?.threshold || DEFAULT_THRESHOLD;
  select.replaceChildren(
    ...THRESHOLDS.map((n) => {
      const option = document.createElement("option");
      option.value = String(n);
      option.textContent = t("n.threshold_n", { n });
      option.selected = n === current;
      return option;
    }),
  );
}

function errorText(answer) {
  const code = answer.data?.error?.code || `http_${answer.status}`;
  if (code === "channel_unavailable" || code === "push_disabled") return t("n.unavailable");
  return t("n.error", { code });
}

// ---- Web Push -----------------------------------------------------------------------------
async function pushKey() {
  const answer = await request("GET", "/v1/push/key");
  return answer.status === 200 && typeof answer.data?.key === "string" ? answer.data.key : null;
}

async function registration() {
  const reg = await navigator.serviceWorker.register(SW_URL, { scope: SCOPE });
  if (reg.active) return reg;
  const worker = reg.installing || reg.waiting;
  await new Promise((resolve) => {
    if (!worker) return resolve();
    worker.addEventListener("statechange", () => worker.state === "activated" && resolve());
    setTimeout(resolve, 5000);
  });
  return reg;
}

async function browserSubscription(key) {
  const reg = await registration();
  const existing = await reg.pushManager.getSubscription();
  if (existing) return existing;
  return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlToBytes(key) });
}

async function postPush(subscription, n) {
  const json = subscription.toJSON();
  const body = { channel: "webpush", subscription: { endpoint: json.endpoint, keys: json.keys }, threshold: n, lang: lang() };
  return request("POST", subscribePath(), body);
}

async function subscribePush() {
  const button = $("notify-push");
  button.disabled = true;
  setStatus(t("n.push_busy"));
  try {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") return showFallback("n.denied");
    const key = await pushKey();
    if (!key) return showFallback("n.push_off");
    let subscription;
    try {
      subscription = await browserSubscription(key);
    } catch {
      return showFallback("n.failed"); // e.g. AbortError: Registration failed (no push service)
    }
    const n = threshold();
    const answer = await postPush(subscription, n);
    if (answer.status !== 201) return setStatus(errorText(answer));
    save({ channel: "webpush", endpoint: subscription.endpoint, threshold: n });
    done(answer.data?.near_done ? t("n.near_done") : t("n.push_done", { n }));
  } catch {
    setStatus(t("n.network"));
  } finally {
    button.disabled = false;
    if (document.body.dataset.notify === "fallback") setStatus("");
  }
}

function done(text) {
  $("notify-push").hidden = true;
  $("notify-other").hidden = true;
  $("notify-why").hidden = true;
  $("notify-threshold").disabled = true;
  document.body.dataset.notify = "on";
  setStatus(text);
}

// ---- e-mail and LINE ---------------------------------------------------------------------------
async function subscribeEmail(event) {
  event.preventDefault();
  const input = $("notify-email");
  const email = input.value.trim();
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    setStatus(t("n.email_bad"));
    input.focus();
    return;
  }
  const button = $("notify-email-btn");
  button.disabled = true;
  try {
    const answer = await request("POST", subscribePath(), { channel: "email", email, threshold: threshold(), lang: lang() });
    if (answer.status !== 201) return setStatus(answer.data?.error?.code === "invalid_email" ? t("n.email_bad") : errorText(answer));
    save({ channel: "email", threshold: threshold() });
    const domain = answer.data?.sender_domain;
    const lines = [t("n.email_done")];
    const carrier = answer.data?.carrier || CARRIERS.test(email.split("@")[1]);
    if (domain) lines.push(t(carrier ? "n.email_carrier" : "n.email_domain", { domain }));
    done(lines.join(" "));
  } catch {
    setStatus(t("n.network"));
  } finally {
    button.disabled = false;
  }
}

async function subscribeLine() {
  const button = $("notify-line");
  button.disabled = true;
  try {
    const answer = await request("POST", subscribePath(), { channel: "line", threshold: threshold(), lang: lang() });
    if (answer.status !== 201 || !answer.data?.url) return setStatus(errorText(answer));
    save({ channel: "line", threshold: threshold() });
    setStatus(t("n.line_open"));
    location.assign(answer.data.url); // line.me/R/oaMessage/…: the prefilled link message
  } catch {
    setStatus(t("n.network"));
  } finally {
    button.disabled = false;
  }
}

// ---- the panel ------------------------------------------------------------------------------
async function openPanel() {
  ctx.open = true;
  $("notify-panel").hidden = false;
  $("notify-btn").hidden = true;
  fillThresholds();
  if (iosOutsideHomeScreen()) return showFallback("n.iphone");
  if (!pushSupported()) return showFallback("n.unsupported");
  if (Notification.permission === "denied") return showFallback("n.denied");
  $("notify-push").hidden = false;
  document.body.dataset.notify = "offer";
}

/** Call once from the ticket page. `token()` gives the ticket's current token. */
export function setupNotify({ info, ticketId, token }) {
  Object.assign(ctx, { info, ticketId, token });
  $("notify-btn").addEventListener("click", openPanel);
  $("notify-push").addEventListener("click", subscribePush);
  $("notify-email-form").addEventListener("submit", subscribeEmail);
  $("notify-line").addEventListener("click", subscribeLine);
}

/** LINE is offered only when the hub has it (hook for the LINE channel: call with true). */
export function offerLine(available) {
  ctx.line = Boolean(available);
  if (!$("notify-other").hidden) $("notify-line").hidden = !ctx.line;
}

/** Show or hide the button and the panel for the ticket's state (waiting: offered). */
export function renderNotify(waiting) {
  const subscribed = Boolean(saved()?.channel);
  $("notify-btn").hidden = !waiting || subscribed || ctx.open;
  $("notify-panel").hidden = !waiting || !ctx.open;
  if (!ctx.open) return;
  fillThresholds(); // the language may have changed
  const why = $("notify-why");
  if (why.dataset.why) why.textContent = t(why.dataset.why);
}

/** On every visit: a push subscription the browser renewed (or dropped) is posted again. */
export async function recheckNotify() {
  const mine = saved();
  if (mine?.channel !== "webpush" || !pushSupported() || Notification.permission !== "granted") return;
  try {
    const reg = await navigator.serviceWorker.getRegistration(SCOPE);
    let subscription = reg ? await reg.pushManager.getSubscription() : null;
    if (subscription && subscription.endpoint === mine.endpoint) return;
    const key = await pushKey();
    if (!key) return;
    if (!subscription) subscription = await browserSubscription(key);
    const answer = await postPush(subscription, mine.threshold || DEFAULT_THRESHOLD);
    if (answer.status === 201) save({ endpoint: subscription.endpoint });
  } catch {
    /* offline or no push service: the next visit tries again */
  }
}
