// The monitor's sounds: a WebAudio chime (no audio files) and queued Japanese speech.

/** A two-tone chime ("pin-pon"). Browsers start audio only after a user gesture unless
 * autoplay is allowed; `ready` says whether sound can play now, `unlock()` is called
 * from a click. */
export class Chime {
  constructor() {
    const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
    this.ctx = Ctx ? new Ctx() : null;
  }

  get ready() {
    return this.ctx !== null && this.ctx.state === "running";
  }

  async unlock() {
    if (this.ctx && this.ctx.state !== "running") {
      try { await this.ctx.resume(); } catch { /* stays locked; the hint stays */ }
    }
    return this.ready;
  }

  /** Resolves when the chime has finished, so speech starts after it. */
  play() {
    if (!this.ready) return Promise.resolve(false);
    const t0 = this.ctx.currentTime + 0.02;
    this.#tone(880, t0, 0.55);        // A5
    this.#tone(698.46, t0 + 0.45, 0.9); // F5
    return new Promise((resolve) => setTimeout(() => resolve(true), 1400));
  }

  #tone(freq, start, length) {
    const osc = this.ctx.createOscillator();
    const gain = this.ctx.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.35, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
    osc.connect(gain).connect(this.ctx.destination);
    osc.start(start);
    osc.stop(start + length + 0.05);
  }
}

/** The Japanese sentence for one call: 「43番の方、1番診察室へお入りください」. */
export function callSentence(number, room) {
  const where = /^[0-9]+$/.test(room || "") ? `${room}番診察室` : room || "受付";
  return `${number}番の方、${where}へお入りください`;
}

/** Speaks sentences one after another in Japanese. Never cancels: speechSynthesis.speak()
 * queues natively, so a new call waits until the one being spoken has finished. */
export class Announcer {
  constructor(synth = globalThis.speechSynthesis) {
    this.synth = synth || null;
    this.voice = null;
    if (this.synth) {
      this.#pickVoice();
      this.synth.addEventListener?.("voiceschanged", () => this.#pickVoice());
    }
  }

  get available() {
    return this.synth !== null && typeof globalThis.SpeechSynthesisUtterance === "function";
  }

  #pickVoice() {
    const voices = this.synth.getVoices?.() || [];
    this.voice = voices.find((v) => v.lang === "ja-JP") ||
      voices.find((v) => v.lang?.startsWith("ja")) || null;
  }

  /** Queue `text`; resolves when it has been spoken (or surely would have been). */
  say(text) {
    if (!this.available) return Promise.resolve();
    const u = new SpeechSynthesisUtterance(text);
    u.lang = "ja-JP";
    if (this.voice) u.voice = this.voice;
    u.rate = 0.9;
    const done = new Promise((resolve) => {
      u.onend = u.onerror = () => resolve();
      setTimeout(resolve, 1500 + text.length * 300); // no voice installed: no end event
    });
    this.synth.speak(u);
    this.synth.resume?.(); // Chromium can leave the queue paused after a long idle
    return done;
  }
}
