// The console's phone call-out option (電話呼出オプション): the header's 「通話履歴」 link, each
// row's call mark (`annotations["phone.status"]`, live with the staff view) and its
// 「電話で呼び出す」 (POST /v1/queues/{info}/tickets/{id}/phone-calls, for tickets whose
// patient consented), and the desk form's 「電話呼出しの同意を得た」 checkbox (the patient's
// spoken consent, recorded with this staff login: `phone_consent: true`).
// All of it shows only when the facility has the option: the call history answers this
// login (a facility without it answers 403 option_not_contracted).

import { t } from "./i18n.js";
import { ApiError, el } from "./staffsession.js";

const ACTIVE = new Set(["waiting", "called", "absent"]);
const STATUSES = new Set([
  "queued", "initiated", "ringing", "answered", "in-progress", "completed", "busy", "no-answer",
  "failed", "canceled", "unknown",
]);
const REFUSALS = new Set(["outside_call_hours", "call_limit_reached", "no_consent", "option_not_contracted", "invalid_phone"]);

const phone = {
  facility: "", token: null, api: null, onChange: () => {}, showError: () => {}, on: false, inflight: new Set(),
};

/** Start (or restart, on a new login): `api(method, path, body, key)` is the console's call,
 * `onChange()` re-renders, `showError(err)` shows a refusal in the console's error box. */
export function setupPhone({ facility, token, api, onChange, showError }) {
  Object.assign(phone, { facility, token, api, onChange, showError, on: false });
  phone.inflight.clear();
  show(false);
  probe(token);
}

/** Whether the facility has the option (and what is in flight): part of each row's signature. */
export function phoneSig() {
  return [phone.on, [...phone.inflight]];
}

function today() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Tokyo", year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

async function probe(token) {
  try {
    const query = new URLSearchParams({ from: today(), to: today() });
    const r = await fetch(`/v1/facilities/${phone.facility}/calls?${query}`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
    if (phone.token !== token) return;
    const on = r.ok;
    show(on);
    if (on !== phone.on) {
      phone.on = on;
      phone.onChange();
    }
  } catch {
    /* unknown: nothing of the option shows */
  }
}

/** The header link and the desk form's consent checkbox. */
function show(on) {
  const link = document.getElementById("calls-link");
  if (link) link.hidden = !on;
  for (const node of document.querySelectorAll(".con-phone-field")) {
    node.hidden = !on;
    if (!on) node.querySelector("input").checked = false;
  }
}

/** The desk form's part of the take-ticket body: `{phone_consent: true}` when staff ticked
 * 「電話呼出しの同意を得た」 (with a phone number), else nothing; an ApiError when the number
 * is missing. */
export function deskConsent(form) {
  const box = form.querySelector("[name=phone_consent]");
  if (!phone.on || !box?.checked) return {};
  if (!form.phone.value.trim()) throw new ApiError(422, "need_phone", t("ph.err.need_phone"));
  return { phone_consent: true };
}

/** The row's phone mark: the last call's state, else 「☎ 同意」 for a consented ticket; or null. */
export function phoneMark(tk) {
  const given = tk.annotations?.["phone.status"];
  if (given) {
    const status = STATUSES.has(given) ? t(`ph.status.${given}`) : String(given);
    return el("span", {
      class: `con-flag con-phone con-phone-${STATUSES.has(given) ? given : "other"}`,
      "data-phone": given,
      title: t("ph.mark_title", { status }),
    }, t("ph.mark", { status }));
  }
  if (!phone.on || !tk.phone_consent) return null;
  return el("span", { class: "con-flag con-phone con-phone-consent", "data-phone": "consent", title: t("ph.consented_title") },
    t("ph.consented"));
}

/** 「電話で呼び出す」 on an active row whose patient consented, of a facility with the option. */
export function phoneAction(info, tk) {
  if (!phone.on || !tk.phone_consent || !ACTIVE.has(tk.status)) return null;
  const name = `${info}:${tk.id}`;
  return el("button", {
    type: "button",
    class: "jb-btn jb-btn-quiet con-act con-phone-call",
    "data-action": "phone",
    "aria-label": t("ph.call_aria", { number: tk.number }),
    disabled: phone.inflight.has(name),
    onclick: () => placeCall(info, tk),
  }, t("ph.call"));
}

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function placeCall(info, tk) {
  const name = `${info}:${tk.id}`;
  if (phone.inflight.has(name)) return;
  phone.inflight.add(name);
  phone.onChange();
  const session = phone.token;
  try {
    await phone.api("POST", `/v1/queues/${info}/tickets/${encodeURIComponent(tk.id)}/phone-calls`, {}, newKey());
    phone.showError(null);
    const said = document.getElementById("moved");
    if (said) said.textContent = t("ph.calling", { number: tk.number });
  } catch (err) {
    if (phone.token !== session) return;
    const text = REFUSALS.has(err.code) ? t(`ph.err.${err.code}`) : err.message;
    phone.showError(new ApiError(err.status, err.code, text));
  } finally {
    // a short pause: a double-click places one call
    setTimeout(() => {
      phone.inflight.delete(name);
      phone.onChange();
    }, 700);
  }
}
