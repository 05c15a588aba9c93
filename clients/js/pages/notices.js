// Operator notices carried in every queue's public view (`notices`): announced interruptions
// (Art. 13: maintenance, failures) and discontinuations of a service part (Art. 14, at least
// two months ahead). Every page shows them ahead of time, from the live view, until they are
// over; an interruption under way is shown as such.

import { addStrings, currentLang, t } from "./i18n.js";

addStrings({
  ja: {
    "notice.upcoming": "【メンテナンスのお知らせ】{when} はサービスを一時停止します。",
    "notice.ongoing": "【サービス停止中】{when} サービスを一時停止しています。",
    "notice.urgent": "【緊急のお知らせ】{when} サービスを一時停止しています。",
    "notice.until": "{end}まで",
    "notice.discontinued": "【サービス終了のお知らせ】{day}をもって「{part}」の提供を終了します。",
    "part.reservation": "順番受付",
    "part.video": "待合室動画",
    "part.emr": "電子カルテ連携",
    "part.phone": "電話呼び出し",
    "part.api": "ホームページ表示",
  },
  en: {
    "notice.upcoming": "Maintenance: the service will pause {when}.",
    "notice.ongoing": "The service is paused {when}.",
    "notice.urgent": "Urgent: the service is paused {when}.",
    "notice.until": "until {end}",
    "notice.discontinued": "The {part} service ends on {day}.",
    "part.reservation": "queue ticket",
    "part.video": "waiting-room video",
    "part.emr": "EMR link",
    "part.phone": "phone call-out",
    "part.api": "homepage display",
  },
});

/** The notices not over at `now` (ms), soonest first. */
export function currentNotices(notices, now = Date.now()) {
  return (notices || [])
    .filter((n) => !n.ends_at || Date.parse(n.ends_at) > now)
    .sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at));
}

function format(iso, tz, withTime) {
  const en = currentLang() === "en";
  const options = { month: en ? "short" : "long", day: "numeric", weekday: "short", timeZone: tz };
  if (withTime) Object.assign(options, { hour: "2-digit", minute: "2-digit" });
  try {
    return new Intl.DateTimeFormat(en ? "en-GB" : "ja-JP", options).format(new Date(iso));
  } catch {
    return new Date(iso).toLocaleString();
  }
}

/** One notice as a sentence in the page's language (times in the clinic's zone `tz`). */
export function noticeText(n, tz = "Asia/Tokyo", now = Date.now()) {
  if (n.kind === "discontinuation") {
    const part = t(`part.${n.part || "reservation"}`);
    return `${t("notice.discontinued", { day: format(n.starts_at, tz, false), part })} ${n.message || ""}`.trim();
  }
  const start = format(n.starts_at, tz, true);
  const when = n.ends_at ? `${start}〜${format(n.ends_at, tz, true)}` : start;
  const ongoing = Date.parse(n.starts_at) <= now;
  const key = ongoing ? (n.urgent ? "notice.urgent" : "notice.ongoing") : "notice.upcoming";
  const head = ongoing && n.ends_at ? t(key, { when: t("notice.until", { end: format(n.ends_at, tz, true) }) }) : t(key, { when });
  return `${head} ${n.message || ""}`.trim();
}

/** Fill `container` with one paragraph per current notice; hide it when there are none.
 * The container is an aria-live region: its children are replaced only when what it says
 * changes (every live update calls this), so screen readers hear a notice once. Returns
 * whether it changed the container. */
export function renderNotices(container, notices, tz) {
  const now = Date.now();
  const shown = currentNotices(notices, now).map((n) => ({
    kind: n.kind,
    ongoing: String(Date.parse(n.starts_at) <= now),
    text: noticeText(n, tz, now),
  }));
  const signature = JSON.stringify(shown);
  const changed = container.dataset.notices !== signature;
  if (changed) {
    container.dataset.notices = signature;
    container.replaceChildren(
      ...shown.map((n) => {
        const p = document.createElement("p");
        p.className = "jb-op-notice";
        p.dataset.kind = n.kind;
        p.dataset.ongoing = n.ongoing;
        p.textContent = n.text;
        return p;
      }),
    );
  }
  const hidden = shown.length === 0 && container.childElementCount === 0;
  if (container.hidden !== hidden) container.hidden = hidden;
  return changed;
}
