// The staff console /console/{facility}: log in, then run each counter's queue. Every change
// arrives on the `staff:{info}` channels, so all consoles of the facility show it live.

import { JunbanClient, newer } from "/static/junban.js";
import { renderNotices } from "./notices.js";
import { applyI18n, clock, currentLang, t } from "./i18n.js";
import "./console.strings.js";
import { askAdminHint, logIn } from "./staff.password.js";
import { ApiError, TOKEN_KEY, claims, confirmDialog } from "./staffsession.js";
import { emrAction, emrMark, emrSig, setupEmr } from "./console.emr.js";
import { deskConsent, phoneAction, phoneMark, phoneSig, setupPhone } from "./console.phone.js";

const facility = document.body.dataset.facility.replace(/[^0-9]/g, "") ||
  location.pathname.split("/").filter(Boolean)[1];
const COUNTER_KEY = `junban.console.counter.${facility}`;
const roomKey = (info) => `junban.console.room.${info}`;
const PAPER_KEY = "junban.console.paper";
const $ = (id) => document.getElementById(id);
/** After an action's answer its button (and shortcut) stays blocked this long: a human
 * double-click (100–250 ms apart) or a key bounce is over by then. */
const COOLDOWN_MS = 700;
const AUTH_CODES = new Set(["token_expired", "invalid_token", "token_revoked", "unauthorized", "forbidden"]);
const expired = () => t("con.expired");

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

/** A channel's name ("Web", 窓口, 電話, 発券機, 予約) in the page's language. */
const channelName = (c) => (["web", "desk", "phone", "kiosk", "reserved"].includes(c) ? t(`con.ch.${c}`) : c);
/** Each ticket action: its API path, body and look. `requeue_end` is requeue {to_end}. */
const ACTIONS = {
  call: { path: "call" },
  recall: { path: "recall" },
  absent: { path: "absent" },
  requeue: { path: "requeue" },
  requeue_end: { path: "requeue", body: { to_end: true } },
  complete: { path: "complete" },
  cancel: { path: "cancel", danger: true },
};
const BY_STATUS = {
  waiting: ["call", "cancel"],
  called: ["recall", "absent", "complete", "requeue", "requeue_end", "cancel"],
  absent: ["call", "requeue", "requeue_end", "cancel"],
};
/** What the panel of this console's room offers for the patient called into it. */
const MY_ROOM_ACTIONS = ["recall", "absent", "complete", "requeue", "requeue_end"];
const ERROR_CODES = new Set(["queue_empty", "reception_closed", "illegal_transition", "rate_limited", "network"]);
const errorText = (code) => (ERROR_CODES.has(code) ? t(`con.err.${code}`) : null);

// ---- HTTP --------------------------------------------------------------------------------

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // works on plain-http LANs too
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
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
      if (!key || attempt > 0) throw new ApiError(0, "network", errorText("network"));
    }
  }
  const data = await response.json().catch(() => ({}));
  if (response.ok) return data;
  const code = data.error?.code || "http_error";
  if (response.status === 401) logout(expired());
  throw new ApiError(response.status, code, errorText(code) || data.error?.message || `HTTP ${response.status}`);
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
    const result = await logIn(form, $("login"));
    if (result.refused) {
      const { status, code, message } = result.refused;
      const wait = result.refused.wait || (currentLang() === "en" ? "a few" : "数");
      $("login-error").textContent = status === 401 ? t("con.login_wrong")
        : code === "login_throttled" ? t("con.login_wait", { wait })
        : message;
      // locked out or forgotten: the clinic admin (or the operator) can unlock and reset
      $("login-help").textContent = askAdminHint();
      $("login-help").hidden = status !== 401 && status !== 429;
      return;
    }
    $("login-help").hidden = true;
    if (result.expired) {
      $("login-error").textContent = expired();
      return;
    }
    if (!allowed(claims(result.token))) {
      $("login-error").textContent = t("con.login_other", { facility: result.facility ?? "?" });
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, result.token);
    begin(result.token);
  } catch {
    $("login-error").textContent = errorText("network");
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
        showError(new ApiError(r.status, "unknown_facility", t("con.unknown_facility", { facility })));
        return null;
      }
    } catch {
      /* offline: try again */
    }
    $("net").dataset.online = "false";
    $("net").textContent = t("con.reconnecting");
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
  $("net").textContent = t("con.connecting");
  clearTimeout(state.expiryTimer);
  state.expiryTimer = setTimeout(() => logout(expired()), Math.min(c.exp * 1000 - Date.now(), 2 ** 31 - 1));
  const record = await loadRecord(token);
  if (!record || state.token !== token) return;
  state.record = record;
  useLanguage(record);
  $("clinic-name").textContent = state.record.name;
  loadTemplates(token);
  setupEmr({ facility, token, api, onChange: render });
  setupPhone({ facility, token, api, onChange: render, showError });
  state.infos = state.record.counters.map((x) => `${facility}-${x.counter}`);
  const saved = localStorage.getItem(COUNTER_KEY);
  state.current = state.infos.includes(saved) ? saved : state.infos[0];
  const client = (state.client = new JunbanClient({ base: location.origin, token }));
  client.onStatus((s) => {
    $("net").dataset.online = String(s.online);
    state.online = s.online;
    $("net").textContent = s.online ? t("common.online") : t("common.offline");
  });
  client.onError((e) => {
    // the connection closed for the token (4401, ch null: expired, revoked, invalid) or a
    // staff channel refused it: this login is over
    if (AUTH_CODES.has(e.code) && (e.ch === null || e.ch.startsWith("staff:"))) logout(expired());
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

// ---- language and the facility's settings ------------------------------------------------

/** The page language: ?lang= (the server set <html lang> from it), else the facility's
 * `lang` ("ja+en" shows a Japanese console), else the server's choice from the browser. */
function useLanguage(record) {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked !== "ja" && asked !== "en" && record?.lang) {
    document.documentElement.lang = record.lang === "en" ? "en" : "ja";
  }
  relabel();
}

/** The language button: the choice goes into the address (?lang=), so a reload keeps it. */
function switchLanguage(lang) {
  const url = new URL(location.href);
  url.searchParams.set("lang", lang);
  history.replaceState(history.state, "", url);
  document.documentElement.lang = lang;
  relabel();
}

function labelLangButton() {
  const other = currentLang() === "ja" ? "en" : "ja";
  $("lang").textContent = other === "en" ? "English" : "日本語";
  $("lang").setAttribute("lang", other);
}

/** Every text in the page's language again (static ones by data-i18n, then a render). */
function relabel() {
  applyI18n();
  labelLangButton();
  if (state.record) {
    $("clinic-name").textContent = state.record.name;
    document.title = `${state.record.name} — ${t("con.title")}`;
  }
  if (state.client) $("net").textContent = state.online ? t("common.online") : t("common.offline");
  $("tabs").replaceChildren();
  $("suspended-notice")?.remove();
  if (state.token) renderSupport();
  render();
  renderOperator();
}

/** The facility's i-message templates as suggestions of the message input, when the hub
 * has the settings route (staff); without it (404) or on any failure: none. */
async function loadTemplates(token) {
  try {
    const r = await fetch(`/v1/facilities/${facility}/settings`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
    if (!r.ok || state.token !== token) return;
    const data = await r.json();
    const list = Array.isArray(data.templates) ? data.templates : [];
    $("templates").replaceChildren(...list.filter((x) => typeof x === "string" && x)
      .map((x) => el("option", { value: x })));
  } catch {
    /* no templates */
  }
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
    const p = el("p", { className: "jb-op-notice", textContent: t("con.suspended") });
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
    const locale = currentLang() === "en" ? "en-GB" : "ja-JP";
    const next = h.next_support_open
      ? new Intl.DateTimeFormat(locale, { month: "numeric", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit", timeZone: h.tz }).format(new Date(h.next_support_open))
      : "";
    $("support").textContent = h.support_open ? t("con.support_open")
      : t("con.support_closed") + (next ? t("con.support_next", { when: next }) : "");
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
  return counterLabel(info.split("-")[1]);
}

function counterLabel(counter) {
  return state.record?.counters.find((c) => c.counter === counter)?.label || t("con.counter_n", { counter });
}

/** The rooms of a counter from the facility record (`counters[].rooms`); [] = free "1", "2"… */
function roomsOf(info) {
  const counter = info.split("-")[1];
  const rooms = state.record?.counters.find((c) => c.counter === counter)?.rooms;
  return Array.isArray(rooms) ? rooms.filter((r) => r && typeof r.room === "string") : [];
}

function roomLabel(info, room) {
  const named = roomsOf(info).find((r) => r.room === room)?.label;
  return named || t("con.room_n", { room });
}

const hhmm = (iso, tz) => clock(iso, tz);

function minutesSince(iso) {
  return iso ? Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 60000)) : 0;
}

function timing(tk, tz) {
  if (tk.status === "waiting") return t("con.time.waiting", { at: hhmm(tk.issued_at, tz), n: minutesSince(tk.issued_at) });
  if (tk.status === "called") return t("con.time.called", { at: hhmm(tk.called_at, tz), n: minutesSince(tk.called_at) });
  if (tk.status === "absent") return t("con.time.absent", { at: hhmm(tk.called_at, tz) });
  const took = tk.finished_at && tk.issued_at
    ? Math.round((Date.parse(tk.finished_at) - Date.parse(tk.issued_at)) / 60000) : null;
  const at = hhmm(tk.finished_at, tz);
  const end = tk.status === "transferred" ? t("con.time.transferred", { at, counter: counterLabel(tk.to) })
    : tk.status === "done" || tk.status === "completed" ? t("con.time.done", { at }) : t("con.time.cancelled", { at });
  return end + (took !== null && tk.status !== "transferred" ? t("con.time.took", { n: took }) : "");
}

/** One action button on ticket `tk` of queue `info` (rows and this room's panel). */
function actionButton(info, tk, action) {
  const spec = ACTIONS[action];
  return el("button", {
    type: "button",
    class: `jb-btn ${spec.danger ? "jb-btn-danger-quiet" : "jb-btn-quiet"} con-act`,
    "data-action": action,
    "aria-label": t(`con.act.${action}.aria`, { number: tk.number }),
    disabled: state.inflight.has(`${info}:${tk.id}:${action}`),
    onclick: () => ticketAction(info, tk, action),
  }, t(`con.act.${action}`));
}

/** The other counters of this facility, as transfer targets. */
function otherCounters(info) {
  return state.infos.filter((i) => i !== info).map((i) => i.split("-")[1]);
}

/** 「その他」: a menu with the ticket's transfers to each other counter (and, for a waiting
 * ticket, "call this one" and "cancel" again, so everything is in one place). */
function ticketMenu(info, tk) {
  const targets = otherCounters(info);
  if (!targets.length) return null;
  const items = el("div", { class: "con-menu-items", role: "group" });
  if (tk.status === "waiting") items.append(actionButton(info, tk, "call"));
  for (const counter of targets) {
    items.append(el("button", {
      type: "button",
      class: "jb-btn jb-btn-quiet con-act",
      "data-action": "transfer",
      "data-to": counter,
      "aria-label": t("con.act.transfer.aria", { number: tk.number, counter: counterLabel(counter) }),
      disabled: state.inflight.has(`${info}:${tk.id}:transfer`),
      onclick: (event) => {
        event.target.closest("details").open = false;
        transferTicket(info, tk, counter);
      },
    }, t("con.act.transfer", { counter: counterLabel(counter) })));
  }
  if (tk.status === "waiting") items.append(actionButton(info, tk, "cancel"));
  return el("details", { class: "con-menu" },
    el("summary", { class: "jb-btn jb-btn-quiet", "aria-label": t("con.menu_aria", { number: tk.number }) }, t("con.menu")),
    items);
}

function ticketRow(info, tk, tz) {
  const mine = tk.status === "called" && tk.room === room();
  const flags = el("span", { class: "con-flags" },
    el("span", { class: `con-chan con-chan-${tk.channel}` }, channelName(tk.channel)),
    tk.band && el("span", { class: "con-flag con-flag-band" }, t("con.flag.band", { band: tk.band.replace("-", "–") })),
    tk.late && el("span", { class: "con-flag" }, t("con.flag.late")),
    tk.priority && el("span", { class: "con-flag" }, t("con.priority")),
    tk.from && el("span", { class: "con-flag con-flag-from", "data-from": tk.from }, t("con.flag.from", { counter: counterLabel(tk.from) })),
    tk.requeued && el("span", { class: "con-flag" }, t("con.flag.requeued")),
    tk.status === "waiting" && tk.arrived_at && el("span", { class: "con-flag con-flag-arrived" }, t("con.flag.arrived")),
    tk.recalls > 0 && el("span", { class: "con-flag" }, t("con.flag.recalls", { n: tk.recalls })),
    tk.status === "called" && tk.room && el("span", { class: `con-flag con-flag-room${mine ? " con-flag-mine" : ""}` }, roomLabel(info, tk.room)),
    emrMark(tk),
    phoneMark(tk));
  const who = [tk.name, tk.phone, tk.note].filter(Boolean).join(" · ");
  const actions = el("span", { class: "con-actions" });
  for (const action of BY_STATUS[tk.status] || []) actions.append(actionButton(info, tk, action));
  if (BY_STATUS[tk.status]) actions.append(ticketMenu(info, tk) || "");
  actions.append(emrAction(info, tk) || "");
  actions.append(phoneAction(info, tk) || "");
  return el("li", { class: `con-ticket con-${tk.status}${mine ? " con-mine" : ""}`, "data-number": String(tk.number), "data-id": tk.id, "data-room": tk.room || "" },
    el("span", { class: "con-num jb-num", "aria-label": t("con.number", { number: tk.number }) }, String(tk.number)),
    el("span", { class: "con-body" }, flags,
      who ? el("span", { class: "con-who" }, who) : null,
      el("span", { class: "con-time jb-muted jb-small" }, timing(tk, tz))),
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
    }, el("span", {}, label(info)), el("span", { class: "con-tab-count jb-num", "aria-label": t("con.waiting") }))));
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

function rowItem(info, tk, tz) {
  const busy = [...(BY_STATUS[tk.status] || []), "transfer"].map((a) => state.inflight.has(`${info}:${tk.id}:${a}`));
  return {
    key: tk.id,
    sig: JSON.stringify([info, tk, timing(tk, tz), busy, room(), currentLang(), state.infos, emrSig(), phoneSig()]),
    build: () => ticketRow(info, tk, tz),
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
  renderRoomChoice(info);
  const busy = (name) => state.inflight.has(`${info}:${name}`);
  $("call-next").disabled = !view || busy("call-next");
  $("toggle-open").disabled = !view || busy("open");
  $("toggle-web").disabled = !view || busy("web");
  $("issue").disabled = !view || busy("issue");
  if (!view) return;
  const tz = view.tz || view.config?.tz;
  setText($("open-state"), view.open ? t("con.on") : t("con.off"));
  $("open-state").classList.toggle("jb-pill-off", !view.open);
  setText($("toggle-open"), view.open ? t("con.close_reception") : t("con.open_reception"));
  const webOn = view.web_open;
  setText($("web-state"), webOn ? t("con.on") : t("con.off"));
  $("web-state").classList.toggle("jb-pill-off", !webOn);
  setText($("toggle-web"), webOn ? t("con.stop_web") : t("con.start_web"));
  setText($("waiting-count"), String(view.waiting_count));
  setText($("last-number"), String(view.last_number ?? 0));
  setText($("pace"), t("con.minutes", { n: view.minutes_per_patient }));
  if (document.activeElement !== $("message")) $("message").value = view.message || "";
  const byId = new Map(view.tickets.map((t) => [t.id, t]));
  const list = (id, tickets, none) =>
    patchList($(id), tickets.length ? tickets.map((t) => rowItem(info, t, tz)) : [emptyItem(none)]);
  const byIds = (ids) => ids.map((id) => byId.get(id)).filter(Boolean);
  list("calling", byIds(view.calling_ids), t("con.none_calling"));
  list("waiting", byIds(view.waiting_ids), t("con.none_waiting"));
  list("absent", view.tickets.filter((x) => x.status === "absent"), t("con.none"));
  list("done", view.tickets.filter((x) => !BY_STATUS[x.status]).reverse(), t("con.none"));
  renderMyRoom(info, view);
}

/** The room input (free "1", "2"…) or, when the facility named this counter's rooms, a
 * select of them; the choice is this console's (localStorage), per counter. */
function renderRoomChoice(info) {
  const rooms = roomsOf(info);
  const input = $("room");
  const select = $("room-select");
  const saved = localStorage.getItem(roomKey(info)) || rooms[0]?.room || "1";
  input.hidden = rooms.length > 0;
  select.hidden = rooms.length === 0;
  if (rooms.length) {
    const sig = JSON.stringify(rooms);
    if (select.dataset.sig !== sig) {
      select.replaceChildren(...rooms.map((r) => el("option", { value: r.room }, r.label || r.room)));
      select.dataset.sig = sig;
    }
    if (document.activeElement !== select) {
      select.value = rooms.some((r) => r.room === saved) ? saved : rooms[0].room;
    }
  } else if (document.activeElement !== input) {
    input.value = saved;
  }
}

/** The patient this console's room called (the newest call into it), or null. */
function myCalled(info = state.current) {
  const view = state.views.get(info);
  if (!view) return null;
  const mine = room();
  return view.calling_ids.map((id) => view.tickets.find((x) => x.id === id))
    .find((x) => x && x.room === mine) || null;
}

/** 「この診察室」: who this room called, with every action on that patient. */
function renderMyRoom(info, view) {
  const tk = myCalled(info);
  setText($("my-room-name"), roomLabel(info, room()));
  setText($("my-room-patient"), tk ? t("con.my_room_calling", { number: tk.number }) : t("con.my_room_none"));
  $("my-room").dataset.number = tk ? String(tk.number) : "";
  const box = $("my-room-actions");
  const busy = tk ? [...MY_ROOM_ACTIONS, "transfer"].map((a) => state.inflight.has(`${info}:${tk.id}:${a}`)) : [];
  const sig = JSON.stringify([tk, busy, currentLang(), state.infos, view.v]);
  if (box.dataset.sig === sig) return;
  box.dataset.sig = sig;
  if (!tk) {
    box.replaceChildren();
    return;
  }
  const targets = otherCounters(info);
  const select = el("select", { class: "jb-input con-transfer-to", id: "my-transfer-to", "aria-label": t("con.transfer_to") },
    ...targets.map((c) => el("option", { value: c }, counterLabel(c))));
  const move = el("button", {
    type: "button", class: "jb-btn jb-btn-quiet con-act", id: "my-transfer", "data-action": "transfer",
    disabled: state.inflight.has(`${info}:${tk.id}:transfer`),
    onclick: () => transferTicket(info, tk, select.value),
  }, t("con.move"));
  box.replaceChildren(...MY_ROOM_ACTIONS.map((a) => actionButton(info, tk, a)),
    ...(targets.length ? [el("span", { class: "con-transfer" }, select, move)] : []));
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
  const select = $("room-select");
  if (!select.hidden && select.value) return select.value;
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

async function ticketAction(info, tk, action) {
  if (action === "cancel" && !(await confirmDialog(t("con.confirm_cancel", { number: tk.number })))) return;
  const spec = ACTIONS[action];
  const body = action === "call" ? { room: room() } : spec.body;
  return act(`${info}:${tk.id}:${action}`, async (key) =>
    noteAnswer(info, await api("POST", `${q(info)}/tickets/${encodeURIComponent(tk.id)}/${spec.path}`, body, key)),
  viewKey(`${action}:${tk.id}`, info));
}

/** Move the ticket to counter `to` (its next stage): same id and number, at the end of
 * that counter's line (POST …/transfer). */
function transferTicket(info, tk, to) {
  if (!to) return;
  return act(`${info}:${tk.id}:transfer`, async (key) => {
    const data = noteAnswer(info, await api("POST", `${q(info)}/tickets/${encodeURIComponent(tk.id)}/transfer`, { to }, key));
    $("moved").textContent = t("con.transferred", { number: data.ticket.number, counter: counterLabel(to) });
  }, viewKey(`transfer:${to}:${tk.id}`, info));
}

/** R, A, C: always the patient THIS console's room called, never another room's. */
function myRoomAction(action) {
  const tk = myCalled();
  if (tk) ticketAction(state.current, tk, action);
  else showError({ message: t("con.no_patient_here", { room: roomLabel(state.current, room()) }) });
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
    patient_ref: form.patient_ref.value.trim(), // 診察券番号 (EMR link; "" = none)
  };
  try {
    Object.assign(body, deskConsent(form)); // 電話呼出しの同意 (phone option)
  } catch (err) {
    showError(err);
    return;
  }
  await act(`${info}:issue`, async (key) => {
    const data = await api("POST", `${q(info)}/tickets`, body, key);
    form.reset();
    $("issued").textContent = t("con.issued", { number: data.ticket.number, channel: channelName(data.ticket.channel) });
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
  link.setAttribute("aria-label", t("con.print_aria", { number: data.ticket.number }));
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

// A reception kiosk (発券機) is paired like a monitor, with codes of its own. Its strings are
// added here, loaded on the side so this section stays apart from the page's imports.
const KIOSK_STRINGS = {
  ja: {
    "con.pair_kiosk": "発券機を接続",
    "con.pair_kiosk_title": "発券機を接続",
    "con.pair_kiosk_help": "発券機の画面（/kiosk/施設番号）でこのコードを入力してください（10 分間・1 回限り有効）。",
  },
  en: {
    "con.pair_kiosk": "Pair a kiosk",
    "con.pair_kiosk_title": "Pair a reception kiosk",
    "con.pair_kiosk_help": "Enter this code on the kiosk (/kiosk/facility number); valid once, for 10 minutes.",
  },
};
import("./i18n.js").then(({ addStrings, t }) => {
  addStrings(KIOSK_STRINGS);
  for (const el of document.querySelectorAll('[data-i18n^="con.pair_kiosk"]')) el.textContent = t(el.dataset.i18n);
});

function pairKiosk() {
  return act("pair-kiosk", async () => {
    const data = await api("POST", `/v1/facilities/${facility}/kiosk-pairings`);
    $("kiosk-pairing-code").textContent = data.code.replace(/^(\d{4})(\d{4})$/, "$1 $2");
    $("kiosk-pairing").showModal();
  });
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || !state.token || $("app").hidden) return;
  if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
  if (document.querySelector("dialog[open]")) return;
  const key = event.key.toLowerCase();
  const handlers = {
    n: callNext,
    r: () => myRoomAction("recall"),
    a: () => myRoomAction("absent"),
    c: () => myRoomAction("complete"),
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
  $("pair-kiosk").addEventListener("click", pairKiosk);
  $("kiosk-pairing-close").addEventListener("click", () => $("kiosk-pairing").close());
  $("room").addEventListener("input", () => {
    localStorage.setItem(roomKey(state.current), $("room").value);
    render();
  });
  $("room-select").addEventListener("change", () => {
    localStorage.setItem(roomKey(state.current), $("room-select").value);
    render();
  });
  $("lang").addEventListener("click", () => switchLanguage(currentLang() === "ja" ? "en" : "ja"));
  labelLangButton();
  applyI18n();
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
  // the login form in the facility's language too (its public record says which)
  fetch(`/v1/facilities/${facility}`).then((r) => (r.ok ? r.json() : null))
    .then((record) => { if (record && !state.record) useLanguage(record); }).catch(() => {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && allowed(claims(token))) begin(token);
  else logout(token ? expired() : "");
}

main();
