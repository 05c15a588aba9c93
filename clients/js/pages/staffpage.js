// The shell of a staff sub-page (/console/{facility}/…): what the analytics, calls and
// integrations pages each carry a copy of, once. The header (the facility's name, the
// language switch with ?lang=, the user, logout), the login form (submitLogin, or the
// console's stored login), a notice bar, the API call with the bearer token (a 401 logs out)
// and the facility record (name, time zone, counters, language).
// The page's HTML has #facility-name, #lang, #me, #logout, #login (with #login-form and
// #login-error), #app and #notice. Used by the bookings page (予約); the older sub-pages keep
// their own copies for now.

import { addStrings, applyI18n, currentLang, t } from "./i18n.js";
import { submitLogin } from "./staff.password.js";
import { ApiError, TOKEN_KEY, claims, usable } from "./staffsession.js";

addStrings({
  ja: {
    "sp.facility": "施設 {facility}",
    "sp.back": "スタッフ画面へ戻る",
    "sp.logout": "ログアウト",
    "sp.login_title": "スタッフ ログイン",
    "sp.user": "ユーザー名",
    "sp.password": "パスワード",
    "sp.login": "ログイン",
    "sp.login_wrong": "ユーザー名またはパスワードが違います。",
    "sp.login_wait": "ログインの試行が続いたため、{wait} 秒後にもう一度お試しください。",
    "sp.login_other": "このアカウントでは施設 {facility} のページは見られません。",
    "sp.expired": "ログインの有効期限が切れました。もう一度ログインしてください。",
    "sp.err.network": "ハブに接続できません。ネットワークを確認してください。",
    "sp.err.forbidden": "このアカウントでは、この操作はできません。",
  },
  en: {
    "sp.facility": "Facility {facility}",
    "sp.back": "Back to the staff screen",
    "sp.logout": "Log out",
    "sp.login_title": "Staff login",
    "sp.user": "User name",
    "sp.password": "Password",
    "sp.login": "Log in",
    "sp.login_wrong": "Wrong user name or password.",
    "sp.login_wait": "Too many attempts: please try again in {wait} s.",
    "sp.login_other": "This account cannot open the pages of facility {facility}.",
    "sp.expired": "Your login has expired. Please log in again.",
    "sp.err.network": "Cannot reach the hub. Check the network.",
    "sp.err.forbidden": "This account may not do that.",
  },
});

const $ = (id) => document.getElementById(id);

/** A random Idempotency-Key (randomUUID needs a secure context: a plain-http LAN has none). */
export function newKey() {
  if (globalThis.crypto?.randomUUID && globalThis.isSecureContext) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Today in time zone `tz` as YYYY-MM-DD. */
export function todayIn(tz) {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  } catch {
    return new Date().toISOString().slice(0, 10);
  }
}

/**
 * Start the shell. `prefix`: the page's strings (`{prefix}.err.{code}` for the API's error
 * codes it explains itself). `onStart(page)`: logged in and the facility record read (again
 * after each login). `onStop()`: logged out. `onRelabel()`: the language changed. Returns
 * the page: {facility, token, record, tz, api, notify, said, logout}.
 */
export function staffPage({ prefix, onStart = () => {}, onStop = () => {}, onRelabel = () => {} }) {
  const facility = document.body.dataset.facility.replace(/[^0-9]/g, "");
  const page = { facility, token: null, record: null, tz: "Asia/Tokyo", api, notify, said, logout };
  let recordRead = null;

  function errorText(code, fallback) {
    for (const key of [`${prefix}.err.${code}`, `sp.err.${code}`]) {
      const text = t(key);
      if (text !== key) return text;
    }
    return fallback;
  }

  /** One API call with the login; JSON in and out. An error is an ApiError whose `detail`
   * is the hub's error object (extra fields such as `opens_at`). */
  async function api(method, path, body, headers = {}) {
    const all = { Authorization: `Bearer ${page.token}`, ...headers };
    if (body !== undefined) all["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers: all, cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, "network", errorText("network", "network"));
    }
    const data = await response.json().catch(() => ({}));
    if (response.ok) return data;
    const code = data.error?.code || "http_error";
    if (response.status === 401) logout(t("sp.expired"));
    const err = new ApiError(response.status, code, errorText(code, data.error?.message || `HTTP ${response.status}`));
    err.detail = data.error || {};
    throw err;
  }

  /** An error as the staff read it: our text, with the hub's code. */
  function said(err) {
    return err.code && err.code !== "network" ? `${err.message} (${err.code})` : err.message;
  }

  function notify(message, isError = false) {
    const box = $("notice");
    box.textContent = message || "";
    box.hidden = !message;
    box.setAttribute("role", isError ? "alert" : "status");
    box.classList.toggle("jb-notice-error", isError);
    box.classList.toggle("jb-notice-info", !isError);
  }

  function show(section) {
    for (const id of ["login", "app"]) $(id).hidden = id !== section;
    $("logout").hidden = section === "login";
  }

  function logout(reason = "") {
    sessionStorage.removeItem(TOKEN_KEY);
    const was = page.token;
    page.token = null;
    $("me").textContent = "";
    show("login");
    $("login-error").textContent = reason;
    $("login-form").user.focus();
    if (was) onStop();
  }

  async function login(event) {
    event.preventDefault();
    const text = (key, vars) => t(`sp.${key}`, vars);
    const token = await submitLogin(event.target, $("login"), $("login-error"), facility, text);
    if (token) {
      sessionStorage.setItem(TOKEN_KEY, token);
      begin(token);
    }
  }

  async function begin(token) {
    const c = claims(token);
    page.token = token;
    $("me").textContent = c.sub || c.role;
    show("app");
    await recordRead;
    if (page.token === token) onStart(page);
  }

  function labelLangButton() {
    const other = currentLang() === "ja" ? "en" : "ja";
    $("lang").textContent = other === "en" ? "English" : "日本語";
    $("lang").setAttribute("lang", other);
  }

  function relabel() {
    applyI18n();
    labelLangButton();
    const name = page.record?.name;
    $("facility-name").textContent = name || t("sp.facility", { facility });
    onRelabel();
  }

  /** The language button: the choice goes into the address (?lang=), so a reload keeps it. */
  function switchLanguage() {
    const lang = currentLang() === "ja" ? "en" : "ja";
    const url = new URL(location.href);
    url.searchParams.set("lang", lang);
    history.replaceState(history.state, "", url);
    document.documentElement.lang = lang;
    relabel();
  }

  /** The facility's public record: its name, time zone and counters; its `lang` unless
   * ?lang= chose (the server set <html lang> from that). */
  async function loadFacility() {
    try {
      const r = await fetch(`/v1/facilities/${facility}`, { cache: "no-store" });
      if (!r.ok) return;
      const record = await r.json();
      page.record = record;
      if (typeof record.tz === "string" && record.tz) page.tz = record.tz;
      const asked = new URLSearchParams(location.search).get("lang");
      if (asked !== "ja" && asked !== "en" && record.lang) document.documentElement.lang = record.lang === "en" ? "en" : "ja";
      relabel();
    } catch {
      // the name stays the facility number; the page shows what it can
    }
  }

  applyI18n();
  labelLangButton();
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => logout());
  $("lang").addEventListener("click", switchLanguage);
  recordRead = loadFacility();
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && usable(claims(token), facility)) begin(token);
  else logout(token ? t("sp.expired") : "");
  return page;
}
