// The monitor's layout: a grid chosen by the number of counters on the screen, and font
// sizes computed so that the longest content (4-digit numbers, long counter and room names)
// fits its box: nothing overlaps, nothing is clipped.

/** The grid for `count` counters. With the programme region (the right 42 %) the counters
 * share the left part; without it (5+ counters, or a room's own screen) they take the
 * whole width. */
export function gridFor(count, withProgramme) {
  if (withProgramme) {
    if (count <= 1) return { cols: 1, rows: 1 };
    if (count === 2) return { cols: 1, rows: 2 }; // wide rows: room for the chips
    return { cols: 2, rows: 2 }; // 3: the first spans the top row (CSS)
  }
  const table = { 1: [1, 1], 2: [2, 1], 3: [3, 1], 4: [2, 2], 5: [3, 2], 6: [3, 2], 7: [4, 2], 8: [4, 2] };
  if (table[count]) return { cols: table[count][0], rows: table[count][1] };
  if (count <= 12) return { cols: 4, rows: 3 };
  const cols = Math.ceil(Math.sqrt(count * 1.8));
  return { cols, rows: Math.ceil(count / cols) };
}

/** The programme region is shown for up to 4 counters, except on a room's own screen. */
export function programmeShown(count, roomScreen) {
  return !roomScreen && count <= 4;
}

/** How many earlier calls and next numbers a card of this width shows. */
export function itemsFor(cardWidth) {
  if (cardWidth >= 1200) return { earlier: 4, next: 6 };
  if (cardWidth >= 800) return { earlier: 3, next: 4 };
  if (cardWidth >= 560) return { earlier: 2, next: 3 };
  return { earlier: 1, next: 2 }; // 7+ counters: fewer, larger
}

function overflows(box) {
  return box.scrollWidth > box.clientWidth || box.scrollHeight > box.clientHeight;
}

/** The largest whole-pixel font size in [min, max] at which `box` (a box sized by the layout,
 * overflow hidden, its content in em) shows all its content; `min` if none does. */
export function fitText(box, max, min = 8) {
  let lo = min;
  let hi = Math.max(min, Math.floor(max));
  box.style.fontSize = `${hi}px`;
  if (!overflows(box)) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    box.style.fontSize = `${mid}px`;
    if (overflows(box)) hi = mid;
    else lo = mid;
  }
  box.style.fontSize = `${lo}px`;
  return lo;
}

/** Fit every slot of one counter card (see monitor.css: each slot is a grid row). A slot's
 * size is at most `data-max` × its height and `data-wide` × the card's width, so a short
 * text (a two-letter name, 「なし」) stays in proportion with the rest. */
export function fitCard(card) {
  for (const slot of card.querySelectorAll(".mon-slot")) {
    if (slot.clientHeight === 0) continue; // not laid out (hidden)
    const max = Math.min(slot.clientHeight * Number(slot.dataset.max || 1),
      card.clientWidth * Number(slot.dataset.wide || 1));
    fitText(slot, max);
  }
}
