// The staff console /console/{facility}: log in, then run each counter's queue. Every change
// arrives on the `staff:{info}` channels, so all consoles of the facility show it live.

import { JunbanClient, newer } from "/static/junban.js";
import { renderNotices } from "./notices.js";

const facility = document.body.dataset.facility.replace(/[^0-9]/g, "") ||
  location.pathname.split("/").filter(Boolean)[1];
const TOKEN_KEY = "junban.console.token";
const COUNTER_KEY = `junban.console.counter.${facility}`;
const roomKey = (info) => `junban.console.room.${info}`;
const PAPER_KEY = "junban.console.paper";
const $ = (id) => document.getElementById(id);
/** After an action's answer its button (and shortcut) stays blocked this long: a human
 * double-click (100–250 ms apart) or a key bounce is over by then. */
const COOLDOWN_MS = 700;
const AUTH_CODES = new Set(["token_expired", "invalid_token", "token_revoked", "unauthorized", "forbidden"]);
const EXPIRED = "ログインの有効期限が切れました。もう一度ログインしてください。";

const state = {
  token: null,
  client: null,
  record: null,
  infos: [],
  views: new Map(), // info -> staff view
  current: null,
  inflight: new Set(),
  answered: new Map(), // info -> the newest (epoch, v) an action's answer carried
  expiryTimer: null,
};

const CHANNELS = { web: "Web", desk: "窓口", phone: "電話", kiosk: "発券機" };
const ACTIONS = {
  call: { label: "呼出", verb: "を呼び出す" },
  recall: { label: "再呼出", verb: "を再呼出" },
  absent: { label: "不在", verb: "を不在にする" },
  requeue: { label: "列に戻す", verb: "を列に戻す" },
  complete: { label: "終了", verb: "を終了にする" },
  cancel: { label: "取消", verb: "を取り消す", danger: true },
};
const BY_STATUS = {
  waiting: ["call", "cancel"],
  called: ["recall", "absent", "complete", "requeue", "cancel"],
  absent: ["call", "requeue", "cancel"],
};
const ERRORS = {
  queue_empty: "お待ちの方はいません。",
  reception_closed: "受付が閉じています。",
  illegal_transition: "この番号には今その操作はできません（他の端末で操作済みかもしれません）。",
  rate_limited: "操作が多すぎます。少し待ってからお試しください。",
  network: "サーバーに接続できません。ネットワークを確認してください。",
};

// ---- HTTP --------------------------------------------------------------------------------

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // works on plain-http LANs too
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    Object.assign(this, { status, code });
  }
}

/** One API call. A mutating call carries `key` as its Idempotency-Key and is retried once
 * with the same key after a network failure, so it can never happen twice. */
async function api(method, path, body, key) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key) headers["Idempotency-Key"] = key;
  const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
  let response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(path, init);
      if (response.status === 503 && key && attempt === 0) continue;
      break;
    } catch {
      if (!key || attempt > 0) throw new ApiError(0, "network", ERRORS.network);
    }
  }
  const data = await response.json().catch(() => ({}));
  if (response.ok) return data;
  const code = data.error?.code || "http_error";
  if (response.status === 401) logout(EXPIRED);
  throw new ApiError(response.status, code, ERRORS[code] || data.error?.message || `HTTP ${response.status}`);
}

function showError(err) {
  const box = $("error");
  if (!err) {
    box.hidden = true;
    return;
  }
  box.textContent = err.code && err.code !== "network" ? `${err.message} (${err.code})` : err.message;
  box.hidden = false;
}

/** Run one staff action once: its button and shortcut are blocked while it is in flight
 * and for COOLDOWN_MS after. `key` is its Idempotency-Key: for the actions that depend on
 * what the staff saw it is derived from that view (see viewKey), so a repeat of the same
 * press replays the first answer instead of acting twice. */
async function act(name, fn, key = newKey()) {
  if (state.inflight.has(name)) return;
  state.inflight.add(name);
  render();
  const session = state.token;
  try {
    await fn(key);
    showError(null);
  } catch (err) {
    if (state.token === session) showError(err);
  } finally {
    setTimeout(() => {
      state.inflight.delete(name);
      render();
    }, COOLDOWN_MS);
  }
}

/** An Idempotency-Key naming the action and the queue state (epoch, v) it was pressed on. */
function viewKey(action, info) {
  const view = state.views.get(info);
  const answered = state.answered.get(info);
  // an answer newer than the live view (the live channel lags or is down) counts as seen
  const seen = answered && (!view || newer(answered, view)) ? answered : view;
  return seen ? `${action}:${info}:${seen.epoch}:${seen.v}` : newKey();
}

/** Note the queue version an action's answer carries (`queue` or the ticket view). */
function noteAnswer(info, data) {
  const version = data?.queue ?? data;
  if (typeof version?.v === "number" && typeof version.epoch === "string") {
    state.answered.set(info, { epoch: version.epoch, v: version.v });
  }
  return data;
}

// ---- session -----------------------------------------------------------------------------

function claims(token) {
  try {
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return null;
  }
}

function allowed(c) {
  return c && c.exp * 1000 > Date.now() && (c.role === "operator" || (c.role === "staff" && c.fac === facility));
}

async function login(event) {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button");
  button.disabled = true;
  $("login-error").textContent = "";
  try {
    const r = await fetch("/v1/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: form.user.value, password: form.password.value }),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const wait = r.headers.get("Retry-After") || "数";
      $("login-error").textContent = r.status === 401 ? "ユーザー名またはパスワードが違います。"
        : data.error?.code === "login_throttled" ? `失敗が続いたため、${wait} 秒待ってからもう一度お試しください。`
        : data.error?.message || `HTTP ${r.status}`;
      return;
    }
    if (!allowed(claims(data.token))) {
      $("login-error").textContent = `このアカウントは施設 ${data.facility ?? "?"} 用です。`;
      return;
    }
    form.password.value = "";
    sessionStorage.setItem(TOKEN_KEY, data.token);
    begin(data.token);
  } catch {
    $("login-error").textContent = ERRORS.network;
  } finally {
    button.disabled = false;
  }
}

function logout(reason = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(state.expiryTimer);
  state.client?.close();
  Object.assign(state, { token: null, client: null, views: new Map() });
  $("app").hidden = true;
  $("tools").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = reason;
  $("login-form").user.focus();
}

/** The facility record, retried with backoff while the hub is unreachable (network error or
 * 5xx); null when this session ended meanwhile or the facility does not exist. */
async function loadRecord(token) {
  for (let attempt = 0; state.token === token; attempt++) {
    try {
      const r = await fetch(`/v1/facilities/${facility}`, { cache: "no-store" });
      if (r.ok) return await r.json();
      if (r.status < 500 && r.status !== 429) {
        showError(new ApiError(r.status, "unknown_facility", `施設 ${facility} は見つかりません。`));
        return null;
      }
    } catch {
      /* offline: try again */
    }
    $("net").dataset.online = "false";
    $("net").textContent = "サーバーに接続できません。再接続中…";
    const delay = Math.min(30000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  return null;
}

async function begin(token) {
  const c = claims(token);
  state.token = token;
  $("login").hidden = true;
  $("app").hidden = false;
  $("tools").hidden = false;
  $("user").textContent = c.sub || c.role;
  $("net").dataset.online = "false";
  $("net").textContent = "接続中…";
  clearTimeout(state.expiryTimer);
  state.expiryTimer = setTimeout(() => logout(EXPIRED), Math.min(c.exp * 1000 - Date.now(), 2 ** 31 - 1));
  const record = await loadRecord(token);
  if (!record || state.token !== token) return;
  state.record = record;
  $("clinic-name").textContent = state.record.name;
  document.title = `${state.record.name} — スタッフ画面`;
  state.infos = state.record.counters.map((x) => `${facility}-${x.counter}`);
  const saved = localStorage.getItem(COUNTER_KEY);
  state.current = state.infos.includes(saved) ? saved : state.infos[0];
  const client = (state.client = new JunbanClient({ base: location.origin, token }));
  client.onStatus((s) => {
    $("net").dataset.online = String(s.online);
    $("net").textContent = s.online ? "リアルタイム更新中" : "接続が切れています。再接続中…";
  });
  client.onError((e) => {
    // the connection closed for the token (4401, ch null: expired, revoked, invalid) or a
    // staff channel refused it: this login is over
    if (AUTH_CODES.has(e.code) && (e.ch === null || e.ch.startsWith("staff:"))) logout(EXPIRED);
  });
  for (const info of state.infos) {
    client.subscribe(`staff:${info}`, (view) => {
      state.views.set(info, view);
      render();
      renderOperator();
    });
  }
  render();
  renderOperator();
}

// ---- the operator's side: notices, suspension, support desk hours -------------------------

/** Notices come with every queue view (live); a suspended facility gets a neutral notice. */
function renderOperator() {
  const views = [...state.views.values()];
  const latest = views.reduce((a, v) => (!a || (v.updated_at || "") > (a.updated_at || "") ? v : a), null);
  const box = $("notices");
  renderNotices(box, latest?.notices ?? state.record?.notices, latest?.tz ?? state.record?.tz);
  // an aria-live region: the suspension notice is added or removed, never rewritten
  const suspended = views.length > 0 && views.every((v) => v.suspended);
  const shown = $("suspended-notice");
  if (suspended && !shown) {
    const p = el("p", { className: "jb-op-notice", textContent: "この施設のサービスは停止中です。患者さんの受付はできません。詳しくは運営会社にお問い合わせください。" });
    p.dataset.ongoing = "true";
    p.id = "suspended-notice";
    box.prepend(p);
  } else if (!suspended && shown) {
    shown.remove();
  }
  const hidden = box.childElementCount === 0;
  if (box.hidden !== hidden) box.hidden = hidden;
}

/** "サポート窓口: 受付中" or "時間外（次は 11/26(木) 08:00）", from GET /v1/service/hours. */
async function renderSupport() {
  try {
    const r = await fetch("/v1/service/hours");
    if (!r.ok) return;
    const h = await r.json();
    const next = h.next_support_open
      ? new Intl.DateTimeFormat("ja-JP", { month: "numeric", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit", timeZone: h.tz }).format(new Date(h.next_support_open))
      : "";
    $("support").textContent = h.support_open ? "・サポート窓口: 受付中" : `・サポート窓口: 時間外${next ? `（次は ${next}）` : ""}`;
    $("support").dataset.open = String(h.support_open);
  } catch {
    /* shown again on the next round */
  }
}

// ---- rendering ---------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-") || k.startsWith("aria-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

function label(info) {
  const counter = info.split("-")[1];
  return state.record?.counters.find((c) => c.counter === counter)?.label || `窓口 ${counter}`;
}

function hhmm(iso, tz) {
  if (!iso) return "";
  return new Intl.DateTimeFormat("ja-JP", { hour: "2-digit", minute: "2-digit", timeZone: tz })
    .format(new Date(iso));
}

function minutesSince(iso) {
  return iso ? Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 60000)) : 0;
}

function timing(t, tz) {
  if (t.status === "waiting") return `${hhmm(t.issued_at, tz)} 受付 · 待ち ${minutesSince(t.issued_at)} 分`;
  if (t.status === "called") return `${hhmm(t.called_at, tz)} 呼出 · ${minutesSince(t.called_at)} 分経過`;
  if (t.status === "absent") return `${hhmm(t.called_at, tz)} 呼出 · 不在`;
  const took = t.finished_at && t.issued_at
    ? Math.round((Date.parse(t.finished_at) - Date.parse(t.issued_at)) / 60000) : null;
  return `${hhmm(t.finished_at, tz)} ${t.status === "done" || t.status === "completed" ? "終了" : "取消"}` +
    (took !== null ? ` · 所要 ${took} 分` : "");
}

function ticketRow(info, t, tz) {
  const flags = el("span", { class: "con-flags" },
    el("span", { class: `con-chan con-chan-${t.channel}` }, CHANNELS[t.channel] || t.channel),
    t.priority && el("span", { class: "con-flag" }, "優先"),
    t.requeued && el("span", { class: "con-flag" }, "再"),
    t.recalls > 0 && el("span", { class: "con-flag" }, `再呼出 ${t.recalls}`),
    t.status === "called" && t.room && el("span", { class: "con-flag con-flag-room" }, `${t.room}番`));
  const who = [t.name, t.phone, t.note].filter(Boolean).join(" · ");
  const actions = el("span", { class: "con-actions" });
  for (const action of BY_STATUS[t.status] || []) {
    const spec = ACTIONS[action];
    const name = `${info}:${t.id}:${action}`;
    actions.append(el("button", {
      type: "button",
      class: `jb-btn ${spec.danger ? "jb-btn-danger-quiet" : "jb-btn-quiet"} con-act`,
      "data-action": action,
      "aria-label": `${t.number}番${spec.verb}`,
      disabled: state.inflight.has(name),
      onclick: () => ticketAction(info, t, action),
    }, spec.label));
  }
  return el("li", { class: `con-ticket con-${t.status}`, "data-number": String(t.number), "data-id": t.id },
    el("span", { class: "con-num jb-num", "aria-label": `${t.number}番` }, String(t.number)),
    el("span", { class: "con-body" }, flags,
      who ? el("span", { class: "con-who" }, who) : null,
      el("span", { class: "con-time jb-muted jb-small" }, timing(t, tz))),
    actions);
}

/** Write text only when it changes (some of these are aria-live). */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function renderTabs() {
  const tabs = $("tabs");
  const same = tabs.children.length === state.infos.length &&
    state.infos.every((info, i) => tabs.children[i].dataset.info === info);
  if (!same) {
    tabs.replaceChildren(...state.infos.map((info, i) => el("button", {
      type: "button", role: "tab", class: "con-tab", id: `tab-${info}`, "data-info": info,
      "aria-keyshortcuts": String(i + 1),
      onclick: () => select(info),
    }, el("span", {}, label(info)), el("span", { class: "con-tab-count jb-num", "aria-label": "お待ち" }))));
  }
  // patched in place: a focused tab keeps its focus across live updates
  state.infos.forEach((info, i) => {
    const tab = tabs.children[i];
    const selected = String(info === state.current);
    if (tab.getAttribute("aria-selected") !== selected) tab.setAttribute("aria-selected", selected);
    setText(tab.firstElementChild, label(info));
    setText(tab.lastElementChild, String(state.views.get(info)?.waiting_count ?? "–"));
  });
}

/** Make list `ul` hold `items` ({key, sig, build}) in order, keeping every row whose
 * signature is unchanged (a live update does not rebuild the list, nor re-announce it, nor
 * take the focus away from a row's button); focus in a rebuilt row moves to the same action
 * of its new row. */
function patchList(ul, items) {
  const old = new Map([...ul.children].map((n) => [n.dataset.key, n]));
  const nodes = items.map(({ key, sig, build }) => {
    const node = old.get(key);
    if (node && node.dataset.sig === sig) return node;
    const fresh = build();
    fresh.dataset.key = key;
    fresh.dataset.sig = sig;
    return fresh;
  });
  if (nodes.length === ul.children.length && nodes.every((n, i) => ul.children[i] === n)) return;
  const focused = ul.contains(document.activeElement) ? document.activeElement : null;
  const focusRow = focused?.closest("li")?.dataset.key;
  const focusAction = focused?.dataset.action;
  // rows in place stay in the document (no blur); only the changed ones are swapped
  nodes.forEach((node, i) => {
    const at = ul.children[i];
    if (at !== node) ul.insertBefore(node, at ?? null);
  });
  while (ul.children.length > nodes.length) ul.lastElementChild.remove();
  if (focused && !ul.contains(document.activeElement) && focusRow) {
    const row = [...ul.children].find((n) => n.dataset.key === focusRow);
    const target = row?.querySelector(`[data-action="${focusAction}"]`) || row?.querySelector("button");
    target?.focus();
  }
}

function rowItem(info, t, tz) {
  const busy = (BY_STATUS[t.status] || []).map((a) => state.inflight.has(`${info}:${t.id}:${a}`));
  return {
    key: t.id,
    sig: JSON.stringify([info, t, timing(t, tz), busy]),
    build: () => ticketRow(info, t, tz),
  };
}

function emptyItem(text) {
  return { key: "empty", sig: text, build: () => el("li", { class: "con-empty jb-muted" }, text) };
}

function render() {
  if (!state.current || $("app").hidden) return;
  renderTabs();
  const info = state.current;
  const view = state.views.get(info);
  setText($("counter-title"), `${label(info)}（${info}）`);
  const room = $("room");
  if (document.activeElement !== room) room.value = localStorage.getItem(roomKey(info)) || "1";
  const busy = (name) => state.inflight.has(`${info}:${name}`);
  $("call-next").disabled = !view || busy("call-next");
  $("toggle-open").disabled = !view || busy("open");
  $("toggle-web").disabled = !view || busy("web");
  $("issue").disabled = !view || busy("issue");
  if (!view) return;
  const tz = view.tz || view.config?.tz;
  setText($("open-state"), view.open ? "受付中" : "停止中");
  $("open-state").classList.toggle("jb-pill-off", !view.open);
  setText($("toggle-open"), view.open ? "受付を閉じる" : "受付を開く");
  const webOn = view.web_open;
  setText($("web-state"), webOn ? "受付中" : "停止中");
  $("web-state").classList.toggle("jb-pill-off", !webOn);
  setText($("toggle-web"), webOn ? "Web 受付を止める" : "Web 受付を開始");
  setText($("waiting-count"), String(view.waiting_count));
  setText($("last-number"), String(view.last_number ?? 0));
  setText($("pace"), `${view.minutes_per_patient} 分`);
  if (document.activeElement !== $("message")) $("message").value = view.message || "";
  const byId = new Map(view.tickets.map((t) => [t.id, t]));
  const list = (id, tickets, none) =>
    patchList($(id), tickets.length ? tickets.map((t) => rowItem(info, t, tz)) : [emptyItem(none)]);
  const byIds = (ids) => ids.map((id) => byId.get(id)).filter(Boolean);
  list("calling", byIds(view.calling_ids), "呼び出し中の方はいません");
  list("waiting", byIds(view.waiting_ids), "お待ちの方はいません");
  list("absent", view.tickets.filter((t) => t.status === "absent"), "なし");
  list("done", view.tickets.filter((t) => !BY_STATUS[t.status]).reverse(), "なし");
}

function select(info) {
  state.current = info;
  localStorage.setItem(COUNTER_KEY, info);
  showError(null);
  render();
}

// ---- actions -----------------------------------------------------------------------------

const q = (info) => `/v1/queues/${info}`;

function room() {
  return $("room").value.trim() || "1";
}

function callNext() {
  const info = state.current;
  if (!state.views.has(info)) return;
  // the key names the queue state the staff saw: a second press on the same view (a
  // double-click, a bounced key) replays the first answer: one patient called, not two
  return act(`${info}:call-next`,
    async (key) => noteAnswer(info, await api("POST", `${q(info)}/call-next`, { room: room() }, key)),
    viewKey("call-next", info));
}

function toggleOpen() {
  const info = state.current;
  const view = state.views.get(info);
  if (!view) return;
  return act(`${info}:open`, (key) => api("POST", `${q(info)}/${view.open ? "close" : "open"}`, undefined, key));
}

function toggleWeb() {
  const info = state.current;
  const view = state.views.get(info);
  if (!view) return;
  const path = view.web_open ? "web/close" : "web/open";
  return act(`${info}:web`, (key) => api("POST", `${q(info)}/${path}`, undefined, key));
}

async function ticketAction(info, t, action) {
  if (action === "cancel" && !(await confirmDialog(`${t.number}番を取り消します。よろしいですか？`))) return;
  const body = action === "call" ? { room: room() } : undefined;
  return act(`${info}:${t.id}:${action}`, async (key) =>
    noteAnswer(info, await api("POST", `${q(info)}/tickets/${encodeURIComponent(t.id)}/${action}`, body, key)),
  viewKey(`${action}:${t.id}`, info));
}

function firstCalling(action) {
  const view = state.views.get(state.current);
  const t = view?.tickets.find((x) => x.id === view.calling_ids[0]);
  if (t) ticketAction(state.current, t, action);
}

async function issueTicket(event) {
  event.preventDefault();
  const form = event.target;
  const info = state.current;
  const body = {
    channel: form.channel.value,
    name: form.name.value.trim(),
    phone: form.phone.value.trim(),
    note: form.note.value.trim(),
    priority: form.priority.checked,
  };
  await act(`${info}:issue`, async (key) => {
    const data = await api("POST", `${q(info)}/tickets`, body, key);
    form.reset();
    $("issued").textContent = `${data.ticket.number}番を発券しました（${CHANNELS[data.ticket.channel]}）`;
    offerPrint(info, data);
  });
}

/** 「印刷」 for the ticket just issued: the paper ticket page with the ticket's own token
 * (from the issue answer) in the fragment, never sent to the server, printed at once. */
function offerPrint(info, data) {
  const link = $("print-issued");
  const paper = $("paper").value === "58" ? "58" : "80";
  const fragment = new URLSearchParams({ token: data.token, paper, autoprint: "1" });
  link.href = `/print/${info}/${encodeURIComponent(data.ticket.id)}#${fragment}`;
  link.setAttribute("aria-label", `${data.ticket.number}番の受付票を印刷`);
  link.hidden = false;
  $("paper-field").hidden = false;
}

function saveMessage(event) {
  event.preventDefault();
  const text = $("message").value;
  return act("message", async (key) => {
    await api("PUT", `/v1/facilities/${facility}/message`, { text }, key);
    $("message").blur();
  });
}

function pairMonitor() {
  return act("pair", async () => {
    const data = await api("POST", `/v1/facilities/${facility}/monitor-pairings`);
    $("pairing-code").textContent = data.code.replace(/^(\d{4})(\d{4})$/, "$1 $2");
    $("pairing").showModal();
  });
}

function confirmDialog(text) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  dialog.showModal();
  $("confirm-no").focus();
  return new Promise((resolve) => {
    const done = (answer) => {
      $("confirm-yes").onclick = $("confirm-no").onclick = dialog.oncancel = null;
      dialog.close();
      resolve(answer);
    };
    $("confirm-yes").onclick = () => done(true);
    $("confirm-no").onclick = () => done(false);
    dialog.oncancel = () => done(false);
  });
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || !state.token || $("app").hidden) return;
  if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
  if (document.querySelector("dialog[open]")) return;
  const key = event.key.toLowerCase();
  const handlers = {
    n: callNext,
    r: () => firstCalling("recall"),
    a: () => firstCalling("absent"),
    c: () => firstCalling("complete"),
    d: () => { $("issue-form").closest("details").open = true; $("issue-form").name.focus(); },
  };
  if (handlers[key]) {
    event.preventDefault();
    if (event.repeat) return; // a held key is one press
    handlers[key]();
  } else if (/^[1-9]$/.test(key) && state.infos[Number(key) - 1]) {
    select(state.infos[Number(key) - 1]);
  }
}

function main() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => logout(""));
  $("call-next").addEventListener("click", callNext);
  $("toggle-open").addEventListener("click", toggleOpen);
  $("toggle-web").addEventListener("click", toggleWeb);
  $("issue-form").addEventListener("submit", issueTicket);
  $("message-form").addEventListener("submit", saveMessage);
  $("pair").addEventListener("click", pairMonitor);
  $("pairing-close").addEventListener("click", () => $("pairing").close());
  $("room").addEventListener("input", () => localStorage.setItem(roomKey(state.current), $("room").value));
  $("paper").value = localStorage.getItem(PAPER_KEY) === "58" ? "58" : "80";
  $("paper").addEventListener("change", () => {
    localStorage.setItem(PAPER_KEY, $("paper").value);
    const link = $("print-issued");
    if (!link.hidden) link.href = link.href.replace(/paper=\d+/, `paper=${$("paper").value}`);
  });
  document.addEventListener("keydown", onKey);
  setInterval(render, 30000); // the minutes waited move on
  setInterval(renderOperator, 60000); // a notice's start or end passes
  renderSupport();
  setInterval(renderSupport, 5 * 60000);
  $("service-hours").textContent = $("service-hours").textContent.replace("-", "–");
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && allowed(claims(token))) begin(token);
  else logout(token ? EXPIRED : "");
}

main();
