"""Property tests of the ORCA adapter's pure parts: request building (facility-zone date and
time, codes from the counter map), the config check, answer parsing."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import BadRequest, Unprocessable
from hub.integrations import orca_rules as orca
from hub.integrations.emr import PatientQuery

ZONES = st.sampled_from(["Asia/Tokyo", "Europe/Berlin", "America/New_York", "UTC"])
INSTANTS = st.floats(min_value=946_684_800, max_value=4_102_444_800, allow_nan=False)
COUNTERS = st.from_regex(r"\A[0-9]{2}\Z")
CODES = st.from_regex(r"\A[0-9A-Za-z]{1,10}\Z")
REFS = st.from_regex(r"\A[0-9A-Za-z-]{1,20}\Z")
COUNTER_MAPS = st.dictionaries(
    COUNTERS, st.fixed_dictionaries({"department": CODES, "physician": CODES}), min_size=1
)


@given(at=INSTANTS, tz=ZONES, ref=REFS, department=CODES, physician=CODES)
def test_an_acceptance_is_dated_in_the_facility_zone(
    at: float, tz: str, ref: str, department: str, physician: str
) -> None:
    codes = orca.CounterCodes(department=department, physician=physician)
    req = orca.acceptance_request(patient_ref=ref, at=at, tz=tz, codes=codes)["acceptreq"]
    wall = datetime.fromtimestamp(at, ZoneInfo(tz))
    assert req["Request_Number"] == "01"
    assert req["Patient_ID"] == ref
    assert req["Acceptance_Date"] == wall.date().isoformat()
    assert req["Acceptance_Time"] == f"{wall.hour:02d}:{wall.minute:02d}:{wall.second:02d}"
    assert (req["Department_Code"], req["Physician_Code"]) == (department, physician)
    assert "Acceptance_Id" not in req


@given(at=INSTANTS, tz=ZONES, ref=REFS, acceptance=st.from_regex(r"\A[0-9]{5}\Z"))
def test_a_cancellation_names_the_acceptance_and_its_local_day(
    at: float, tz: str, ref: str, acceptance: str
) -> None:
    codes = orca.CounterCodes(department="01", physician="10001")
    req = orca.cancel_request(patient_ref=ref, acceptance_id=acceptance, at=at, tz=tz, codes=codes)[
        "acceptreq"
    ]
    assert req["Request_Number"] == "02"
    assert req["Acceptance_Id"] == acceptance
    assert req["Acceptance_Date"] == datetime.fromtimestamp(at, ZoneInfo(tz)).date().isoformat()


def test_a_day_boundary_falls_in_the_facility_zone_not_utc() -> None:
    at = datetime(2026, 12, 7, 23, 30, tzinfo=ZoneInfo("UTC")).timestamp()  # 08:30 next day JST
    assert orca.local_date_time(at, "Asia/Tokyo") == ("2026-12-08", "08:30:00")
    assert orca.local_date_time(at, "UTC") == ("2026-12-07", "23:30:00")


@given(counters=COUNTER_MAPS, facility=st.from_regex(r"\A[0-9]{1,8}\Z"), data=st.data())
def test_codes_come_from_the_tickets_counter(
    counters: dict[str, dict[str, str]], facility: str, data: st.DataObject
) -> None:
    config = orca.validate_config({"user": "ormaster", "counters": counters})
    counter = data.draw(st.sampled_from(sorted(counters)))
    codes = orca.codes_for(config, f"{facility}-{counter}")
    assert codes is not None
    assert (codes.department, codes.physician) == (
        counters[counter]["department"],
        counters[counter]["physician"],
    )
    other = data.draw(COUNTERS.filter(lambda c: c not in counters))
    assert orca.codes_for(config, f"{facility}-{other}") is None


@given(counters=COUNTER_MAPS)
def test_a_valid_config_is_its_own_normal_form(counters: dict[str, dict[str, str]]) -> None:
    config = orca.validate_config({"user": "ormaster", "counters": counters})
    assert orca.validate_config(config) == config


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"user": "ormaster"},
        {"user": "", "counters": {"01": {"department": "01", "physician": "10001"}}},
        {"user": "o", "counters": {}},
        {"user": "o", "counters": {"1": {"department": "01", "physician": "10001"}}},
        {"user": "o", "counters": {"01": {"department": "01"}}},
        {"user": "o", "counters": {"01": {"department": "0 1", "physician": "10001"}}},
        {"user": "o", "counters": {"01": {"department": "01", "physician": "1", "x": "1"}}},
        {"user": "o", "password": "p", "counters": {"01": {"department": "01", "physician": "1"}}},
        {"user": "o", "url": "https://x", "counters": {}},
        {"user": ["o"], "counters": {"01": {"department": "01", "physician": "1"}}},
    ],
)
def test_a_bad_config_is_refused_clearly(raw: dict[str, Any]) -> None:
    with pytest.raises(Unprocessable) as refused:
        orca.validate_config(raw)
    assert refused.value.code == "invalid_endpoint_config"


def test_answers_are_unwrapped_and_results_read() -> None:
    assert orca.record_of({"acceptres": {"Api_Result": "K3"}}) == {"Api_Result": "K3"}
    assert orca.record_of([1]) == {}
    assert orca.is_success("00") and orca.is_success("000")
    assert not orca.is_success("") and not orca.is_success("90") and not orca.is_success("K3")
    summary = orca.summary_of(
        {"Patient_ID": "00012", "WholeName": "日医 太郎", "WholeName_inKana": "ニチイ タロウ",
         "BirthDate": "1970-01-01", "Sex": "2"}
    )  # fmt: skip
    assert (summary.patient_ref, summary.sex, summary.birth_date) == (
        "00012",
        "female",
        "1970-01-01",
    )
    assert orca.summary_of({"Sex": "9"}).sex == "unknown"


@pytest.mark.parametrize(
    "params",
    [{}, {"id": "1", "phone": "0312345678"}, {"kana": "ヤマダ"}, {"birth": "1970-01-01"},
     {"id": "a b"}, {"kana": "ヤマダ", "birth": "1970-13-01"}, {"phone": "abc"},
     {"kana": "ヤ" * 61, "birth": "1970-01-01"}, {"kana": "ヤマダ", "birth": "19700101"}],
)  # fmt: skip
def test_a_lookup_query_takes_one_way(params: dict[str, str]) -> None:
    with pytest.raises(BadRequest) as refused:
        PatientQuery.parse(params)
    assert refused.value.code == "invalid_query"


def test_a_lookup_query_is_parsed_and_described_without_personal_data() -> None:
    by_name = PatientQuery.parse({"kana": " ヤマダ ", "birth": "1980-12-24"})
    assert (by_name.kana, by_name.birth) == ("ヤマダ", "1980-12-24")
    assert "ヤマダ" not in by_name.describe() and "1980" not in by_name.describe()
    assert PatientQuery.parse({"id": "00012"}).describe() == "emr lookup id=00012"
    assert PatientQuery.parse({"phone": "03-1234-5678"}).phone == "0312345678"


@given(at=st.integers(min_value=946_684_800, max_value=4_102_444_800))
def test_ticket_times_are_read_as_the_staff_projection_writes_them(at: int) -> None:
    iso = datetime.fromtimestamp(at, ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")
    assert orca.instant(iso, 0.0) == at
    assert orca.instant(at, 0.0) == at
    assert orca.instant(None, 5.0) == orca.instant("not a time", 5.0) == 5.0
