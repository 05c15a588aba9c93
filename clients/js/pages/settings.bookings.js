// The settings page's 「時間帯予約」 editor of one counter (a part of its card): on/off, the
// bands (from, to, capacity, weekdays 1 = Mon … 7 = Sun), the placement policy, the
// check-in window, the show rate, the horizon, where patients may check in and the holidays
// switch. It reads the current ones from the counter's staff view (`config.bookings`; null:
// off) and gives the card's save the value of `bookings` for PUT /v1/queues/{info}/config
// (null turns bookings off; undefined, while unread, leaves them as they are). The closed
// dates are kept as they are.

import { onLangChange, t } from "./i18n.js";
import { el } from "./staffsession.js";

const DAYS = [1, 2, 3, 4, 5, 6, 7];
const PLACEMENTS = ["band_first", "interleave", "target_time"];
const DEFAULTS = { bands: [], placement: "band_first", early_min: 15, late_min: 15, show_rate: 0.9,
  horizon_days: 14, check_in: "anywhere", closed_dates: [], closed_on_holidays: true };

/** A text with its data-i18n key (the page relabels those when the language changes). */
const text = (key, tag = "span", attrs = {}) => el(tag, { "data-i18n": key, ...attrs }, t(key));
const field = (key, input, cls = "") => el("label", { class: `jb-field ${cls}` }, text(key), input);
const number = (name, min, max, step = 1) => el("input", { class: "jb-input", type: "number", name, min, max, step });

function bandRow(band) {
  const row = el("div", { class: "se-bk-band" });
  const days = el("fieldset", { class: "se-bk-days" }, text("se.bk.days", "legend"),
    ...DAYS.map((d) => el("label", { class: "se-bk-day" },
      el("input", { type: "checkbox", name: "bk_day", value: d, checked: (band.days || DAYS).includes(d) }),
      text(`se.bk.wd.${d}`))));
  row.append(
    field("se.bk.from", el("input", { class: "jb-input", type: "time", name: "bk_from", value: band.from, required: true })),
    field("se.bk.to", el("input", { class: "jb-input", type: "time", name: "bk_to", value: band.to, required: true })),
    field("se.bk.capacity", Object.assign(number("bk_capacity", 1, 500), { value: String(band.capacity) }), "se-num"),
    days,
    el("button", { class: "jb-btn jb-btn-danger-quiet", type: "button", "data-i18n": "se.bk.remove",
      onclick: () => row.remove() }, t("se.bk.remove")));
  return row;
}

/**
 * The editor of queue `q` ({info, counter}), reading with `api(method, path)`. Returns
 * {node, value(), show(bookings)}: `value()` is `bookings` for the PUT (throws an Error with
 * a readable message), `show()` puts saved settings back in.
 */
export function bookingEditor(q, api) {
  let loaded = false;
  let closedDates = [];
  const on = el("input", { type: "checkbox", name: "bk_on" });
  const state = el("span", { class: "se-bk-state jb-small jb-muted" });
  const note = el("p", { class: "jb-small jb-muted se-bk-note" }, t("se.bk.loading"));
  const bands = el("div", { class: "se-bk-bands" });
  const placement = el("select", { class: "jb-input", name: "bk_placement" },
    ...PLACEMENTS.map((p) => text(`se.bk.placement.${p}`, "option", { value: p })));
  const k = number("bk_k", 1, 20);
  const kField = field("se.bk.k", k, "se-num");
  const checkIn = el("select", { class: "jb-input", name: "bk_check_in" },
    ...["anywhere", "on_site"].map((c) => text(`se.bk.check_in.${c}`, "option", { value: c })));
  const holidays = el("input", { type: "checkbox", name: "bk_holidays" });
  const inputs = {
    early_min: number("bk_early_min", 0, 180), late_min: number("bk_late_min", 0, 180),
    show_rate: number("bk_show_rate", 1, 100), horizon_days: number("bk_horizon_days", 0, 60),
  };
  const closed = el("p", { class: "jb-small jb-muted" });
  const body = el("div", { class: "se-bk-body" },
    text("se.bk.help", "p", { class: "jb-small jb-muted" }),
    bands,
    el("button", { class: "jb-btn jb-btn-quiet se-bk-add", type: "button", "data-i18n": "se.bk.add",
      onclick: () => bands.append(bandRow({ from: "09:00", to: "10:00", capacity: 5, days: DAYS })) }, t("se.bk.add")),
    el("div", { class: "se-bk-grid" },
      field("se.bk.placement", placement), kField,
      ...Object.entries(inputs).map(([key, input]) => field(`se.bk.${key}`, input)),
      field("se.bk.check_in", checkIn)),
    el("label", { class: "jb-check" }, holidays, text("se.bk.holidays")),
    closed);
  const toggle = el("label", { class: "jb-check" }, on, text("se.bk.on"));
  const node = el("details", { class: "se-bookings" },
    el("summary", {}, text("se.bk.title"), " ", state), note, toggle, body);

  const refresh = () => {
    body.hidden = !on.checked;
    kField.hidden = placement.value !== "interleave";
    const n = bands.children.length;
    state.textContent = !loaded ? "" : on.checked ? t("se.bk.on_state", { n }) : t("se.bk.off_state");
  };
  const off = onLangChange(() => (node.isConnected ? refresh() : off())); // the n 枠 / オフ text
  on.addEventListener("change", refresh);
  placement.addEventListener("change", refresh);
  toggle.hidden = body.hidden = true;

  function show(bookings) {
    loaded = true;
    const b = { ...DEFAULTS, ...(bookings || {}) };
    on.checked = bookings != null;
    bands.replaceChildren(...b.bands.map(bandRow));
    const [name, kText] = String(b.placement).split(":");
    placement.value = PLACEMENTS.includes(name) ? name : "band_first";
    k.value = kText || "2";
    for (const key of ["early_min", "late_min", "horizon_days"]) inputs[key].value = String(b[key]);
    inputs.show_rate.value = String(Math.round(b.show_rate * 100));
    checkIn.value = b.check_in;
    holidays.checked = b.closed_on_holidays;
    closedDates = [...(b.closed_dates || [])];
    closed.textContent = closedDates.length ? t("se.bk.closed_dates", { dates: closedDates.join(", ") }) : "";
    note.hidden = true;
    toggle.hidden = false;
    refresh();
  }

  function value() {
    if (!loaded) return undefined;
    if (!on.checked) return null;
    const rows = [...bands.querySelectorAll(".se-bk-band")].map((row) => {
      const from = row.querySelector("[name=bk_from]").value;
      const to = row.querySelector("[name=bk_to]").value;
      if (!from || !to) throw new Error(`${t("se.bk.title")}: ${t("se.err.time")}`);
      const days = [...row.querySelectorAll("[name=bk_day]:checked")].map((c) => Number(c.value));
      if (!days.length) throw new Error(t("se.bk.err.days"));
      return { from, to, capacity: whole(row.querySelector("[name=bk_capacity]").value), days };
    });
    return {
      bands: rows,
      placement: placement.value === "interleave" ? `interleave:${whole(k.value)}` : placement.value,
      early_min: whole(inputs.early_min.value),
      late_min: whole(inputs.late_min.value),
      show_rate: whole(inputs.show_rate.value) / 100,
      horizon_days: whole(inputs.horizon_days.value),
      check_in: checkIn.value,
      closed_dates: closedDates,
      closed_on_holidays: holidays.checked,
    };
  }

  api("GET", `/v1/queues/${q.info}/staff`).then((view) => {
    if (view.config && "bookings" in view.config) show(view.config.bookings);
    else node.hidden = true; // a hub without bookings
  }).catch(() => {
    note.textContent = t("se.bk.load_failed");
  });
  return { node, value, show };
}

/** A whole number from an input, else an Error the card shows. */
function whole(raw) {
  const n = Number(raw);
  if (raw === "" || !Number.isInteger(n)) throw new Error(t("se.bk.err.number"));
  return n;
}
