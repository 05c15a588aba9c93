// The patient page's phone call-out part (電話呼出オプション): 「電話で呼び出しを希望する」 by the
// phone field of the take-ticket form, unticked, shown only when the facility offers calls
// (its record's `phone_calls`); ticked, the ticket is taken with `phone_consent: true` (a
// phone number is then required: the hub calls only that number, and only with consent).

import { addStrings } from "./i18n.js";
import { PHONE_STRINGS } from "./patient.strings.js";

addStrings(PHONE_STRINGS);

const $ = (id) => document.getElementById(id);

/** Whether the facility record says phone call-outs are offered. */
export function offersCalls(record) {
  return record?.phone_calls === true || (Array.isArray(record?.options) && record.options.includes("phone"));
}

/** Show the checkbox for a facility that offers calls; hide (and untick) it otherwise. */
export function renderPhoneOption(record) {
  const field = $("phone-call-field");
  if (!field) return;
  const on = offersCalls(record);
  if (field.hidden === on) field.hidden = !on;
  if (!on) $("phone-call").checked = false;
}

/** The take-ticket body's part: `{body}` ({phone_consent: true} when ticked), or `{error}`
 * (a strings key) when ticked without a phone number. */
export function phoneConsent(phone) {
  const box = $("phone-call");
  if (!box || !box.checked || $("phone-call-field").hidden) return { body: {} };
  if (!phone) return { error: "p.phone_call_needs_phone", focus: $("phone") };
  return { body: { phone_consent: true } };
}
