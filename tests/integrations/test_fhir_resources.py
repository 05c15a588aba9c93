"""Property tests of the FHIR adapter's pure parts: JP Core identifier systems and names, the
Encounter a ticket makes and how ticket events move it, kana and phone folding, the config."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import Unprocessable
from hub.integrations import fhir
from hub.integrations import fhir_resources as res

INSTITUTIONS = st.from_regex(r"\A[0-9]{10}\Z")
REFS = st.from_regex(r"\A[0-9A-Za-z-]{1,20}\Z")
KANJI = st.text(st.sampled_from("山田佐藤鈴木太郎花子次郎高橋一二三"), min_size=1, max_size=5)
KATAKANA = st.text(
    st.characters(min_codepoint=0x30A1, max_codepoint=0x30F6), min_size=1, max_size=8
)
HIRAGANA = st.text(
    st.characters(min_codepoint=0x3041, max_codepoint=0x3096), min_size=1, max_size=8
)
DATES = st.dates().map(lambda d: d.isoformat()).filter(lambda s: len(s) == 10)
SEXES = st.sampled_from(["male", "female", "other", "unknown"])
PHONES = st.none() | st.from_regex(r"\A0[0-9]{9,10}\Z")
INSTANTS = st.floats(min_value=946_684_800, max_value=4_102_444_800, allow_nan=False)
INFOS = st.from_regex(r"\A[0-9]{1,8}-[0-9]{2}\Z")
TICKET_IDS = st.from_regex(r"\A[0-9a-z]{4,12}\Z")
EVENT_TYPES = st.sampled_from(sorted(res.ENCOUNTER_EVENTS))


def test_the_jp_core_patient_system_is_the_oid_and_the_institution_code() -> None:
    assert res.patient_system("1312345678") == "urn:oid:1.2.392.100495.20.3.51.11312345678"


@given(
    code=INSTITUTIONS, ref=REFS, family=KANJI, given=KANJI, family_kana=KATAKANA,
    given_kana=KATAKANA, birth=DATES, sex=SEXES, phone=PHONES,
)  # fmt: skip
def test_a_jp_core_patient_reads_back_as_the_summary_staff_see(
    code: str, ref: str, family: str, given: str, family_kana: str, given_kana: str,
    birth: str, sex: str, phone: str | None,
) -> None:  # fmt: skip
    patient = res.jp_core_patient(
        institution_code=code, patient_ref=ref, family=family, given=given,
        family_kana=family_kana, given_kana=given_kana, birth_date=birth, sex=sex, phone=phone,
    )  # fmt: skip
    assert patient["identifier"] == [{"system": res.JP_PATIENT_ID_OID + code, "value": ref}]
    kinds = [n["extension"][0] for n in patient["name"]]
    assert kinds == [
        {"url": res.EN_REPRESENTATION, "valueCode": "IDE"},
        {"url": res.EN_REPRESENTATION, "valueCode": "SYL"},
    ]
    assert [n["text"] for n in patient["name"]] == [
        f"{family} {given}",
        f"{family_kana} {given_kana}",
    ]
    assert ("telecom" in patient) == bool(phone)
    summary = res.summary_of(patient, code)
    assert summary.patient_ref == ref
    assert (summary.name, summary.kana) == (f"{family} {given}", f"{family_kana} {given_kana}")
    assert (summary.birth_date, summary.sex) == (birth, sex)


@given(code=INSTITUTIONS, other=INSTITUTIONS, ours=REFS, theirs=REFS)
def test_the_summary_takes_this_clinics_identifier_not_anothers(
    code: str, other: str, ours: str, theirs: str
) -> None:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "x",
        "identifier": [
            {"system": res.patient_system(other), "value": theirs},
            {"system": res.patient_system(code), "value": ours},
        ],
        "name": [{"family": "Yamada", "given": ["Taro"]}],  # no representation, no text
        "gender": "robot",
        "birthDate": "1970",  # a partial date is not a YYYY-MM-DD
    }
    summary = res.summary_of(patient, code)
    expected = ours if other != code else theirs  # the same system twice: the first
    assert summary.patient_ref == expected
    assert (summary.name, summary.kana, summary.birth_date, summary.sex) == (
        "Yamada Taro", "", "", "unknown",
    )  # fmt: skip


@given(info=INFOS, day=DATES, tid=TICKET_IDS, pid=st.uuids().map(str), at=INSTANTS)
def test_a_ticket_makes_an_ambulatory_arrived_encounter_named_by_the_ticket(
    info: str, day: str, tid: str, pid: str, at: float
) -> None:
    e = res.new_encounter(
        info=info, day=day, ticket_id=tid, patient_id=pid, status="arrived", at=at
    )
    assert e["identifier"] == [{"system": "urn:junban:ticket", "value": f"{info}:{day}:{tid}"}]
    assert e["class"]["code"] == "AMB" and e["class"]["system"] == res.ACT_CODE
    assert e["status"] == "arrived"
    assert e["subject"] == {"reference": f"Patient/{pid}"}
    start = datetime.fromisoformat(e["period"]["start"])
    assert start.utcoffset() is not None and abs(start.timestamp() - at) < 1


@given(events=st.lists(st.tuples(EVENT_TYPES, INSTANTS), max_size=12))
def test_ticket_events_move_the_encounter_status_and_mark_absence(
    events: list[tuple[str, float]],
) -> None:
    start = res.new_encounter(
        info="1-01", day="2026-12-07", ticket_id="t1", patient_id="p", status="arrived", at=0
    )
    encounter = start
    for event_type, at in events:
        before = repr(encounter)
        after = res.apply_event(encounter, event_type, at)
        assert repr(encounter) == before  # a copy, the input untouched
        encounter = after
    status_events = [t for t, _ in events if t in res.STATUS_OF_EVENT]
    expected = res.STATUS_OF_EVENT[status_events[-1]] if status_events else "arrived"
    assert encounter["status"] == expected
    absent = [x for x in encounter.get("extension", []) if x["url"] == res.ABSENT_EXTENSION]
    assert len(absent) == (1 if events and events[-1][0] == "ticket.absent" else 0)
    assert encounter["identifier"] == start["identifier"]
    if expected in ("finished", "cancelled"):
        assert "end" in encounter["period"]


@given(kana=HIRAGANA)
def test_kana_folds_hiragana_and_half_width_to_full_width_katakana(kana: str) -> None:
    folded = res.normalize_kana(kana)
    assert all(0x30A1 <= ord(c) <= 0x30FA or c == "ー" for c in folded), folded
    assert res.normalize_kana(folded) == folded
    assert res.normalize_kana("ﾔﾏﾀﾞ\u3000 ﾀﾛｳ") == "ヤマダ タロウ"
    assert res.normalize_kana("やまだ　たろう") == "ヤマダ タロウ"


@given(digits=st.from_regex(r"\A0[0-9]{5,14}\Z"))
def test_phone_variants_are_the_same_digits_hyphenated(digits: str) -> None:
    variants = res.phone_variants(digits)
    assert variants[0] == digits
    assert all(v.replace("-", "") == digits for v in variants)
    assert len(set(variants)) == len(variants)


def test_an_operation_outcome_message_is_shown_short() -> None:
    body = {"resourceType": "OperationOutcome", "issue": [{"diagnostics": "x" * 500}]}
    assert res.outcome_message(body, 422).startswith("FHIR 422: xxx")
    assert len(res.outcome_message(body, 422)) == 200
    assert res.outcome_message("<html>", 400) == "FHIR server answered 400"


@given(code=INSTITUTIONS)
def test_the_config_is_a_ten_digit_institution_code(code: str) -> None:
    assert fhir.validate_config({"institution_code": code}) == {"institution_code": code}


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"institution_code": "123456789"},
        {"institution_code": "12345678901"},
        {"institution_code": 1312345678},
        {"institution_code": "131234567８"},
        {"institution_code": "1312345678", "token": "t"},
        {"institution_code": "1312345678", "extra": 1},
        [],
    ],
)
def test_a_bad_config_is_refused_with_a_clear_code(config: Any) -> None:
    with pytest.raises(Unprocessable) as caught:
        fhir.validate_config(config)
    assert caught.value.code == "invalid_endpoint_config"
