// The integrations page /console/{facility}/integrations (電子カルテ・外部連携): the facility's
// endpoints (webhook, ORCA, FHIR: add, edit, test, enable/disable, delete; a webhook's secret
// shown once), the delivery log (with its CSV), the dead letters (replay) and the partner API
// keys (mint: shown once; revoke). It uses the console's stored login, or its own form.

import { applyI18n, currentLang, t } from "./i18n.js";
import "./integrations.strings.js";
import { submitLogin } from "./staff.password.js";
import { ApiError, TOKEN_KEY, claims, el, usable } from "./staffsession.js";

const facility = document.body.dataset.facility.replace(/[^0-9]/g, "");
const base = `/v1/facilities/${facility}`;
const REFRESH_MS = 15_000;
const $ = (id) => document.getElementById(id);

/** The v1 event types an endpoint may subscribe to (the design's table; `ping` is the test). */
export const EVENT_TYPES = [
  "ticket.issued", "ticket.called", "ticket.recalled", "ticket.absent", "ticket.requeued",
  "ticket.completed", "ticket.cancelled", "ticket.linked",
];
/** Each kind's own settings: `config` keys (text), and its `secret` (password or token). */
const KIND_FIELDS = {
  webhook: [],
  orca: [
    { key: "user", label: "in.orca_user", maxlength: 64 },
    { key: "secret", label: "in.orca_password", type: "password", secret: true },
    { key: "counters", label: "in.orca_codes", placeholder: "01=01:10001, 02=02:10002", map: true },
  ],
  fhir: [
    { key: "institution_code", label: "in.fhir_institution", maxlength: 10, pattern: "[0-9]{10}" },
    { key: "secret", label: "in.fhir_token", type: "password", secret: true },
  ],
};

const state = { token: null, endpoints: [], deliveries: [], dead: [], keys: [], timer: null, secret: null };

// ---- HTTP --------------------------------------------------------------------------------

function errorText(code, fallback) {
  const key = `in.err.${code}`;
  const text = t(key);
  return text === key ? fallback : text;
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "network", t("in.err.network"));
  }
  const data = await response.json().catch(() => ({}));
  if (response.ok) return data;
  const code = data.error?.code || "http_error";
  if (response.status === 401) logout(t("in.expired"));
  throw new ApiError(response.status, code, errorText(code, data.error?.message || `HTTP ${response.status}`));
}

/** The list in an answer: the answer itself, or its `name` (or `items`) member. */
function listOf(data, name) {
  if (Array.isArray(data)) return data;
  const list = data?.[name] ?? data?.items;
  return Array.isArray(list) ? list : [];
}

function notify(message, isError = false) {
  const box = $("notice");
  box.textContent = message || "";
  box.hidden = !message;
  box.setAttribute("role", isError ? "alert" : "status");
  box.classList.toggle("jb-notice-error", isError);
  box.classList.toggle("jb-notice-info", !isError);
}

/** Run an action, then say what it did (its message) or why it failed; refresh after. */
async function run(fn) {
  try {
    notify((await fn()) || "");
  } catch (err) {
    if (err.status !== 401) notify(err.code && err.code !== "network" ? `${err.message} (${err.code})` : err.message, true);
  }
  await refresh();
}

// ---- session -----------------------------------------------------------------------------

function show(section) {
  for (const id of ["login", "app"]) $(id).hidden = id !== section;
  $("logout").hidden = section === "login";
}

function logout(reason = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(state.timer);
  Object.assign(state, { token: null, endpoints: [], deliveries: [], dead: [], keys: [], timer: null });
  hideSecret();
  $("me").textContent = "";
  show("login");
  $("login-error").textContent = reason;
  $("login-form").user.focus();
}

async function login(event) {
  event.preventDefault();
  const text = (key, vars) => t(`in.${key}`, vars);
  const token = await submitLogin(event.target, $("login"), $("login-error"), facility, text);
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    begin(token);
  }
}

function begin(token) {
  const c = claims(token);
  state.token = token;
  $("me").textContent = c.sub || c.role;
  show("app");
  refresh();
  clearInterval(state.timer);
  state.timer = setInterval(refresh, REFRESH_MS);
}

// ---- loading -----------------------------------------------------------------------------

/** Each list on its own: a route the hub lacks (or refuses) leaves only its section empty. */
async function refresh() {
  const session = state.token;
  if (!session) return;
  const load = async (path, name) => {
    try {
      return { list: listOf(await api("GET", path), name) };
    } catch (err) {
      return { err };
    }
  };
  const [endpoints, deliveries, dead, keys] = await Promise.all([
    load(`${base}/integrations/endpoints`, "endpoints"),
    load(`${base}/integrations/deliveries`, "deliveries"),
    load(`${base}/integrations/dead`, "dead"),
    load(`${base}/api-keys`, "keys"),
  ]);
  if (state.token !== session) return;
  state.endpoints = endpoints.list ?? [];
  state.deliveries = deliveries.list ?? [];
  state.dead = dead.list ?? [];
  state.keys = keys.list ?? [];
  const failed = [endpoints, deliveries, dead, keys].find((x) => x.err && x.err.status !== 401);
  if (failed && $("notice").hidden) notify(failed.err.message, true);
  render();
}

// ---- rendering ---------------------------------------------------------------------------

function when(value) {
  if (value === null || value === undefined || value === "") return "";
  const date = typeof value === "number" ? new Date(value < 1e12 ? value * 1000 : value)
    : /^\d{10,}-\d+$/.test(String(value)) ? new Date(Number(String(value).split("-")[0])) // a stream id
    : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(currentLang() === "en" ? "en-GB" : "ja-JP", {
    dateStyle: "short", timeStyle: "medium",
  }).format(date);
}

/** A delivery's result: ok, retry (tried again later), failed (for good), disabled (410). */
const resultName = (result, ok) => (["ok", "retry", "failed", "disabled"].includes(result) ? t(`in.result.${result}`) : t(ok ? "in.ok" : "in.failed"));
const kindName = (kind) => (KIND_FIELDS[kind] ? t(`in.kind.${kind}`) : String(kind));
const eventName = (type) => {
  const text = t(`in.event.${type}`);
  return text === `in.event.${type}` ? type : text;
};

function button(label, action, onclick, quiet = "jb-btn-quiet") {
  return el("button", { type: "button", class: `jb-btn ${quiet}`, "data-action": action, onclick }, label);
}

/** Deleting and revoking take two presses: the first arms the button for a few seconds. */
function armed(buttonNode, label, fn) {
  if (buttonNode.dataset.armed !== "1") {
    buttonNode.dataset.armed = "1";
    buttonNode.textContent = t("in.confirm");
    buttonNode.classList.add("jb-btn-danger");
    setTimeout(() => {
      if (!buttonNode.isConnected) return;
      buttonNode.dataset.armed = "";
      buttonNode.textContent = label;
      buttonNode.classList.remove("jb-btn-danger");
    }, 5000);
    return undefined;
  }
  return fn();
}

function endpointRow(ep) {
  const events = Array.isArray(ep.events) && ep.events.length ? ep.events.map(eventName).join("、") : t("in.all_events");
  const counters = Array.isArray(ep.counters) && ep.counters.length ? t("in.only_counters", { counters: ep.counters.join(", ") }) : "";
  const pills = [el("span", { class: ep.enabled ? "jb-pill in-on" : "jb-pill jb-pill-off" }, t(ep.enabled ? "in.on" : "in.off"))];
  if (ep.secret_unreadable || ep.needs_secret) pills.push(el("span", { class: "jb-pill in-warn" }, t("in.reenter")));
  if (ep.disabled_reason) pills.push(el("span", { class: "jb-small jb-muted" }, String(ep.disabled_reason)));
  const del = button(t("in.delete"), "delete", (e) => armed(e.currentTarget, t("in.delete"), () => removeEndpoint(ep)), "jb-btn-danger-quiet");
  return el("tr", { "data-id": ep.id, "data-kind": ep.kind },
    el("td", {}, kindName(ep.kind)),
    el("td", { class: "in-url" }, ep.url || ""),
    el("td", {}, el("div", { class: "in-pills" }, ...pills)),
    el("td", { class: "jb-small" }, events, counters ? el("div", { class: "jb-muted" }, counters) : ""),
    el("td", {}, el("div", { class: "in-row-actions" },
      button(t("in.test"), "test", () => testEndpoint(ep)),
      button(t(ep.enabled ? "in.disable" : "in.enable"), "toggle", () => toggleEndpoint(ep)),
      button(t("in.edit"), "edit", () => editEndpoint(ep)),
      ep.kind === "webhook" ? button(t("in.rotate"), "rotate", (e) => armed(e.currentTarget, t("in.rotate"), () => rotateSecret(ep))) : "",
      del)));
}

function deliveryRow(d) {
  const ok = d.result ? d.result === "ok" : typeof d.status === "number" && d.status >= 200 && d.status < 300;
  const endpoint = state.endpoints.find((e) => e.id === (d.endpoint ?? d.endpoint_id));
  const result = [
    el("span", { class: ok ? "jb-pill in-on" : "jb-pill in-bad", "data-result": d.result ?? "" }, resultName(d.result, ok)),
    d.status ? ` HTTP ${d.status}` : "",
    d.ms !== undefined && d.ms !== null ? el("span", { class: "jb-muted jb-small" }, ` ${d.ms} ms`) : "",
  ];
  return el("tr", { "data-ok": String(Boolean(ok)), "data-event": d.event ?? "", "data-type": d.type ?? "" },
    el("td", { class: "jb-small" }, when(d.at ?? d.time ?? d.timestamp ?? d.id)),
    el("td", { class: "in-url jb-small" }, endpoint ? `${kindName(endpoint.kind)} ${endpoint.url}` : String(d.endpoint ?? d.endpoint_id ?? "")),
    el("td", { class: "jb-small" }, eventName(d.type ?? d.event_type ?? ""), el("div", { class: "jb-muted in-mono" }, String(d.event ?? d.event_id ?? ""))),
    el("td", { class: "jb-num" }, String(d.attempt ?? "")),
    el("td", {}, ...result),
    el("td", { class: "in-answer jb-small" }, String(d.detail ?? d.answer ?? d.body ?? "").slice(0, 200)));
}

function deadRow(d) {
  return el("tr", { "data-id": d.id },
    el("td", { class: "jb-small" }, when(d.at ?? d.id)),
    el("td", {}, String(d.group ?? ""), el("div", { class: "jb-muted jb-small" }, [d.info, (d.kinds || []).join(",")].filter(Boolean).join(" "))),
    el("td", { class: "jb-num" }, String(d.deliveries ?? d.count ?? "")),
    el("td", { class: "in-answer jb-small" }, String(d.error ?? "")),
    el("td", {}, button(t("in.replay"), "replay", () => replayDead(d))));
}

function keyRow(k) {
  const revoked = Boolean(k.revoked || k.revoked_at);
  const actions = revoked ? [] : [button(t("in.revoke"), "revoke", (e) => armed(e.currentTarget, t("in.revoke"), () => revokeKey(k)), "jb-btn-danger-quiet")];
  return el("tr", { "data-id": k.id, "data-revoked": String(revoked) },
    el("td", { class: "in-name" }, String(k.label ?? ""), el("div", { class: "jb-muted jb-small in-mono" }, k.hint ? `jbk_${facility}_…${k.hint}` : String(k.id ?? ""))),
    el("td", { class: "jb-small" }, (k.scopes || []).join(", ")),
    el("td", { class: "jb-small" }, when(k.created_at), k.created_by ? el("div", { class: "jb-muted" }, String(k.created_by)) : ""),
    el("td", { class: "jb-small" }, k.last_used ?? k.last_used_at ? when(k.last_used ?? k.last_used_at) : t("in.never")),
    el("td", {}, el("span", { class: revoked ? "jb-pill jb-pill-off" : "jb-pill in-on" }, t(revoked ? "in.revoked" : "in.active"))),
    el("td", {}, el("div", { class: "in-row-actions" }, ...actions)));
}

function fill(tbody, empty, rows) {
  $(tbody).replaceChildren(...rows);
  $(empty).hidden = rows.length > 0;
  $(`${tbody}-table`).hidden = rows.length === 0;
}

function render() {
  fill("endpoints", "endpoints-empty", state.endpoints.map(endpointRow));
  fill("deliveries", "deliveries-empty", state.deliveries.map(deliveryRow));
  fill("dead", "dead-empty", state.dead.map(deadRow));
  fill("keys", "keys-empty", state.keys.map(keyRow));
}

// ---- the secret shown once ---------------------------------------------------------------

function showSecret(title, what, value) {
  state.secret = value;
  $("secret-title").textContent = title;
  $("secret-for").textContent = what;
  $("secret-value").textContent = value;
  $("secret-copied").textContent = "";
  $("secret").hidden = false;
  $("secret").scrollIntoView({ block: "nearest" });
  $("secret-copy").focus();
}

function hideSecret() {
  state.secret = null;
  $("secret-value").textContent = "";
  $("secret").hidden = true;
}

async function copySecret() {
  if (!state.secret) return;
  try {
    await navigator.clipboard.writeText(state.secret);
    $("secret-copied").textContent = t("in.copied");
  } catch {
    const range = document.createRange();
    range.selectNodeContents($("secret-value"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    $("secret-copied").textContent = document.execCommand("copy") ? t("in.copied") : t("in.copy_failed");
  }
}

// ---- the endpoint form -------------------------------------------------------------------

function renderEventChoices(chosen = EVENT_TYPES) {
  $("event-choices").replaceChildren(...EVENT_TYPES.map((type) => el("label", { class: "jb-check" },
    el("input", { type: "checkbox", name: "event", value: type, checked: chosen.includes(type) }),
    " ", el("span", { "data-i18n": `in.event.${type}` }, eventName(type)))));
}

/** "01=01:10001, 02=02:10002" <-> {"01": {department: "01", physician: "10001"}, …}. */
function mapText(map) {
  if (!map || typeof map !== "object") return "";
  return Object.entries(map).map(([counter, v]) =>
    `${counter}=${typeof v === "object" ? [v.department ?? "", v.physician ?? ""].join(":") : v}`).join(", ");
}

function parseMap(text) {
  const map = {};
  for (const part of text.split(/[,、，]/).map((p) => p.trim()).filter(Boolean)) {
    const [counter, value = ""] = part.split("=").map((x) => x.trim());
    const [department = "", physician = ""] = value.split(":").map((x) => x.trim());
    if (!/^[0-9]{2}$/.test(counter) || !department || !physician) throw new Error(t("in.err.codes"));
    map[counter] = { department, physician };
  }
  return map;
}

function renderKindFields(kind, ep = null) {
  const fields = KIND_FIELDS[kind] || [];
  $("kind-fields").replaceChildren(...fields.map((f) => {
    const value = f.secret ? "" : f.map ? mapText(ep?.config?.[f.key]) : (ep?.config?.[f.key] ?? "");
    const input = el("input", {
      class: "jb-input", name: `cfg-${f.key}`, type: f.type || "text", maxlength: f.maxlength || 500,
      pattern: f.pattern, placeholder: f.secret && ep ? t("in.keep_secret") : f.placeholder,
      autocomplete: f.secret ? "new-password" : "off", value,
    });
    return el("label", { class: "jb-field" }, el("span", { "data-i18n": f.label }, t(f.label)), input);
  }));
  // the EMR adapters send names by default (the clinic's own records); webhooks do not
  if (!ep) $("endpoint-form").personal.checked = kind !== "webhook";
}

function resetEndpointForm() {
  const form = $("endpoint-form");
  form.reset();
  form.endpoint_id.value = "";
  form.kind.disabled = false;
  renderEventChoices();
  renderKindFields(form.kind.value);
  $("endpoint-form-title").textContent = t("in.add_endpoint");
  $("endpoint-form-title").dataset.i18n = "in.add_endpoint";
  $("endpoint-cancel").hidden = true;
  $("endpoint-error").textContent = "";
}

function editEndpoint(ep) {
  const form = $("endpoint-form");
  form.endpoint_id.value = ep.id;
  form.kind.value = ep.kind;
  form.kind.disabled = true; // an endpoint's kind stays
  form.url.value = ep.url || "";
  form.counters.value = (ep.counters || []).join(", ");
  form.personal.checked = Boolean(ep.personal);
  form.enabled.checked = Boolean(ep.enabled);
  renderEventChoices(Array.isArray(ep.events) && ep.events.length ? ep.events : EVENT_TYPES);
  renderKindFields(ep.kind, ep);
  $("endpoint-form-title").textContent = t("in.edit_endpoint");
  $("endpoint-form-title").dataset.i18n = "in.edit_endpoint";
  $("endpoint-cancel").hidden = false;
  form.scrollIntoView({ block: "nearest" });
  form.url.focus();
}

/** The form as an endpoint body; throws an Error with a readable message. */
function collectEndpoint(form) {
  const kind = form.kind.value;
  const url = form.url.value.trim();
  if (!/^https?:\/\/\S+$/i.test(url)) throw new Error(t("in.err.url"));
  const events = [...form.querySelectorAll("[name=event]:checked")].map((i) => i.value);
  if (!events.length) throw new Error(t("in.err.events"));
  const counters = form.counters.value.split(/[,、，\s]+/).map((x) => x.trim()).filter(Boolean);
  if (counters.some((c) => !/^[0-9]{2}$/.test(c))) throw new Error(t("in.err.counters"));
  // every box ticked: [] (= every type, those the hub adds later too, e.g. ticket.linked)
  const all = EVENT_TYPES.every((type) => events.includes(type));
  const body = { kind, url, events: all ? [] : events, counters: counters.length ? counters : null, personal: form.personal.checked, enabled: form.enabled.checked };
  const config = {};
  for (const f of KIND_FIELDS[kind] || []) {
    const value = form[`cfg-${f.key}`].value.trim();
    if (f.secret) {
      if (value) body.secret = value;
    } else if (f.map) {
      if (value) config[f.key] = parseMap(value);
    } else if (value) {
      if (f.pattern && !new RegExp(`^(?:${f.pattern})$`).test(value)) throw new Error(t("in.err.field", { field: t(f.label) }));
      config[f.key] = value;
    }
  }
  if (kind !== "webhook") body.config = config;
  return body;
}

async function saveEndpoint(event) {
  event.preventDefault();
  const form = event.target;
  $("endpoint-error").textContent = "";
  let body;
  try {
    body = collectEndpoint(form);
  } catch (err) {
    $("endpoint-error").textContent = err.message;
    return;
  }
  const id = form.endpoint_id.value;
  $("endpoint-save").disabled = true;
  try {
    const data = id
      ? await api("PUT", `${base}/integrations/endpoints/${encodeURIComponent(id)}`, body)
      : await api("POST", `${base}/integrations/endpoints`, body);
    const saved = data.endpoint ?? data;
    resetEndpointForm();
    if (data.secret) showSecret(t("in.secret_title"), t("in.secret_for", { url: saved.url || body.url }), data.secret);
    notify(t(id ? "in.endpoint_saved" : "in.endpoint_added", { url: saved.url || body.url }));
    await refresh();
  } catch (err) {
    $("endpoint-error").textContent = err.code && err.code !== "network" ? `${err.message} (${err.code})` : err.message;
  } finally {
    $("endpoint-save").disabled = false;
  }
}

const endpointPath = (ep) => `${base}/integrations/endpoints/${encodeURIComponent(ep.id)}`;

function testEndpoint(ep) {
  return run(async () => {
    const data = await api("POST", `${endpointPath(ep)}/test`);
    const outcome = data.outcome ?? data;
    if (outcome.ok === false) {
      throw new ApiError(outcome.status ?? 0, "test_failed",
        t("in.test_failed", { url: ep.url, status: outcome.status ?? "–", detail: String(outcome.detail ?? "").slice(0, 200) }));
    }
    return outcome.ok === true ? t("in.test_ok", { url: ep.url, status: outcome.status ?? "" }) : t("in.test_queued", { url: ep.url });
  });
}

/** The endpoint as a PUT body, as listed (its secret stays), with `changes`. */
function bodyOf(ep, changes) {
  const body = { kind: ep.kind, url: ep.url, events: ep.events, counters: ep.counters ?? null, personal: ep.personal, enabled: ep.enabled };
  if (ep.config && ep.kind !== "webhook") body.config = ep.config;
  return { ...body, ...changes };
}

function toggleEndpoint(ep) {
  return run(async () => {
    await api("PUT", endpointPath(ep), bodyOf(ep, { enabled: !ep.enabled }));
    return t(ep.enabled ? "in.disabled" : "in.enabled_now", { url: ep.url });
  });
}

/** A webhook's new signing secret (shown once); the receiver needs it from now on. */
function rotateSecret(ep) {
  return run(async () => {
    const data = await api("PUT", endpointPath(ep), bodyOf(ep, { rotate_secret: true }));
    if (data.secret) showSecret(t("in.secret_title"), t("in.secret_for", { url: ep.url }), data.secret);
    return t("in.rotated", { url: ep.url });
  });
}

function removeEndpoint(ep) {
  return run(async () => {
    await api("DELETE", endpointPath(ep));
    if ($("endpoint-form").endpoint_id.value === ep.id) resetEndpointForm();
    return t("in.deleted", { url: ep.url });
  });
}

function replayDead(d) {
  return run(async () => {
    await api("POST", `${base}/integrations/dead/${encodeURIComponent(d.id)}/replay`);
    return t("in.replayed");
  });
}

/** The delivery log as CSV: fetched with the login (a plain link would not carry it), then
 * saved under the hub's file name. */
async function downloadCsv() {
  try {
    const r = await fetch(`${base}/integrations/deliveries?format=csv`, { headers: { Authorization: `Bearer ${state.token}` } });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const blob = await r.blob();
    const disposition = r.headers.get("Content-Disposition") || "";
    const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || `deliveries-${facility}.csv`;
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    notify(t("in.csv_failed", { why: err.message }), true);
  }
}

// ---- API keys ----------------------------------------------------------------------------

async function mintKey(event) {
  event.preventDefault();
  const form = event.target;
  $("key-error").textContent = "";
  const label = form.label.value.trim();
  const scopes = [...form.querySelectorAll("[name=scope]:checked")].map((i) => i.value);
  if (!label || !scopes.length) {
    $("key-error").textContent = t(label ? "in.err.scopes" : "in.err.label");
    return;
  }
  $("key-mint").disabled = true;
  try {
    const data = await api("POST", `${base}/api-keys`, { label, scopes });
    form.label.value = "";
    showSecret(t("in.key_title"), t("in.key_for", { label }), data.key);
    notify(t("in.key_minted", { label }));
    await refresh();
  } catch (err) {
    $("key-error").textContent = err.code && err.code !== "network" ? `${err.message} (${err.code})` : err.message;
  } finally {
    $("key-mint").disabled = false;
  }
}

function revokeKey(k) {
  return run(async () => {
    await api("DELETE", `${base}/api-keys/${encodeURIComponent(k.id)}`);
    return t("in.key_revoked", { label: k.label ?? k.id });
  });
}

// ---- language ----------------------------------------------------------------------------

function labelLangButton() {
  const other = currentLang() === "ja" ? "en" : "ja";
  $("lang").textContent = other === "en" ? "English" : "日本語";
  $("lang").setAttribute("lang", other);
}

function relabel() {
  applyI18n();
  labelLangButton();
  if (state.token) render();
}

function switchLanguage() {
  const lang = currentLang() === "ja" ? "en" : "ja";
  const url = new URL(location.href);
  url.searchParams.set("lang", lang);
  history.replaceState(history.state, "", url);
  document.documentElement.lang = lang;
  relabel();
}

/** ?lang= (the server set <html lang> from it), else the facility's `lang`, else the
 * server's choice from the browser; the facility's name in the header. */
async function loadFacility() {
  try {
    const r = await fetch(`/v1/facilities/${facility}`, { cache: "no-store" });
    if (!r.ok) return;
    const record = await r.json();
    $("facility-name").textContent = record.name || t("in.facility", { facility });
    const asked = new URLSearchParams(location.search).get("lang");
    if (asked !== "ja" && asked !== "en" && record.lang) {
      document.documentElement.lang = record.lang === "en" ? "en" : "ja";
      relabel();
    }
  } catch {
    // the name stays the facility number
  }
}

function init() {
  relabel();
  renderEventChoices();
  renderKindFields($("kind").value);
  $("kind").addEventListener("change", () => renderKindFields($("kind").value,
    $("endpoint-form").endpoint_id.value ? state.endpoints.find((e) => e.id === $("endpoint-form").endpoint_id.value) : null));
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => logout());
  $("endpoint-form").addEventListener("submit", saveEndpoint);
  $("endpoint-cancel").addEventListener("click", resetEndpointForm);
  $("key-form").addEventListener("submit", mintKey);
  $("deliveries-csv").addEventListener("click", downloadCsv);
  $("secret-copy").addEventListener("click", copySecret);
  $("secret-done").addEventListener("click", hideSecret);
  $("lang").addEventListener("click", switchLanguage);
  loadFacility();
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && usable(claims(token), facility)) begin(token);
  else logout(token ? t("in.expired") : "");
}

init();
