// One counter's card on the monitor: its label, the newest call large with its room, the
// earlier calls as separate chips (「25番 → 2診」), the next numbers and the waiting count.
// `ctx` = { langs: ["ja"] | ["en"] | ["ja", "en"], record, room } (room: this screen's room
// filter or null).

import { tr } from "./monitor.strings.js";

const ARROW = "M4 12h13M12 6l6 6-6 6";
const SVG = "http://www.w3.org/2000/svg";

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function arrow() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "mon-chip-arrow");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ARROW);
  svg.append(path);
  return svg;
}

/** Text in the screen's language; on a "ja+en" screen the English follows, smaller. */
export function words(ctx, key, vars) {
  const [first, second] = ctx.langs;
  const nodes = [tr(first, key, vars)];
  if (second) nodes.push(el("span", "mon-en", tr(second, key, vars)));
  return nodes;
}

function counterOf(ctx, counter) {
  return ctx.record?.counters?.find((c) => c.counter === counter);
}

export function counterLabel(ctx, counter, lang = ctx.langs[0]) {
  return counterOf(ctx, counter)?.label || tr(lang, "m.counter", { counter });
}

/** The room's name: the clinic's label for it (`counters[].rooms`), else 「2番診察室」 /
 * "Room 2" for a number, else the room as given; "" for no room. */
export function roomName(ctx, counter, room, lang = ctx.langs[0], short = false) {
  if (!room) return "";
  const label = counterOf(ctx, counter)?.rooms?.find((r) => String(r.room) === String(room))?.label;
  if (label) return label;
  return /^[0-9]+$/.test(room) ? tr(lang, short ? "m.room_short" : "m.room", { room }) : room;
}

/** The calls this screen shows for a view, newest first. */
export function callsOf(ctx, view) {
  const calling = view?.calling || [];
  return ctx.room ? calling.filter((c) => String(c.room) === ctx.room) : calling;
}

function slot(className, max, wide) {
  const node = el("div", `${className} mon-slot`);
  node.dataset.max = String(max);
  node.dataset.wide = String(wide);
  return node;
}

export function buildCard(info) {
  const card = el("article", "mon-counter");
  card.dataset.info = info;
  const id = `label-${info}`;
  card.setAttribute("aria-labelledby", id);
  const head = slot("mon-counter-head", 0.9, 0.09);
  const h = el("h2", "mon-counter-label mon-text");
  h.id = id;
  head.append(h);
  const now = slot("mon-now", 1, 0.32);
  const main = el("div", "mon-now-main");
  const where = el("div", "mon-now-where");
  where.append(el("span", "mon-now-room mon-text"), el("span", "mon-from mon-text"));
  main.append(el("span", "mon-now-number jb-num mon-text"), where);
  now.append(el("span", "mon-now-caption mon-text"), main);
  const recent = slot("mon-recent", 0.8, 0.065);
  recent.append(el("span", "mon-recent-caption mon-text"), el("ol", "mon-recent-list"));
  const next = slot("mon-next", 0.8, 0.065);
  const waiting = el("p", "mon-waiting mon-text");
  waiting.setAttribute("aria-live", "polite");
  next.append(el("span", "mon-next-caption mon-text"), el("ol", "mon-next-list"), waiting,
    el("p", "mon-closed mon-text"));
  card.append(head, now, recent, next);
  return card;
}

function chip(ctx, counter, call) {
  const li = el("li", "mon-recent-item");
  li.append(el("span", "mon-chip-num jb-num mon-text", tr(ctx.langs[0], "m.number", { n: call.number })));
  const room = roomName(ctx, counter, call.room, ctx.langs[0], true);
  if (room) li.append(arrow(), el("span", "mon-chip-room mon-text", room));
  const full = roomName(ctx, counter, call.room);
  li.setAttribute("aria-label", tr(ctx.langs[0], "m.call_aria", { n: call.number, where: full }).trim());
  return li;
}

/** A next number; a checked-in booking's carries a small 予約 mark. */
function nextItem(lang, n, reserved) {
  const li = el("li", `mon-next-item jb-num mon-text${reserved ? " is-reserved" : ""}`, String(n));
  if (reserved) li.append(el("span", "mon-next-mark", tr(lang, "m.reserved")));
  return li;
}

/** Fill `card` from the queue's public view (undefined: not known yet). */
export function fillCard(ctx, card, view, items) {
  const counter = card.dataset.info.split("-")[1];
  const [lang, second] = ctx.langs;
  card.querySelector(".mon-counter-label").textContent = counterLabel(ctx, counter);
  const [first, ...rest] = callsOf(ctx, view);
  const number = card.querySelector(".mon-now-number");
  number.textContent = first ? String(first.number) : "—";
  number.setAttribute("aria-label", first ? tr(lang, "m.number", { n: first.number }) : tr(lang, "m.no_call"));
  card.querySelector(".mon-now-caption").replaceChildren(...words(ctx, "m.now"));
  const room = card.querySelector(".mon-now-room");
  if (first?.room) {
    room.replaceChildren(tr(lang, "m.to_room", { where: roomName(ctx, counter, first.room) }));
    if (second) room.append(el("span", "mon-en", tr(second, "m.to_room", { where: roomName(ctx, counter, first.room, second) })));
  } else room.replaceChildren();
  const from = card.querySelector(".mon-from"); // a transfer's counter, else a booking's mark
  from.textContent = first?.from ? tr(lang, "m.from", { label: counterLabel(ctx, first.from) })
    : first?.reserved ? tr(lang, "m.reserved") : "";
  from.hidden = !from.textContent;
  card.classList.toggle("is-idle", !first);

  card.querySelector(".mon-recent-caption").replaceChildren(...words(ctx, "m.earlier"));
  card.querySelector(".mon-recent-list").replaceChildren(...rest.slice(0, items.earlier).map((c) => chip(ctx, counter, c)));
  card.querySelector(".mon-recent").classList.toggle("is-empty", rest.length === 0);

  card.querySelector(".mon-next-caption").replaceChildren(...words(ctx, "m.next"));
  const upcoming = (view?.waiting || []).slice(0, items.next);
  const reserved = new Set(view?.reserved || []);
  card.querySelector(".mon-next-list").replaceChildren(
    ...(upcoming.length ? upcoming.map((n) => nextItem(lang, n, reserved.has(n)))
      : [el("li", "mon-next-none mon-text", tr(lang, "m.next_none"))]));
  const waiting = card.querySelector(".mon-waiting");
  const count = String(view?.waiting_count ?? 0);
  const key = `${count}|${ctx.langs.join("+")}`;
  if (waiting.dataset.key !== key) { // aria-live: only a changed count is announced
    waiting.dataset.key = key;
    waiting.replaceChildren(`${tr(lang, "m.waiting")} `, el("b", "jb-num", count), ` ${tr(lang, "m.waiting_unit")}`.trimEnd());
  }
  card.querySelector(".mon-closed").textContent = tr(lang, "m.closed");
  card.classList.toggle("is-closed", view ? !view.open : false);
}
