// The monitor's sounds: a WebAudio chime (no audio files) and queued speech in Japanese
// and/or English.

import { tr } from "./monitor.strings.js";

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

/** The sentence for one call in `lang`: 「43番の方、1番診察室へお入りください」 or
 * "Number 43, please go to Room 1." `where` is the room's name as shown on the screen (a
 * bare room number is named the default way; no room: the reception desk). */
export function callSentence(number, where, lang = "ja") {
  const named = /^[0-9]+$/.test(where || "") ? tr(lang, "m.room", { room: where }) : where;
  return tr(lang, "m.sentence", { n: number, where: named || tr(lang, "m.reception") });
}

export const SPEECH_LANGS = { ja: "ja-JP", en: "en-US" };

/** Speaks sentences one after another, each in its language. Never cancels:
 * speechSynthesis.speak() queues natively, so a new call waits until the one being spoken
 * has finished. */
export class Announcer {
  constructor(synth = globalThis.speechSynthesis) {
    this.synth = synth || null;
    this.voices = {}; // "ja" -> a ja-JP voice, "en" -> an en-US one (null: the default)
    if (this.synth) {
      this.#pickVoices();
      this.synth.addEventListener?.("voiceschanged", () => this.#pickVoices());
    }
  }

  get available() {
    return this.synth !== null && typeof globalThis.SpeechSynthesisUtterance === "function";
  }

  #pickVoices() {
    const voices = this.synth.getVoices?.() || [];
    for (const [lang, tag] of Object.entries(SPEECH_LANGS)) {
      this.voices[lang] = voices.find((v) => v.lang === tag) ||
        voices.find((v) => v.lang?.replace("_", "-").startsWith(lang)) || null;
    }
  }

  /** Queue `text` in `lang` ("ja" or "en"); resolves when it has been spoken (or surely
   * would have been). */
  say(text, lang = "ja") {
    if (!this.available) return Promise.resolve();
    const u = new SpeechSynthesisUtterance(text);
    u.lang = SPEECH_LANGS[lang] || SPEECH_LANGS.ja;
    const voice = this.voices[lang];
    if (voice) u.voice = voice;
    u.rate = 0.9;
    const done = new Promise((resolve) => {
      u.onend = u.onerror = () => resolve();
      setTimeout(resolve, 1500 + text.length * (lang === "en" ? 120 : 300)); // no end event without a voice
    });
    this.synth.speak(u);
    this.synth.resume?.(); // Chromium can leave the queue paused after a long idle
    return done;
  }
}
