// Shared strings and the language switch of the hub's pages (Japanese by default, English).
// The server sets <html lang> (?lang=, the `junban_lang` cookie, then Accept-Language); a page
// adds its own strings with addStrings(), marks elements with data-i18n="key" (text),
// data-i18n-aria-label / data-i18n-placeholder / data-i18n-title (attributes), and calls
// applyI18n(). setLang() switches in place and remembers the choice in the cookie.

export const LANGS = ["ja", "en"];
const dict = { ja: {}, en: {} };
const listeners = new Set();

export function addStrings(strings) {
  for (const lang of LANGS) Object.assign(dict[lang], strings[lang] || {});
}

export function currentLang() {
  return (document.documentElement.lang || "ja").toLowerCase().startsWith("en") ? "en" : "ja";
}

/** The string `key` in the current language, `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const lang = currentLang();
  const text = dict[lang][key] ?? dict.ja[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ["aria-label", "placeholder", "title"]) {
    const data = "i18n" + attr.replace(/(^|-)(\w)/g, (m, s, c) => c.toUpperCase());
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) {
      el.setAttribute(attr, t(el.dataset[data]));
    }
  }
}

export function setLang(lang) {
  if (!LANGS.includes(lang)) return;
  document.documentElement.lang = lang;
  document.cookie = `junban_lang=${lang}; path=/; max-age=31536000; samesite=lax`;
  applyI18n();
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Wire a button that toggles ja <-> en (its label shows the other language). */
export function bindLangToggle(button) {
  const label = () => {
    const other = currentLang() === "ja" ? "en" : "ja";
    button.textContent = other === "en" ? "English" : "日本語";
    button.setAttribute("lang", other);
    button.setAttribute("aria-label", other === "en" ? "Switch to English" : "日本語に切り替え");
  };
  button.addEventListener("click", () => setLang(currentLang() === "ja" ? "en" : "ja"));
  onLangChange(label);
  label();
}

/** "14:05" in the clinic's time zone (the queue's `tz`), from an ISO time. */
export function clock(iso, tz) {
  if (!iso) return "";
  try {
    return new Intl.DateTimeFormat(currentLang() === "en" ? "en-GB" : "ja-JP", {
      hour: "2-digit",
      minute: "2-digit",
      timeZone: tz || undefined,
    }).format(new Date(iso));
  } catch {
    return new Date(iso).toTimeString().slice(0, 5);
  }
}

addStrings({
  ja: {
    "common.brand": "順番 Junban",
    "common.online": "リアルタイム更新中",
    "common.offline": "接続が切れています。再接続中…",
    "common.loading": "読み込み中…",
    "common.retry": "もう一度試す",
    "common.close": "閉じる",
    "common.minutes": "約{n}分",
    "common.minutes_range": "約{lo}〜{hi}分",
    "common.people": "{n}人",
    "common.room": "{room}番診察室",
    "common.no_room": "診察室",
    "common.not_found": "ページが見つかりません",
  },
  en: {
    "common.brand": "Junban",
    "common.online": "Live",
    "common.offline": "Connection lost. Reconnecting…",
    "common.loading": "Loading…",
    "common.retry": "Try again",
    "common.close": "Close",
    "common.minutes": "about {n} min",
    "common.minutes_range": "about {lo}–{hi} min",
    "common.people": "{n}",
    "common.room": "room {room}",
    "common.no_room": "the consultation room",
    "common.not_found": "Page not found",
  },
});
