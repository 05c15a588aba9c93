// The tickets this browser holds, in localStorage, one key per ticket id:
//   junban.ticket.{id}   = {id, info, token, number, saved}
//   junban.latest.{info} = the id of the newest ticket taken or opened for that queue
// so two tabs, a QR scan or a stale tab never overwrite another ticket's token, and
// forgetting one ticket (done, cancelled, refused token) forgets only that one.
// The old single map `junban.tickets` ({info: {id, token, number}}) is moved over once.

const TICKET = "junban.ticket.";
const LATEST = "junban.latest.";
const OLD = "junban.tickets";
const MAX_AGE_MS = 3 * 24 * 3600 * 1000; // tickets live one day; tokens 36 h

function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* private mode or full: the URL still works for this tab */
  }
}

function migrate() {
  const old = read(OLD);
  if (!old || typeof old !== "object") return;
  for (const [info, entry] of Object.entries(old)) {
    if (entry?.id && entry.token && !read(TICKET + entry.id)) {
      write(TICKET + entry.id, { ...entry, info, saved: entry.saved || Date.now() });
      if (!read(LATEST + info)) write(LATEST + info, entry.id);
    }
  }
  write(OLD, null);
}

function prune(now = Date.now()) {
  try {
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const key = localStorage.key(i);
      if (!key?.startsWith(TICKET)) continue;
      const entry = read(key);
      if (!entry || !(now - (entry.saved || 0) < MAX_AGE_MS)) localStorage.removeItem(key);
    }
  } catch {
    /* storage off */
  }
}

let ready = false;
function init() {
  if (ready) return;
  ready = true;
  migrate();
  prune();
}

/** The stored ticket `id` ({id, info, token, number, saved}) or null. */
export function ticketById(id) {
  init();
  const entry = id ? read(TICKET + id) : null;
  return entry?.token ? entry : null;
}

/** The newest stored ticket of queue `info` (its pointer, else the last one saved), or null. */
export function latestTicket(info) {
  init();
  const entry = ticketById(read(LATEST + info));
  if (entry && entry.info === info) return entry;
  let best = null;
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key?.startsWith(TICKET)) continue;
      const other = read(key);
      if (other?.token && other.info === info && (!best || (other.saved || 0) > (best.saved || 0))) best = other;
    }
  } catch {
    /* storage off */
  }
  return best;
}

/** Keep ticket `entry` ({id, info, token, number?}); it becomes the queue's newest. */
export function rememberTicket(entry) {
  init();
  write(TICKET + entry.id, { ...entry, saved: Date.now() });
  write(LATEST + entry.info, entry.id);
}

/** Forget ticket `id` only (and the queue's pointer if it points at it). */
export function forgetTicket(id, info) {
  init();
  write(TICKET + id, null);
  if (info && read(LATEST + info) === id) write(LATEST + info, null);
}
