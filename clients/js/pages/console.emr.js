// The console's EMR link (電子カルテ連携): each ticket row's mark from the integrations'
// outcome (`annotations["emr.status"]`: sent ✓, failed !, not_found ?, unlinked 未連携), and
// 「患者検索」: look the patient up in the EMR (by patient-card number, or kana and birth
// date: GET /v1/facilities/{f}/emr/patients) and link the ticket to the one confirmed
// (PUT /v1/queues/{info}/tickets/{id}/patient-ref), which sends it to the EMR.
// The marks and the search show when the facility has an ORCA or FHIR endpoint; a mark also
// shows wherever an outcome exists.

import { addStrings, currentLang, t } from "./i18n.js";
import { el } from "./staffsession.js";

addStrings({
  ja: {
    "emr.sent": "✓ カルテ",
    "emr.failed": "! カルテ",
    "emr.not_found": "? カルテ",
    "emr.unlinked": "未連携",
    "emr.pending": "… カルテ",
    "emr.sent_title": "電子カルテに送信済み",
    "emr.failed_title": "電子カルテへの送信に失敗: {error}",
    "emr.not_found_title": "電子カルテに該当する患者がいません",
    "emr.unlinked_title": "診察券番号が未登録のため電子カルテに送っていません。「患者検索」で連携できます。",
    "emr.pending_title": "電子カルテへ送信中",
    "emr.ref": "診察券 {ref}",
    "emr.card": "診察券番号",
    "emr.search": "患者検索",
    "emr.search_aria": "{number} 番の患者を電子カルテで検索",
    "emr.title": "患者検索（{number} 番）",
    "emr.by_id": "診察券番号",
    "emr.by_kana": "カナと生年月日",
    "emr.id": "診察券番号",
    "emr.kana": "氏名（カナ）",
    "emr.birth": "生年月日",
    "emr.find": "検索",
    "emr.none": "該当する患者はいません。",
    "emr.link": "この患者で連携",
    "emr.linked": "{number} 番を診察券 {ref} と連携しました。",
    "emr.close": "閉じる",
    "emr.need_id": "診察券番号を入力してください（英数字とハイフン 20 文字まで）。",
    "emr.need_kana": "カナと生年月日を入力してください。",
    "emr.sex.male": "男",
    "emr.sex.female": "女",
    "emr.sex.other": "その他",
    "emr.sex.unknown": "不明",
    "emr.network": "ハブに接続できません。",
  },
  en: {
    "emr.sent": "✓ EMR",
    "emr.failed": "! EMR",
    "emr.not_found": "? EMR",
    "emr.unlinked": "Not linked",
    "emr.pending": "… EMR",
    "emr.sent_title": "Sent to the EMR",
    "emr.failed_title": "Sending to the EMR failed: {error}",
    "emr.not_found_title": "No such patient in the EMR",
    "emr.unlinked_title": "No patient-card number, so not sent to the EMR. Link it with Patient search.",
    "emr.pending_title": "Being sent to the EMR",
    "emr.ref": "card {ref}",
    "emr.card": "Patient-card number",
    "emr.search": "Patient search",
    "emr.search_aria": "Search the EMR for the patient of number {number}",
    "emr.title": "Patient search (number {number})",
    "emr.by_id": "Patient-card number",
    "emr.by_kana": "Kana and birth date",
    "emr.id": "Patient-card number",
    "emr.kana": "Name (kana)",
    "emr.birth": "Birth date",
    "emr.find": "Search",
    "emr.none": "No matching patient.",
    "emr.link": "Link to this patient",
    "emr.linked": "Number {number} linked to card {ref}.",
    "emr.close": "Close",
    "emr.need_id": "Enter the patient-card number (letters, digits and hyphens, up to 20).",
    "emr.need_kana": "Enter the kana name and the birth date.",
    "emr.sex.male": "male",
    "emr.sex.female": "female",
    "emr.sex.other": "other",
    "emr.sex.unknown": "unknown",
    "emr.network": "Cannot reach the hub.",
  },
});

const STATUSES = new Set(["sent", "failed", "not_found", "unlinked"]);
const ACTIVE = new Set(["waiting", "called", "absent"]);
const PATIENT_REF = /^[0-9A-Za-z-]{1,20}$/;

const emr = { facility: "", token: null, api: null, linked: false, onChange: () => {}, dialog: null };

/** Start (or restart, on a new login) the EMR parts: `api(method, path, body)` is the
 * console's call; `onChange()` re-renders once the facility's endpoints are known. */
export function setupEmr({ facility, token, api, onChange }) {
  Object.assign(emr, { facility, token, api, onChange, linked: false });
  loadEndpoints(token);
}

/** Whether the facility links to an EMR: part of each row's signature (a change rebuilds). */
export function emrSig() {
  return emr.linked;
}

async function loadEndpoints(token) {
  try {
    const r = await fetch(`/v1/facilities/${emr.facility}/integrations/endpoints`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
    if (!r.ok || emr.token !== token) return;
    const data = await r.json();
    const list = Array.isArray(data) ? data : data.endpoints ?? data.items ?? [];
    const linked = list.some((e) => (e.kind === "orca" || e.kind === "fhir") && e.enabled !== false);
    // the desk form's 診察券番号 field (a desk ticket sent to the EMR as it is issued)
    for (const node of document.querySelectorAll(".con-emr-field")) node.hidden = !linked;
    if (linked !== emr.linked) {
      emr.linked = linked;
      emr.onChange();
    }
  } catch {
    /* no marks: the facility's rows stay as they were */
  }
}

/** The row's EMR mark, or null (no EMR link and no outcome). */
export function emrMark(tk) {
  const annotations = tk.annotations || {};
  const given = annotations["emr.status"];
  if (!given && !emr.linked) return null;
  // "unlinked" is stale once staff linked the ticket: it is being sent now
  const status = STATUSES.has(given) && !(given === "unlinked" && tk.patient_ref) ? given
    : tk.patient_ref ? "pending" : "unlinked";
  const title = [t(`emr.${status}_title`, { error: annotations["emr.error"] || "" })];
  if (tk.patient_ref) title.push(t("emr.ref", { ref: tk.patient_ref }));
  const mark = el("span", {
    class: `con-flag con-emr con-emr-${status}`,
    "data-emr": status,
    title: title.join(" · "),
    "aria-label": title.join(" · "),
  }, t(`emr.${status}`));
  if (!tk.patient_ref) return mark;
  return el("span", { class: "con-emr-wrap" }, mark,
    el("span", { class: "con-flag con-emr-ref", "data-ref": tk.patient_ref }, t("emr.ref", { ref: tk.patient_ref })));
}

/** 「患者検索」 on an active row not yet sent, of a facility with an EMR link; or null. */
export function emrAction(info, tk) {
  if (!emr.linked || !ACTIVE.has(tk.status) || tk.annotations?.["emr.status"] === "sent") return null;
  return el("button", {
    type: "button",
    class: "jb-btn jb-btn-quiet con-act con-emr-search",
    "data-action": "patient",
    "aria-label": t("emr.search_aria", { number: tk.number }),
    onclick: () => openLookup(info, tk),
  }, t("emr.search"));
}

// ---- the lookup dialog -------------------------------------------------------------------

function dialog() {
  if (emr.dialog) return emr.dialog;
  const node = el("dialog", { id: "emr-dialog", class: "jb-dialog con-emr-dialog", "aria-labelledby": "emr-title" });
  document.body.append(node);
  emr.dialog = node;
  return node;
}

function openLookup(info, tk) {
  const box = dialog();
  const error = el("p", { class: "con-error", id: "emr-error", role: "alert" });
  const results = el("ul", { class: "con-emr-results", id: "emr-results", "aria-live": "polite" });
  const mode = (value, key, checked) => el("label", {},
    el("input", { type: "radio", name: "mode", value, checked }), " ", t(key));
  const id = el("input", { class: "jb-input", name: "ref", id: "emr-id", maxlength: 20, autocomplete: "off", value: tk.patient_ref || "" });
  const kana = el("input", { class: "jb-input", name: "kana", id: "emr-kana", maxlength: 100, autocomplete: "off" });
  const birth = el("input", { class: "jb-input", name: "birth", id: "emr-birth", type: "date" });
  const byId = el("label", { class: "jb-field" }, el("span", {}, t("emr.id")), id);
  const byKana = el("div", { class: "con-emr-kana", hidden: true },
    el("label", { class: "jb-field" }, el("span", {}, t("emr.kana")), kana),
    el("label", { class: "jb-field" }, el("span", {}, t("emr.birth")), birth));
  const form = el("form", { id: "emr-form", class: "con-emr-form" },
    el("fieldset", { class: "con-channel" }, mode("id", "emr.by_id", true), " ", mode("kana", "emr.by_kana", false)),
    byId, byKana,
    el("button", { type: "submit", class: "jb-btn", id: "emr-find" }, t("emr.find")));
  form.addEventListener("change", () => {
    const kanaMode = form.mode.value === "kana";
    byId.hidden = kanaMode;
    byKana.hidden = !kanaMode;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search(form, info, tk, results, error);
  });
  box.replaceChildren(
    el("h2", { id: "emr-title" }, t("emr.title", { number: tk.number })),
    form, error, results,
    el("div", { class: "jb-actions" },
      el("button", { type: "button", class: "jb-btn jb-btn-quiet", id: "emr-close", onclick: () => box.close() }, t("emr.close"))));
  box.showModal();
  id.focus();
}

const SEX = new Set(["male", "female", "other", "unknown"]);

function birthText(date) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date || "")) return date || "";
  const [y, m, d] = date.split("-").map(Number);
  return currentLang() === "en" ? date : `${y}年${m}月${d}日`;
}

async function search(form, info, tk, results, error) {
  error.textContent = "";
  const params = new URLSearchParams();
  if (form.mode.value === "id") {
    const id = form.ref.value.trim();
    if (!PATIENT_REF.test(id)) {
      error.textContent = t("emr.need_id");
      return;
    }
    params.set("id", id);
  } else {
    const kana = form.kana.value.trim();
    const birth = form.birth.value;
    if (!kana || !birth) {
      error.textContent = t("emr.need_kana");
      return;
    }
    params.set("kana", kana);
    params.set("birth", birth);
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  results.replaceChildren();
  try {
    const data = await emr.api("GET", `/v1/facilities/${emr.facility}/emr/patients?${params}`);
    const patients = Array.isArray(data) ? data : data.patients ?? [];
    if (!patients.length) {
      results.append(el("li", { class: "jb-muted con-emr-none" }, t("emr.none")));
      return;
    }
    results.append(...patients.map((p) => el("li", { class: "con-emr-patient", "data-ref": p.patient_ref },
      el("span", { class: "con-emr-name" }, p.name || "", " ", el("span", { class: "jb-muted" }, p.kana || "")),
      el("span", { class: "jb-small" }, [
        t("emr.ref", { ref: p.patient_ref }), birthText(p.birth_date), SEX.has(p.sex) ? t(`emr.sex.${p.sex}`) : p.sex || "",
      ].filter(Boolean).join(" · ")),
      el("button", { type: "button", class: "jb-btn con-emr-link", "data-action": "link",
        onclick: (event) => link(info, tk, p.patient_ref, event.currentTarget, error) }, t("emr.link")))));
  } catch (err) {
    error.textContent = err.code && err.code !== "network" ? `${err.message} (${err.code})` : err.message || t("emr.network");
  } finally {
    button.disabled = false;
  }
}

async function link(info, tk, ref, button, error) {
  button.disabled = true;
  error.textContent = "";
  try {
    await emr.api("PUT", `/v1/queues/${info}/tickets/${encodeURIComponent(tk.id)}/patient-ref`, { patient_ref: ref });
    emr.dialog?.close();
    const said = document.getElementById("moved");
    if (said) said.textContent = t("emr.linked", { number: tk.number, ref });
  } catch (err) {
    error.textContent = err.code && err.code !== "network" ? `${err.message} (${err.code})` : err.message;
    button.disabled = false;
  }
}
