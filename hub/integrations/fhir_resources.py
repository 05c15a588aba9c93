"""FHIR R4 / JP Core resources, purely: the Encounter Junban hands over, the JP Core Patient
shape, and the summary the console shows. No I/O; ``hub/integrations/fhir.py`` sends them.

- A Patient's identifier system is ``urn:oid:1.2.392.100495.20.3.51.1`` followed by the
  clinic's 10-digit medical institution code (医療機関コード); its value is the patient-card
  number (診察券番号, Junban's ``patient_ref``).
- Names carry the ``iso21090-EN-representation`` extension: ``IDE`` (kanji), ``SYL``
  (full-width katakana) or ``ABC`` (alphabet); ``text`` joins family and given names with a
  half-width space.
- An Encounter per ticket: class ``AMB``, identifier ``urn:junban:ticket|{info}:{day}:{id}``,
  status ``arrived`` → ``in-progress`` → ``finished`` (or ``cancelled``); an absent patient is
  marked by the extension ``ABSENT_EXTENSION`` (FHIR has no status for "called, not there").
"""

from __future__ import annotations

import copy
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from hub.integrations.emr import PatientSummary

JP_PATIENT_ID_OID = "urn:oid:1.2.392.100495.20.3.51.1"
"""JP Core's patient-id system, before the 10-digit institution code."""
EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
TICKET_SYSTEM = "urn:junban:ticket"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
JP_ENCOUNTER_PROFILE = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Encounter"
ABSENT_EXTENSION = "urn:junban:fhir:StructureDefinition:encounter-absent"
"""valueDateTime: when staff marked the patient absent (不在); removed on requeue."""
INSTITUTION_CODE_RE = re.compile(r"^[0-9]{10}\Z")
SEXES = frozenset({"male", "female", "other", "unknown"})

STATUS_OF_EVENT: dict[str, str] = {
    "ticket.issued": "arrived",
    "ticket.requeued": "arrived",
    "ticket.called": "in-progress",
    "ticket.recalled": "in-progress",
    "ticket.completed": "finished",
    "ticket.cancelled": "cancelled",
}
"""The Encounter status each ticket event sets; ``ticket.absent`` sets the extension only."""
ENCOUNTER_EVENTS = frozenset({*STATUS_OF_EVENT, "ticket.absent"})


AMBULATORY = "AMB"  # v3 ActCode: an outpatient visit (a FHIR code, not an error code)


def patient_system(institution_code: str) -> str:
    """``urn:oid:1.2.392.100495.20.3.51.1`` + the 10-digit institution code."""
    return JP_PATIENT_ID_OID + institution_code


def ticket_identifier(info: str, day: str, ticket_id: str) -> dict[str, str]:
    """The Encounter's business identifier: stable across retries and replays."""
    return {"system": TICKET_SYSTEM, "value": f"{info}:{day}:{ticket_id}"}


def fhir_instant(epoch_s: float) -> str:
    """A FHIR dateTime with its offset (UTC), to the second."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds")


def new_encounter(
    *, info: str, day: str, ticket_id: str, patient_id: str, status: str, at: float
) -> dict[str, Any]:
    """The Encounter a ticket makes at the EMR (JP_Encounter profile)."""
    return {
        "resourceType": "Encounter",
        "meta": {"profile": [JP_ENCOUNTER_PROFILE]},
        "identifier": [ticket_identifier(info, day, ticket_id)],
        "status": status,
        "class": {"system": ACT_CODE, "code": AMBULATORY, "display": "ambulatory"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "period": {"start": fhir_instant(at)},
    }


def apply_event(encounter: dict[str, Any], event_type: str, at: float) -> dict[str, Any]:
    """The Encounter after a ticket event (a copy; ``encounter`` is not changed)."""
    out = copy.deepcopy(encounter)
    status = STATUS_OF_EVENT.get(event_type)
    extensions = [e for e in out.get("extension", []) if e.get("url") != ABSENT_EXTENSION]
    if event_type == "ticket.absent":
        extensions.append({"url": ABSENT_EXTENSION, "valueDateTime": fhir_instant(at)})
    if extensions:
        out["extension"] = extensions
    else:
        out.pop("extension", None)
    if status is not None:
        out["status"] = status
        period = dict(out.get("period") or {})
        if status in ("finished", "cancelled"):
            period.setdefault("start", fhir_instant(at))
            period["end"] = fhir_instant(at)
        out["period"] = period
    return out


def name_text(family: str, given: str) -> str:
    """JP Core's ``text``: family and given joined by a half-width space."""
    return " ".join(part for part in (family, given) if part)


def human_name(family: str, given: str, representation: str) -> dict[str, Any]:
    """A HumanName with its ``iso21090-EN-representation`` (IDE, SYL or ABC)."""
    name: dict[str, Any] = {
        "extension": [{"url": EN_REPRESENTATION, "valueCode": representation}],
        "use": "official",
        "text": name_text(family, given),
        "family": family,
    }
    if given:
        name["given"] = [given]
    return name


def jp_core_patient(
    *,
    institution_code: str,
    patient_ref: str,
    family: str,
    given: str,
    family_kana: str,
    given_kana: str,
    birth_date: str,
    sex: str = "unknown",
    phone: str | None = None,
) -> dict[str, Any]:
    """A JP Core Patient as an EMR holds it (what the tests seed a FHIR server with)."""
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "meta": {"profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"]},
        "identifier": [{"system": patient_system(institution_code), "value": patient_ref}],
        "name": [human_name(family, given, "IDE"), human_name(family_kana, given_kana, "SYL")],
        "gender": sex,
        "birthDate": birth_date,
    }
    if phone:
        patient["telecom"] = [{"system": "phone", "value": phone, "use": "home"}]
    return patient


def _representation(name: dict[str, Any]) -> str | None:
    for extension in name.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == EN_REPRESENTATION:
            code = extension.get("valueCode")
            return code if isinstance(code, str) else None
    return None


def _text_of(name: dict[str, Any]) -> str:
    text = name.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    given = " ".join(g for g in name.get("given") or [] if isinstance(g, str))
    family = name.get("family")
    return name_text(family if isinstance(family, str) else "", given)


def summary_of(patient: dict[str, Any], institution_code: str) -> PatientSummary:
    """What the console shows of a Patient: the patient-card number (the identifier of
    this clinic's system, else the first one, else the resource id), the IDE (kanji) name
    (else the first name without a representation, else any), the SYL (kana) name."""
    system = patient_system(institution_code)
    identifiers = [i for i in patient.get("identifier") or [] if isinstance(i, dict)]
    ours = [i.get("value") for i in identifiers if i.get("system") == system]
    values = [v for v in ours + [i.get("value") for i in identifiers] if isinstance(v, str)]
    patient_ref = values[0] if values else str(patient.get("id", ""))
    names = [n for n in patient.get("name") or [] if isinstance(n, dict)]
    by_kind: dict[str | None, dict[str, Any]] = {}
    for name in names:
        by_kind.setdefault(_representation(name), name)
    kanji = by_kind.get("IDE") or by_kind.get(None) or by_kind.get("ABC")
    kana = by_kind.get("SYL")
    birth = patient.get("birthDate")
    gender = patient.get("gender")
    return PatientSummary(
        patient_ref=patient_ref,
        name=_text_of(kanji) if kanji else (_text_of(names[0]) if names else ""),
        kana=_text_of(kana) if kana else "",
        birth_date=birth if isinstance(birth, str) and len(birth) == 10 else "",
        sex=gender if gender in SEXES else "unknown",
    )


def normalize_kana(text: str) -> str:
    """Full-width katakana, single half-width spaces: NFKC folds half-width kana and the
    ideographic space; hiragana becomes katakana (staff may type either)."""
    folded = unicodedata.normalize("NFKC", text)
    katakana = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in folded)
    return " ".join(katakana.split())


def kana_matches(summary: PatientSummary, kana: str) -> bool:
    """Whether the patient's kana name starts with ``kana`` (spaces ignored)."""
    wanted = normalize_kana(kana).replace(" ", "")
    return normalize_kana(summary.kana).replace(" ", "").startswith(wanted)


def phone_variants(digits: str) -> list[str]:
    """The forms a Japanese number may be stored in (token search matches exactly):
    the digits, and the usual hyphenations of 10 and 11 digit numbers."""
    forms = [digits]
    if len(digits) == 11:
        forms.append(f"{digits[:3]}-{digits[3:7]}-{digits[7:]}")
    elif len(digits) == 10:
        for head in (2, 3, 4):
            forms.append(f"{digits[:head]}-{digits[head:6]}-{digits[6:]}")
    return forms


def outcome_message(body: Any, status: int) -> str:
    """A short message from an OperationOutcome (its first issue), else the status."""
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        for issue in body.get("issue") or []:
            if not isinstance(issue, dict):
                continue
            details = issue.get("details")
            text = details.get("text") if isinstance(details, dict) else None
            message = issue.get("diagnostics") or text or issue.get("code")
            if isinstance(message, str) and message:
                return f"FHIR {status}: {message}"[:200]
    return f"FHIR server answered {status}"
