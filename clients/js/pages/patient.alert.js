// "It's your turn": a sound, a vibration and a system notification, where the browser allows.
// Browsers play sound only after a user gesture: primeAlerts() (on the first tap) unlocks an
// AudioContext for later. Each call (ticket, call time, recall count) alerts once, even across
// reloads, so a reload does not ring again.

let audio = null;
const ALERTED_KEY = "junban.alerted";

export function primeAlerts() {
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    audio = audio || new Ctx();
    if (audio.state === "suspended") audio.resume().catch(() => {});
  } catch {
    audio = null;
  }
}

function chime() {
  if (!audio) primeAlerts();
  if (!audio || audio.state !== "running") return false;
  const start = audio.currentTime + 0.05;
  [880, 660, 880, 660].forEach((freq, i) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    const at = start + i * 0.45;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.4, at + 0.03);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.4);
    osc.connect(gain).connect(audio.destination);
    osc.start(at);
    osc.stop(at + 0.42);
  });
  return true;
}

export function notificationsAvailable() {
  return "Notification" in window && Notification.permission === "default";
}

export async function askNotifications() {
  if (!("Notification" in window)) return "unsupported";
  try {
    return await Notification.requestPermission();
  } catch {
    return "denied";
  }
}

function notify(title, text) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    new Notification(title, { body: text, tag: "junban-call", requireInteraction: true });
  } catch {
    /* Android Chrome allows notifications only from a service worker */
  }
}

function alreadyAlerted(key) {
  try {
    const seen = JSON.parse(sessionStorage.getItem(ALERTED_KEY) || "[]");
    if (seen.includes(key)) return true;
    sessionStorage.setItem(ALERTED_KEY, JSON.stringify([...seen.slice(-20), key]));
  } catch {
    /* storage off: alert anyway */
  }
  return false;
}

/** Alert once for the call `key`: sound, vibration, notification. Returns whether it did. */
export function alertTurn(key, title, text) {
  if (alreadyAlerted(key)) return false;
  document.documentElement.dataset.alerted = key;
  chime();
  try {
    navigator.vibrate?.([400, 150, 400, 150, 800]);
  } catch {
    /* not allowed without a gesture on some browsers */
  }
  notify(title, text);
  return true;
}
