// Small dependency-free SVG charts (the analytics page): bars, lines and a weekday × hour
// heatmap. Each returns a <figure>: an <svg role="img"> with its <title> and <desc>, then the
// same figures as a visually hidden <table> for screen readers. Every text goes in through
// textContent (never markup); colours come from classes (analytics.css: base.css variables),
// a cell's shade from its fill-opacity attribute (the CSP allows no inline style).

const NS = "http://www.w3.org/2000/svg";
const W = 480; // the viewBox width (`o.width` for a wide chart): about its CSS width
const PAD = { left: 44, right: 10, top: 24, bottom: 30 };
let serial = 0;

function svgEl(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) node.setAttribute(k, String(v));
  if (text != null) node.textContent = String(text);
  return node;
}

function htmlEl(tag, attrs = {}, text = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text != null) node.textContent = String(text);
  return node;
}

/** The figure: the svg (viewBox o.width × height) and a hidden table (`head`, `rows`). */
function figure(o, height, head, rows) {
  const id = `chart-${++serial}`;
  const svg = svgEl("svg", { viewBox: `0 0 ${o.width || W} ${height}`, class: "ch-svg", role: "img", "aria-labelledby": `${id}-t ${id}-d` });
  svg.append(svgEl("title", { id: `${id}-t` }, o.title), svgEl("desc", { id: `${id}-d` }, o.desc || ""));
  const table = htmlEl("table", { class: "ch-table" });
  table.append(htmlEl("caption", {}, o.title));
  const tr = htmlEl("tr");
  for (const h of head) tr.append(htmlEl("th", { scope: "col" }, h));
  const body = htmlEl("tbody");
  for (const row of rows) {
    const line = htmlEl("tr");
    row.forEach((cell, i) => line.append(htmlEl(i ? "td" : "th", i ? {} : { scope: "row" }, cell)));
    body.append(line);
  }
  table.append(htmlEl("thead"), body);
  table.tHead.append(tr);
  const hidden = htmlEl("div", { class: "jb-visually-hidden" }); // a table ignores its height
  hidden.append(table);
  const fig = htmlEl("figure", { class: "ch-figure" });
  fig.append(svg, hidden);
  return { fig, svg };
}

/** 0 < a round top (1, 2, 2.5, 5 × 10^k) ≥ `v`. */
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v - 1e-9) ?? 10 * p;
}

/** The y axis: grid lines and labels at 0, ½ and the top, inside [top, bottom]. */
function axis(svg, max, width, height, fmt) {
  const bottom = height - PAD.bottom;
  for (const f of [0, 0.5, 1]) {
    const y = bottom - f * (bottom - PAD.top);
    svg.append(svgEl("line", { class: f ? "ch-grid" : "ch-axis", x1: PAD.left, x2: width - PAD.right, y1: y, y2: y }));
    svg.append(svgEl("text", { class: "ch-label", x: PAD.left - 6, y: y + 4, "text-anchor": "end" }, fmt(max * f)));
  }
}

/** Every nth label shown, at most about `room` of them. */
const step = (n, room) => Math.max(1, Math.ceil(n / room));

/** Bars: `labels[i]` and `values[i]` (null: no data); `format` writes a value. */
export function barChart(o) {
  const fmt = o.format || String;
  const height = o.height || 220;
  const values = o.values.map((v) => (v == null ? null : Number(v)));
  const max = niceMax(Math.max(0, ...values.filter((v) => v != null)));
  const head = o.head || ["", ""];
  const { fig, svg } = figure(o, height, head, o.labels.map((l, i) => [l, values[i] == null ? "–" : fmt(values[i])]));
  const width = o.width || W;
  axis(svg, max, width, height, o.axisFormat || fmt);
  const bottom = height - PAD.bottom;
  const slot = (width - PAD.left - PAD.right) / Math.max(1, values.length);
  const every = step(values.length, o.ticks || 10);
  values.forEach((v, i) => {
    const h = v == null ? 0 : (v / max) * (bottom - PAD.top);
    const x = PAD.left + i * slot + slot * 0.12;
    const bar = svgEl("rect", { class: `ch-bar ${o.barClass || ""}`.trim(), x, y: bottom - h, width: Math.max(1, slot * 0.76), height: h, "data-label": o.labels[i], "data-value": v ?? "" });
    bar.append(svgEl("title", {}, `${o.labels[i]}: ${v == null ? "–" : fmt(v)}`));
    svg.append(bar);
    if (o.showValues && v != null) svg.append(svgEl("text", { class: "ch-value", x: x + slot * 0.38, y: bottom - h - 4, "text-anchor": "middle" }, fmt(v)));
    if (i % every === 0) svg.append(svgEl("text", { class: "ch-label", x: x + slot * 0.38, y: bottom + 16, "text-anchor": "middle" }, o.labels[i]));
  });
  return fig;
}

/** Lines: `series` = [{name, values, className}] over `labels`; a null breaks the line. */
export function lineChart(o) {
  const fmt = o.format || String;
  const height = o.height || 220;
  const all = o.series.flatMap((s) => s.values).filter((v) => v != null);
  const max = o.max ?? niceMax(Math.max(0, ...all));
  const rows = o.labels.map((l, i) => [l, ...o.series.map((s) => (s.values[i] == null ? "–" : fmt(s.values[i])))]);
  const { fig, svg } = figure(o, height, [o.head || "", ...o.series.map((s) => s.name)], rows);
  const width = o.width || W;
  axis(svg, max, width, height, o.axisFormat || fmt);
  const bottom = height - PAD.bottom;
  const n = o.labels.length;
  const xOf = (i) => PAD.left + ((i + 0.5) * (width - PAD.left - PAD.right)) / Math.max(1, n);
  const yOf = (v) => bottom - (Math.min(v, max) / max) * (bottom - PAD.top);
  const every = step(n, o.ticks || 10);
  o.labels.forEach((l, i) => {
    if (i % every === 0) svg.append(svgEl("text", { class: "ch-label", x: xOf(i), y: bottom + 16, "text-anchor": "middle" }, l));
  });
  o.series.forEach((s, k) => {
    let d = "";
    let pen = "M";
    s.values.forEach((v, i) => {
      if (v == null) { pen = "M"; return; }
      d += `${pen}${xOf(i).toFixed(1)},${yOf(v).toFixed(1)} `;
      pen = "L";
    });
    const group = svgEl("g", { class: `ch-series ${s.className || ""}`.trim(), "data-series": s.key || k });
    group.append(svgEl("path", { class: "ch-line", d: d.trim() || "M0,0" }));
    s.values.forEach((v, i) => {
      if (v == null) return;
      const dot = svgEl("circle", { class: "ch-dot", cx: xOf(i), cy: yOf(v), r: n > 45 ? 1.8 : 3, "data-label": o.labels[i], "data-value": v });
      dot.append(svgEl("title", {}, `${s.name} ${o.labels[i]}: ${fmt(v)}`));
      group.append(dot);
    });
    svg.append(group);
    if (o.series.length > 1) {
      const x = width - PAD.right - 110 * (o.series.length - k);
      svg.append(svgEl("rect", { class: `ch-swatch ${s.className || ""}`.trim(), x, y: 4, width: 14, height: 6 }));
      svg.append(svgEl("text", { class: "ch-label ch-legend", x: x + 20, y: 11 }, s.name));
    }
  });
  return fig;
}

/** A heatmap: `values[r][c]` for `rows` × `cols`; shade by the share of the largest. */
export function heatmap(o) {
  const fmt = o.format || String;
  const left = 40;
  const top = 6;
  const cw = ((o.width || W) - left - PAD.right) / o.cols.length;
  const ch = o.cellHeight || 22;
  const height = top + ch * o.rows.length + 24;
  const max = Math.max(1, ...o.values.flat().map(Number).filter(Number.isFinite));
  const rows = o.rows.map((r, i) => [r, ...o.cols.map((_, c) => fmt(o.values[i]?.[c] ?? 0))]);
  const { fig, svg } = figure(o, height, [o.head || "", ...o.cols], rows);
  o.rows.forEach((r, i) => {
    svg.append(svgEl("text", { class: "ch-label", x: left - 8, y: top + i * ch + ch / 2 + 4, "text-anchor": "end" }, r));
    o.cols.forEach((c, j) => {
      const v = Number(o.values[i]?.[j] ?? 0) || 0;
      const cell = svgEl("rect", { class: "ch-cell", x: left + j * cw + 1, y: top + i * ch + 1, width: cw - 2, height: ch - 2, rx: 3, "fill-opacity": (0.06 + 0.94 * (v / max)).toFixed(3), "data-row": i, "data-col": j, "data-value": v });
      cell.append(svgEl("title", {}, `${r} ${c}: ${fmt(v)}`));
      svg.append(cell);
    });
  });
  o.cols.forEach((c, j) => {
    if (j % (o.colEvery || 3) === 0) svg.append(svgEl("text", { class: "ch-label", x: left + j * cw + cw / 2, y: height - 6, "text-anchor": "middle" }, c));
  });
  return fig;
}
