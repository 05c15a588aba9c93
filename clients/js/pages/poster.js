// The entrance poster /poster/{facility}: an A4 sheet with the clinic's name and one QR code
// per counter, each opening that counter's patient page /q/{info} (take a ticket there).
// The QR codes come from GET /v1/queues/{info}/qr (SVG drawn by the hub, error correction Q).
// Japanese and English side by side: a poster is read by everyone who comes in.

const $ = (id) => document.getElementById(id);
const facility = document.body.dataset.facility || "";

function fail(text) {
  $("error").textContent = text;
  $("error").hidden = false;
  document.body.dataset.ready = "error";
}

async function card(counter) {
  const info = `${facility}-${counter.counter}`;
  const r = await fetch(`/v1/queues/${info}/qr`, { cache: "no-store" });
  if (!r.ok) throw new Error(String(r.status));
  const { url, qr_svg: svg } = await r.json();
  const box = document.createElement("figure");
  box.className = "po-counter";
  box.dataset.info = info;
  const qr = document.createElement("div"); // the hub's SVG, parsed as XML: nothing runs
  qr.className = "po-qr";
  qr.setAttribute("role", "img");
  qr.setAttribute("aria-label", url);
  qr.dataset.url = url;
  const parsed = new DOMParser().parseFromString(svg, "image/svg+xml").documentElement;
  if (parsed.nodeName !== "svg") throw new Error("not an SVG");
  qr.append(document.importNode(parsed, true));
  const label = document.createElement("figcaption");
  const name = document.createElement("strong");
  name.className = "po-label";
  name.textContent = counter.label;
  const link = document.createElement("span");
  link.className = "po-url";
  link.textContent = url.replace(/^https?:\/\//, "");
  label.append(name, link);
  box.append(qr, label);
  return box;
}

async function main() {
  $("print-btn").addEventListener("click", () => window.print());
  if (!/^[0-9]{1,8}$/.test(facility)) return fail("施設番号が正しくありません · Malformed facility number");
  try {
    const r = await fetch(`/v1/facilities/${facility}`, { cache: "no-store" });
    if (r.status === 404) return fail(`施設 ${facility} は見つかりません · Facility not found`);
    if (!r.ok) throw new Error(String(r.status));
    const record = await r.json();
    $("clinic").textContent = record.name;
    document.title = `${record.name} — QR`;
    const counters = record.counters || [];
    const cards = await Promise.all(counters.map(card));
    $("counters").dataset.count = String(cards.length);
    $("counters").replaceChildren(...cards);
    document.body.dataset.ready = "true";
  } catch {
    fail("ポスターを作れませんでした · Could not make the poster");
  }
}

main();
