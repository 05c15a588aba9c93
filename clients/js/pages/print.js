// The paper ticket /print/{info}/{id}: number, time, the clinic, and a QR code of the ticket's
// short link (/t/{facility}/{code}, which opens the patient's live page). Authority comes in
// the URL fragment (#token=<the ticket's token or a staff token>, never sent to the server) or
// from this browser's stored ticket. Options in the fragment too: paper=58|80 (default 80),
// autoprint=1 (print once ready).

import { addStrings, applyI18n, clock, currentLang, t } from "./i18n.js";
import { ticketById } from "./tickets.js";

addStrings({
  ja: {
    "pr.print": "印刷する",
    "pr.number": "受付番号",
    "pr.qr_help": "スマートフォンで読み取ると、待ち状況と呼び出しを確認できます",
    "pr.foot": "番号が呼ばれるまでお待ちください。",
    "pr.ahead": "発券時の待ち人数：{n}人",
    "pr.issued": "{date} {time} 発券",
    "pr.no_token": "この受付票を表示する権限がありません（URLの #token= が必要です）。",
    "pr.gone": "この番号は本日の受付にありません。",
    "pr.failed": "受付票を読み込めませんでした。",
  },
  en: {
    "pr.print": "Print",
    "pr.number": "Your number",
    "pr.qr_help": "Scan with your phone to follow the queue and be told when it's your turn",
    "pr.foot": "Please wait until your number is called.",
    "pr.ahead": "Waiting ahead when issued: {n}",
    "pr.issued": "Issued {date} {time}",
    "pr.no_token": "Not allowed to show this ticket (the URL needs its #token=).",
    "pr.gone": "This number is not in today's queue.",
    "pr.failed": "Could not load the ticket.",
  },
});

const $ = (id) => document.getElementById(id);
const { info: INFO, facility: FACILITY, ticket: TICKET_ID } = document.body.dataset;
const hash = new URLSearchParams(location.hash.slice(1));
// the token (and the options) leave the address bar at once: not in the history, not in a
// bookmark or a shared link, not on a screenshot of the URL
if (location.hash) history.replaceState(null, "", location.pathname + location.search);

function storedToken() {
  const mine = ticketById(TICKET_ID);
  return mine && mine.info === INFO ? mine.token : null;
}

async function getJSON(path, token) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { headers, cache: "no-store" });
  return { status: response.status, data: await response.json().catch(() => null) };
}

function setPaper(paper) {
  document.documentElement.dataset.paper = paper;
  for (const b of document.querySelectorAll("[data-paper]")) {
    b.setAttribute("aria-pressed", String(b.dataset.paper === paper));
  }
}

function fail(key) {
  $("error").textContent = t(key);
  $("error").hidden = false;
  document.body.dataset.ready = "error";
}

function dateText(iso, tz) {
  return new Intl.DateTimeFormat(currentLang() === "en" ? "en-GB" : "ja-JP", {
    year: "numeric", month: "2-digit", day: "2-digit", timeZone: tz || undefined,
  }).format(new Date(iso));
}

async function load() {
  const token = hash.get("token") || storedToken();
  if (!token) return fail("pr.no_token");
  const base = `/v1/queues/${INFO}/tickets/${encodeURIComponent(TICKET_ID)}`;
  const [ticket, facility, link] = await Promise.all([
    getJSON(base, token),
    getJSON(`/v1/facilities/${FACILITY}`),
    getJSON(`${base}/link`, token),
  ]);
  if (ticket.status === 401 || ticket.status === 403) return fail("pr.no_token");
  if (ticket.status === 404) return fail("pr.gone");
  if (ticket.status !== 200 || link.status !== 200) return fail("pr.failed");
  const tz = facility.data?.tz;
  if (facility.status === 200) {
    $("clinic").textContent = facility.data.name;
    const counter = facility.data.counters.find((c) => `${FACILITY}-${c.counter}` === INFO);
    $("counter").textContent = counter ? `${counter.label} · ${INFO}` : INFO;
  }
  const tk = ticket.data.ticket;
  $("number").textContent = String(tk.number);
  $("time").textContent = t("pr.issued", { date: dateText(tk.issued_at, tz), time: clock(tk.issued_at, tz) });
  $("ahead").textContent = tk.status === "waiting" ? t("pr.ahead", { n: ticket.data.ahead }) : "";
  const qr = $("qr");
  qr.src = URL.createObjectURL(new Blob([link.data.qr_svg], { type: "image/svg+xml" }));
  qr.alt = link.data.short_url; // the QR code holds the ticket's short link (/t/…)
  $("qr-url").textContent = link.data.short_url.replace(/^https?:\/\//, "");
  await qr.decode().catch(() => {});
  qr.hidden = false;
  $("qr-help").hidden = false;
  document.title = `${tk.number} · ${facility.data?.name ?? INFO}`;
  document.body.dataset.ready = "true";
  if (hash.get("autoprint") === "1") window.print();
}

async function main() {
  applyI18n();
  setPaper(hash.get("paper") === "58" ? "58" : "80");
  for (const b of document.querySelectorAll("[data-paper]")) {
    b.addEventListener("click", () => setPaper(b.dataset.paper));
  }
  $("print-btn").addEventListener("click", () => window.print());
  try {
    await load();
  } catch {
    fail("pr.failed");
  }
}

main();
