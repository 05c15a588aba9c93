"""Server operating hours (Table 2) and support desk hours (Table 3, Art. 3-1 (20))."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given

from hub.contracts import hours
from tests.contracts import strategies as S

T = S.TOKYO


def at(y: int, m: int, d: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(y, m, d, hour, minute, tzinfo=T)


@given(S.tokyo_instants())
def test_table2_the_server_runs_06_to_24_every_day(now: datetime) -> None:
    """別表第２号: 日曜日～土曜日 6:00～24:00."""
    assert hours.server_open(now) == (now.hour >= 6)


@pytest.mark.parametrize(
    ("now", "is_open", "why_closed"),
    [
        (at(2025, 6, 2, 8), True, None),  # Monday 08:00 opens
        (at(2025, 6, 2, 7, 59), False, None),
        (at(2025, 6, 2, 19, 59), True, None),
        (at(2025, 6, 2, 20), False, None),  # Mon–Fri until 20:00
        (at(2025, 6, 7, 17, 59), True, None),  # Saturday until 18:00
        (at(2025, 6, 7, 18), False, None),
        (at(2025, 6, 8, 12), False, "sunday"),
        (at(2025, 1, 13, 12), False, "national_holiday"),  # 成人の日 (Monday)
        (at(2025, 2, 24, 12), False, "national_holiday"),  # 振替休日 for 天皇誕生日
        (at(2025, 12, 29, 12), False, "new_year"),  # a Monday, but 年末年始
        (at(2026, 1, 3, 12), False, "new_year"),
        (at(2026, 1, 5, 12), True, None),
    ],
)
def test_table3_the_support_desk_hours(
    now: datetime, is_open: bool, why_closed: str | None
) -> None:
    """別表第３号: 月曜日～金曜日 8:00～20:00, 土曜日 8:00～18:00; 第３条１項(20): ただし、
    日曜日、国民の祝祭日および年末年始ならびに当社が別途定める日は休日とします."""
    assert hours.support_open(now) == is_open
    assert hours.support_closed_reason(now.date()) == why_closed


def test_days_the_operator_sets_are_closed_too() -> None:
    """当社が別途定める日: passed by the caller."""
    monday = at(2025, 6, 2, 10)
    assert not hours.support_open(monday, extra_closed={date(2025, 6, 2)})
    assert hours.next_support_open(monday, extra_closed={date(2025, 6, 2)}) == at(2025, 6, 3, 8)


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        (at(2025, 6, 2, 9), at(2025, 6, 2, 9)),  # open now: now
        (at(2025, 6, 2, 6), at(2025, 6, 2, 8)),
        (at(2025, 6, 6, 21), at(2025, 6, 7, 8)),  # Friday night -> Saturday
        (at(2025, 6, 7, 18), at(2025, 6, 9, 8)),  # Saturday evening -> Monday
        (at(2025, 12, 27, 18), at(2026, 1, 5, 8)),  # New Year: Jan 4 2026 is a Sunday
        (at(2025, 5, 2, 21), at(2025, 5, 7, 8)),  # Golden Week 5/3–5/6
    ],
)
def test_the_support_desk_next_opens(now: datetime, opens: datetime) -> None:
    assert hours.next_support_open(now) == opens


@given(S.tokyo_instants(span_days=3 * 365))
def test_the_next_opening_is_open_and_nothing_before_it_is(now: datetime) -> None:
    opens = hours.next_support_open(now)
    assert opens >= now and hours.support_open(opens)
    if opens > now:
        assert not hours.support_open(opens - timedelta(minutes=1)) or opens - now < timedelta(
            minutes=1
        )
        for day in range((opens.date() - now.date()).days):
            closed = hours.support_closed_reason(now.date() + timedelta(days=day + 1))
            assert closed is not None or now.date() + timedelta(days=day + 1) == opens.date()


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        hours.support_open(datetime(2025, 6, 2, 9))


def test_the_description_for_an_endpoint() -> None:
    info = hours.describe(at(2025, 12, 30, 10))
    assert info["server"]["opens"] == "06:00" and info["server"]["closes"] == "24:00"
    assert info["server"]["open"] is True
    assert info["support"]["open"] is False
    assert info["support"]["closed_today"] == "new_year"
    assert info["support"]["next_open"] == "2026-01-05T08:00:00+09:00"
    assert "now" not in hours.describe()
