"""The booking book's rules (``hub/booking/rules.py``) and settings (``hub/booking/config.py``):
capacity over random sequences, who may book and cancel when, the settings check and the
check-in window to its edges. Pure: no Redis."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.booking import config as cfg
from hub.booking import rules as book_rules
from hub.booking.config import Band, BookingConfig
from hub.booking.model import Book, BookEvent, CancelBooking, MakeBooking, MarkCheckedIn, MarkNoShow
from hub.errors import JunbanError
from tests.booking import strategies as B

DAY = "2025-03-03"  # a Monday, no holiday
MORNING = Band("10:00", "11:00", 2)
TUE_WED = Band("14:00", "15:00", 1, days=(2, 3))
CONFIG = BookingConfig(bands=(MORNING, Band("11:00", "12:00", 3), TUE_WED))
EVE = B.at("2025-03-02", "12:00")  # the day before
EQUINOX_EVE = B.at("2025-03-19", "12:00")
START, END = cfg.band_times(DAY, MORNING, B.TOKYO)


def make(book: Book, at: float, serial: int = 1, **changes: Any) -> list[BookEvent]:
    """A patient's web booking in the 10:00 band (``changes``: staff, band, config…)."""
    cmd = MakeBooking(at, B.booking_id(book.day, serial), "10:00", CONFIG, B.TOKYO)
    return book_rules.decide(book, replace(cmd, **{"name": "name:a", "phone": "tel:0", **changes}))


def refusal(book: Book, at: float, **changes: Any) -> tuple[int, str, dict[str, Any]]:
    with pytest.raises(JunbanError) as err:
        make(book, at, **changes)
    return err.value.status, err.value.code, err.value.extra


def booked(day: str = DAY, **changes: Any) -> Book:
    """A book with one booking (``R…01``) in the 10:00 band."""
    book = Book(B.INFO, day)
    for event in make(book, EVE, **changes):
        book_rules.apply(book, event)
    return book


# ---- capacity ---------------------------------------------------------------------------------

OPS = st.lists(
    st.tuples(st.sampled_from(["book", "book", "cancel"]), st.integers(0, 99), st.booleans()),
    max_size=40,
)


@settings(max_examples=1000, deadline=None)
@given(config=B.booking_configs(), ops=OPS, steps=st.lists(st.integers(0, 30), min_size=40))
def test_no_sequence_of_bookings_and_cancellations_overbooks_a_band(
    config: BookingConfig, ops: list[tuple[str, int, bool]], steps: list[int]
) -> None:
    """A booking is taken exactly while its band has a place left (cancelled ones give theirs
    back) and is open to whoever books; capacity is never exceeded."""
    book, now = Book(B.INFO, DAY), B.at(DAY, config.bands[0].start, -3600)
    for serial, ((kind, pick, staff), step) in enumerate(zip(ops, steps, strict=False)):
        now += step * 60
        if kind == "cancel" and book.bookings:
            target = list(book.bookings.values())[pick % len(book.bookings)]
            cmd = CancelBooking(now, target.id, staff=staff, tz=B.TOKYO)
            ok = target.status == "booked" and (staff or now < B.at(DAY, target.band))
        else:
            band = config.bands[pick % len(config.bands)]
            start, end = cfg.band_times(DAY, band, B.TOKYO)
            places = band.capacity - sum(
                b.band == band.start and b.status != "cancelled" for b in book.bookings.values()
            )
            made = MakeBooking(now, B.booking_id(DAY, serial), band.start, config, B.TOKYO)
            cmd = replace(made, staff=staff, name="name:a", phone="tel:0")
            ok = places > 0 and now < (end if staff else start)
        try:
            events = book_rules.decide(book, cmd)
        except JunbanError as err:
            assert not ok, f"refused {err.code}"
            continue
        assert ok
        for event in events:
            book_rules.apply(book, event)
        assert all(book.taken(b.start) <= b.capacity for b in config.bands)


def test_lowering_a_capacity_cancels_nobody_and_takes_no_new_booking() -> None:
    book = booked()
    for event in make(book, EVE, serial=2):
        book_rules.apply(book, event)
    smaller = replace(CONFIG, bands=(replace(MORNING, capacity=1),))
    assert [b.status for b in book.bookings.values()] == ["booked", "booked"]
    assert refusal(book, EVE, serial=3, config=smaller)[:2] == (409, "band_full")


def test_a_cancelled_place_can_be_booked_again() -> None:
    book = booked()
    for event in make(book, EVE, serial=2):
        book_rules.apply(book, event)
    assert refusal(book, EVE, serial=3)[:2] == (409, "band_full")
    cancel = CancelBooking(EVE, B.booking_id(DAY, 1))
    for event in book_rules.decide(book, cancel):
        book_rules.apply(book, event)
    assert len(make(book, EVE, serial=3)) == 1


# ---- who may book, and when -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "at", "changes", "expected"),
    [
        (DAY, START - 1, {}, None),  # a patient until the band starts
        (DAY, START, {}, "band_closed"),
        (DAY, END - 1, {"staff": True, "phone": ""}, None),  # staff until it ends
        (DAY, END, {"staff": True}, "band_closed"),
        ("2025-03-01", EVE, {}, "band_closed"),  # a day that is over
        ("2025-03-16", EVE, {}, None),  # today + horizon_days (14)
        ("2025-03-17", EVE, {}, "outside_horizon"),
        ("2025-03-17", EVE, {"config": replace(CONFIG, horizon_days=15)}, None),
        (DAY, EVE, {"config": replace(CONFIG, closed_dates=(DAY,))}, "band_closed"),
        ("2025-03-20", EQUINOX_EVE, {}, "band_closed"),  # 春分の日, closed on holidays
        ("2025-03-20", EQUINOX_EVE, {"config": replace(CONFIG, closed_on_holidays=False)}, None),
        ("2025-11-24", B.at("2025-11-20", "12:00"), {}, "band_closed"),  # 振替休日
        (DAY, EVE, {"band": "10:30"}, "unknown_band"),  # not a band's start
        (DAY, EVE, {"band": "14:00"}, "unknown_band"),  # not on Mondays
        ("2025-03-04", EVE, {"band": "14:00"}, None),
        (DAY, EVE, {"name": "  "}, "invalid_body"),  # a booking needs a name
        (DAY, EVE, {"phone": ""}, "invalid_body"),  # and, on the web, a phone
        (DAY, EVE, {"name": "x" * 101}, "invalid_body"),
        (DAY, EVE, {"phone": "0" * 33, "staff": True}, "invalid_body"),
        (DAY, EVE, {"service_hours": ("13:00", "18:00")}, "outside_service_hours"),
        (DAY, EVE, {"service_hours": ("13:00", "18:00"), "staff": True}, None),
        (DAY, EVE, {"suspended": True}, "facility_suspended"),
        (DAY, EVE, {"suspended": True, "staff": True}, None),
    ],
)
def test_bookings_are_taken_only_on_open_days_in_reach_before_the_band_closes(
    day: str, at: float, changes: dict[str, Any], expected: str | None
) -> None:
    book = Book(B.INFO, day)
    if expected is None:
        assert len(make(book, at, **changes)) == 1
    else:
        assert refusal(book, at, **changes)[1] == expected
    assert book.bookings == {}


def test_the_horizon_refusal_names_the_last_day_and_full_and_duplicate_are_409() -> None:
    assert refusal(Book(B.INFO, "2025-03-17"), EVE) == (
        409,
        "outside_horizon",
        {"last_day": "2025-03-16"},
    )
    book = booked()
    assert refusal(book, EVE)[:2] == (409, "duplicate_booking")
    for event in make(book, EVE, serial=2):
        book_rules.apply(book, event)
    assert refusal(book, EVE, serial=3)[:2] == (409, "band_full")


@pytest.mark.parametrize(
    ("at", "staff", "expected"),
    [(START - 1, False, None), (START, False, "band_closed"), (END + 3600, True, None)],
)
def test_a_patient_cancels_until_the_band_starts_staff_until_check_in(
    at: float, staff: bool, expected: str | None
) -> None:
    book, bid = booked(), B.booking_id(DAY, 1)
    cmd = CancelBooking(at, bid, staff=staff, tz=B.TOKYO)
    if expected is None:
        [event] = book_rules.decide(book, cmd)
        book_rules.apply(book, event)
        assert (book.bookings[bid].status, book.bookings[bid].by) == (
            "cancelled",
            "staff" if staff else "patient",
        )
        with pytest.raises(JunbanError) as again:
            book_rules.decide(book, cmd)
        assert (again.value.code, again.value.extra) == (
            "illegal_transition",
            {"status": "cancelled"},
        )
    else:
        with pytest.raises(JunbanError) as err:
            book_rules.decide(book, cmd)
        assert err.value.code == expected and book.bookings[bid].status == "booked"


def test_check_in_and_no_show_marks_move_only_forward() -> None:
    book, bid = booked(), B.booking_id(DAY, 1)
    [no_show] = book_rules.decide(book, MarkNoShow(END, bid))
    book_rules.apply(book, no_show)
    assert book_rules.decide(book, MarkNoShow(END, bid)) == []  # once
    [checked] = book_rules.decide(book, MarkCheckedIn(END, bid))  # staff admitted it after all
    book_rules.apply(book, checked)
    assert book.bookings[bid].status == "checked_in" and book.taken("10:00") == 1
    assert book_rules.decide(book, MarkCheckedIn(END, bid)) == []  # recorded already
    assert book_rules.decide(book, MarkNoShow(END, bid)) == []
    with pytest.raises(JunbanError) as err:
        book_rules.decide(book, CancelBooking(END, bid, staff=True))
    assert err.value.code == "illegal_transition"
    with pytest.raises(JunbanError) as unknown:
        book_rules.decide(book, MarkCheckedIn(END, "R2025030300000099"))
    assert (unknown.value.status, unknown.value.code) == (404, "unknown_booking")


# ---- the settings -----------------------------------------------------------------------------


@settings(max_examples=300)
@given(config=B.booking_configs())
def test_every_generated_day_has_valid_settings(config: BookingConfig) -> None:
    cfg.check(config, None)
    cfg.check(config, ("06:00", "24:00"))


def bands() -> st.SearchStrategy[Band]:
    days = st.lists(st.integers(1, 7), min_size=1, max_size=7, unique=True).map(tuple)
    start = st.integers(0, 24 * 60 - 10)
    return st.builds(
        lambda s, length, d: Band(B.hhmm(s), B.hhmm(min(s + length, 24 * 60)), 1, d),
        start,
        st.integers(10, 180),
        days,
    )


@given(a=bands(), b=bands())
def test_two_bands_are_refused_exactly_when_they_overlap_on_a_common_weekday(
    a: Band, b: Band
) -> None:
    def minute(hhmm: str) -> int:
        return int(hhmm[:2]) * 60 + int(hhmm[3:])

    (s1, e1), (s2, e2) = ((minute(x.start), minute(x.end)) for x in (a, b))
    overlap = s1 < e2 and s2 < e1 and bool(set(a.days) & set(b.days))
    config = BookingConfig(bands=(a, b))
    if overlap:
        with pytest.raises(ValueError, match="overlap"):
            cfg.check(config, None)
    else:
        cfg.check(config, None)


GOOD = Band("09:00", "09:10", 1)
NINE_MON_TUE = Band("09:00", "10:00", 5, (1, 2))
FORTY_NINE = tuple(Band(B.hhmm(m), B.hhmm(m + 10), 1) for m in range(0, 490, 10))


@pytest.mark.parametrize(
    ("changes", "hours", "message"),
    [
        ({"bands": (NINE_MON_TUE, Band("09:30", "10:30", 5, (2,)))}, None, "overlap"),
        ({"bands": (Band("09:00", "09:09", 1),)}, None, "at least 10 minutes"),
        ({"bands": (Band("09:00", "08:00", 1),)}, None, "at least 10 minutes"),
        ({"bands": (Band("09:00", "10:00", 0),)}, None, "capacity"),
        ({"bands": (Band("09:00", "10:00", 501),)}, None, "capacity"),
        ({"bands": (Band("05:50", "07:00", 1),)}, ("06:00", "24:00"), "outside the service hours"),
        ({"bands": (Band("17:00", "18:10", 1),)}, ("06:00", "18:00"), "outside the service hours"),
        ({"bands": (Band("9:00", "10:00", 1),)}, None, "HH:MM"),
        ({"bands": (Band("09:00", "10:00", 1, ()),)}, None, "days"),
        ({"bands": (Band("09:00", "10:00", 1, (0, 1)),)}, None, "days"),
        ({"bands": (Band("09:00", "10:00", 1, (8,)),)}, None, "days"),
        ({"bands": FORTY_NINE}, None, "at most 48 bands"),
        ({"early_min": 181}, None, "early_min"),
        ({"late_min": -1}, None, "late_min"),
        ({"show_rate": 0.0}, None, "show_rate"),
        ({"show_rate": 1.01}, None, "show_rate"),
        ({"show_rate": math.nan}, None, "show_rate"),
        ({"horizon_days": 61}, None, "horizon_days"),
        ({"check_in": "phone"}, None, "check_in"),
        ({"closed_dates": ("2025-3-3",)}, None, "not a date"),
    ],
)  # fmt: skip
def test_settings_are_refused_naming_the_problem(
    changes: dict[str, Any], hours: tuple[str, str] | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        cfg.check(replace(BookingConfig(bands=(GOOD,)), **changes), hours)


@pytest.mark.parametrize(
    "placement",
    ["", "first", "band_first:1", "target_time:2", "interleave", "interleave:", "interleave:0",
     "interleave:21", "interleave:-1", "interleave:x", "interleave: 2", "interleave:2:3",
     "Interleave:2", "interleave:¹"],
)  # fmt: skip
def test_bad_placements_are_refused(placement: str) -> None:
    with pytest.raises(ValueError):
        cfg.check(BookingConfig(bands=(GOOD,), placement=placement), None)


@pytest.mark.parametrize(
    ("changes", "hours"),
    [
        ({"placement": "interleave:1"}, None),
        ({"placement": "interleave:20"}, None),
        ({"placement": "target_time"}, None),
        ({"bands": (Band("09:00", "10:00", 5, (1,)), Band("09:30", "10:30", 5, (2,)))}, None),
        ({"bands": (Band("09:00", "10:00", 500), Band("10:00", "10:10", 1))}, None),
        ({"bands": (Band("06:00", "24:00", 1),)}, ("06:00", "24:00")),
        ({"bands": (Band("23:00", "24:00", 1),)}, ("22:00", "02:00")),  # past midnight
        ({"early_min": 180, "late_min": 0, "show_rate": 1.0, "horizon_days": 60}, None),
    ],
)
def test_settings_at_the_limits_are_accepted(
    changes: dict[str, Any], hours: tuple[str, str] | None
) -> None:
    cfg.check(replace(BookingConfig(bands=(GOOD,)), **changes), hours)


def test_the_bands_of_a_date_follow_weekdays_closed_dates_and_holidays() -> None:
    config = replace(CONFIG, closed_dates=("2025-03-10",))
    assert [b.start for b in cfg.bands_on(config, DAY)] == ["10:00", "11:00"]
    assert [b.start for b in cfg.bands_on(config, "2025-03-04")] == ["10:00", "11:00", "14:00"]
    assert cfg.bands_on(config, "2025-03-10") == []  # a closed date
    assert cfg.bands_on(config, "2025-11-03") == []  # 文化の日
    assert cfg.bands_on(replace(config, closed_on_holidays=False), "2025-11-03") != []
    assert cfg.band_of(config, "2025-03-04", "14:00") == TUE_WED
    assert cfg.band_of(config, DAY, "14:00") is None
    assert cfg.band_times(DAY, MORNING, B.TOKYO) == (START, START + 3600)
    assert START == B.at("2025-03-03", "00:00") + 10 * 3600


# ---- the check-in window ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("early", "late", "at", "expected"),
    [
        (15, 15, START - 900.001, "too_early"),
        (15, 15, START - 900, "on_time"),  # check-in opens early_min before the band
        (15, 15, END, "on_time"),  # to its end, inclusive
        (15, 15, END + 0.001, "late"),
        (15, 15, END + 900, "late"),  # late_min after it, inclusive
        (15, 15, END + 900.001, "no_show"),
        (0, 0, START - 0.001, "too_early"),
        (0, 0, START, "on_time"),
        (0, 0, END, "on_time"),
        (0, 0, END + 0.001, "no_show"),
    ],
)
def test_the_check_in_window_to_its_edges(early: int, late: int, at: float, expected: str) -> None:
    config = replace(CONFIG, early_min=early, late_min=late)
    booking = B.booking(MORNING)
    assert book_rules.window(config, DAY, booking, B.TOKYO, at) == expected
