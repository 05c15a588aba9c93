"""Money in integer yen: fees, tax (Art. 28), late fees (27), surcharges (26), refunds (32)."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.contracts import lifecycle, money
from hub.contracts.model import Contract, FeePlan, Incident
from hub.errors import Unprocessable
from tests.contracts import strategies as S

T = S.TOKYO
H = timedelta(hours=1)


def at(y: int, m: int, d: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(y, m, d, hour, minute, tzinfo=T)


def incident(learned: datetime, recovered: datetime, cause: str = "operator") -> Incident:
    return Incident("i-1", learned, recovered, cause)  # type: ignore[arg-type]


def operating_hours_by_the_minute(start: datetime, end: datetime) -> int:
    """Minutes of [start, end) whose Tokyo wall clock reads 06:00–23:59, counted one by one."""
    count, t = 0, start
    while t < end:
        count += 6 <= t.astimezone(T).hour
        t += timedelta(minutes=1)
    return count


# ---- Art. 32: outage refunds ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("learned", "recovered", "cause", "blocks"),
    [
        # 17 h 54 min of operating time: under 18 h, nothing (Art. 24-4)
        (at(2025, 6, 2, 6), at(2025, 6, 2, 23, 54), "operator", 0),
        # exactly 18 h: 06:00 to 24:00 of one day
        (at(2025, 6, 2, 6), at(2025, 6, 3, 0), "operator", 1),
        # 20:00 -> next day 20:00: 4 h + 14 h = 18 h; the night neither counts nor breaks it
        (at(2025, 6, 2, 20), at(2025, 6, 3, 20), "operator", 1),
        # two whole days of operating hours: 36 h -> two days' worth
        (at(2025, 6, 2, 6), at(2025, 6, 4, 0), "operator", 2),
        # 00:00 -> 06:00 only: no operating hours at all
        (at(2025, 6, 2, 0), at(2025, 6, 2, 6), "operator", 0),
        # 53 h 59 min -> floor(53.98 / 18) = 2
        (at(2025, 6, 2, 6), at(2025, 6, 4, 23, 59), "operator", 2),
        # decided (docs/contracts.md): the time divided by 18 is operating time too —
        # 20:00 Mon -> 14:00 Wed is 4 + 18 + 8 = 30 h -> 1 (its 42 wall-clock hours would be 2)
        (at(2025, 6, 2, 20), at(2025, 6, 4, 14), "operator", 1),
        # a carrier's fault refunds nothing however long (Art. 32-2)
        (at(2025, 6, 2, 6), at(2025, 6, 9, 0), "carrier", 0),
    ],
)
def test_art32_refund_blocks_count_only_server_operating_hours(
    learned: datetime, recovered: datetime, cause: str, blocks: int
) -> None:
    """第３２条１項: そのことを当社が知った時から起算してサーバー稼動時間において連続１８時間
    以上サービスが利用できなかったときは … 時間を１８で除した数（小数点以下の端数は切り捨て
    ます）に１ヶ月分に相当するサービス費用の３０分の１を乗じて算出した額を返却します.
    第３２条２項: 伝送路設備を保有する電気通信事業者 … の責に帰すべき場合を除きます.
    Worked example: a 30,000 yen monthly fee, 36 operating hours -> 2 × 30,000 / 30 = 2,000."""
    outage = incident(learned, recovered, cause)
    assert money.outage_blocks(outage) == blocks
    assert money.outage_refund(outage, 30_000) == blocks * 1_000


def test_art32_the_thirtieth_is_rounded_down_after_multiplying() -> None:
    """decided: floor(blocks × fee / 30), one rounding: 2 blocks of 10,001 yen -> 666 (not
    2 × 333 = 666 by luck: 3 blocks -> 1,000, where 3 × floor(333.36) would be 999)."""
    three_days = incident(at(2025, 6, 2, 6), at(2025, 6, 5, 0))
    assert money.outage_blocks(three_days) == 3
    assert money.outage_refund(three_days, 10_001) == 1_000


@given(S.incidents(), S.yen(1_000_000))
def test_a_refund_is_never_negative_and_never_for_under_18_operating_hours(
    outage: Incident, fee: int
) -> None:
    refund = money.outage_refund(outage, fee)
    assert refund >= 0
    hours = money.operating_time(outage.learned_at, outage.recovered_at)
    if hours < 18 * H:
        assert refund == 0
    assert refund == (hours // (18 * H)) * fee // 30
    assert refund <= fee * (outage.recovered_at - outage.learned_at) / (18 * H) / 30


@given(S.incidents(max_hours=80))
def test_operating_time_is_exactly_the_minutes_from_06_to_24_tokyo(outage: Incident) -> None:
    """Hours outside 06:00–24:00 never count: checked minute by minute, independently."""
    counted = money.operating_time(outage.learned_at, outage.recovered_at)
    assert counted == timedelta(
        minutes=operating_hours_by_the_minute(outage.learned_at, outage.recovered_at)
    )


@given(S.tokyo_instants(), st.integers(0, 6 * 60), st.integers(0, 6 * 60))
def test_night_hours_never_count(start: datetime, night_a: int, night_b: int) -> None:
    """Any stretch inside 00:00–06:00 counts zero, so it never adds to a refund."""
    midnight = start.replace(hour=0, minute=0)
    a, b = sorted((night_a, night_b))
    span = (midnight + timedelta(minutes=a), midnight + timedelta(minutes=b))
    assert money.operating_time(*span) == timedelta(0)


@given(S.tokyo_instants(), st.integers(0, 5000), st.integers(0, 5000))
def test_operating_time_adds_up_over_consecutive_stretches(
    start: datetime, first: int, second: int
) -> None:
    middle = start + timedelta(minutes=first)
    end = middle + timedelta(minutes=second)
    whole = money.operating_time(start, end)
    assert whole == money.operating_time(start, middle) + money.operating_time(middle, end)
    assert timedelta(0) <= whole <= end - start


@given(S.incidents(cause="carrier"), S.yen())
def test_a_carriers_outage_refunds_nothing(outage: Incident, fee: int) -> None:
    assert money.outage_refund(outage, fee) == 0


@given(S.tokyo_instants(), S.yen(1_000_000))
def test_36_operating_hours_give_two_days_worth(start: datetime, fee: int) -> None:
    """Starting at 06:00 on any day, 36 operating hours end at 24:00 the next day."""
    learned = start.replace(hour=6, minute=0)
    outage = incident(learned, learned + timedelta(hours=42))
    assert money.operating_time(outage.learned_at, outage.recovered_at) == 36 * H
    assert money.outage_refund(outage, fee) == 2 * fee // 30


def test_a_refund_is_one_months_fee_of_the_parts_hit() -> None:
    contract = lifecycle.approve(
        lifecycle.apply(
            "c", "x", ("reservation", "video"), FeePlan(0, {"reservation": 9000, "video": 6000}),
            date(2025, 4, 1),
        ),
        "1", ("01",), date(2025, 4, 1),
    )  # fmt: skip
    whole_day = incident(at(2025, 6, 2, 6), at(2025, 6, 3, 0))
    assert money.contract_outage_refund(contract, whole_day) == 500
    video_only = Incident("v", whole_day.learned_at, whole_day.recovered_at, parts=("video",))
    assert money.contract_outage_refund(contract, video_only) == 200


@pytest.mark.parametrize(
    ("recovered", "deadline"),
    [
        (at(2025, 1, 15, 9), date(2025, 2, 15)),
        (at(2025, 1, 31, 23, 59), date(2025, 2, 28)),  # no Feb 31: the month's last day
        (at(2024, 1, 30, 12), date(2024, 2, 29)),
        (at(2025, 12, 20, 12), date(2026, 1, 20)),
    ],
)
def test_art32_a_claim_is_in_time_within_one_month_of_recovery(
    recovered: datetime, deadline: date
) -> None:
    """第３２条１項: 契約者が当該請求をなしえることとなった日から１ヶ月以内に当該請求をしな
    かったときは、契約者はその権利を失うものとします."""
    outage = incident(recovered - timedelta(hours=30), recovered)
    assert money.claim_deadline(outage) == deadline
    assert money.claim_in_time(outage, deadline)
    assert money.claim_in_time(outage, recovered.date())
    assert not money.claim_in_time(outage, deadline + timedelta(days=1))
    assert not money.claim_in_time(outage, recovered.date() - timedelta(days=1))


@given(S.incidents())
def test_the_claim_window_is_about_a_month(outage: Incident) -> None:
    recovered = outage.recovered_at.astimezone(T).date()
    deadline = money.claim_deadline(outage)
    assert timedelta(days=28) <= deadline - recovered <= timedelta(days=31)


# ---- Art. 28: consumption tax ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "rate", "rounding", "tax"),
    [
        (10_000, Fraction(10, 100), "floor", 1_000),
        (12_345, Fraction(10, 100), "floor", 1_234),
        (12_345, Fraction(10, 100), "half_up", 1_235),
        (12_344, Fraction(10, 100), "half_up", 1_234),
        (12_341, Fraction(10, 100), "ceil", 1_235),
        (999, Fraction(8, 100), "floor", 79),
        (0, Fraction(10, 100), "ceil", 0),
        (-12_345, Fraction(10, 100), "floor", -1_234),  # a credit: toward zero
    ],
)
def test_art28_consumption_tax_is_added_with_the_configured_rounding(
    base: int, rate: Fraction, rounding: money.Rounding, tax: int
) -> None:
    """第２８条: 支払を要する額は、別に定める料金等の額に消費税相当額を加算した額となります."""
    assert money.consumption_tax(base, money.TaxPolicy(rate, rounding)) == tax


@given(
    S.yen(10**9),
    st.fractions(min_value=0, max_value=Fraction(1, 4), max_denominator=1000),
    st.sampled_from(money.ROUNDINGS),
)
def test_tax_is_never_negative_and_rounded_as_configured(
    base: int, rate: Fraction, rounding: money.Rounding
) -> None:
    tax = money.consumption_tax(base, money.TaxPolicy(rate, rounding))
    exact = base * rate
    assert tax >= 0
    assert abs(tax - exact) < 1
    if rounding == "floor":
        assert tax <= exact
    elif rounding == "ceil":
        assert tax >= exact
    else:
        assert abs(tax - exact) <= Fraction(1, 2)
    assert money.consumption_tax(-base, money.TaxPolicy(rate, rounding)) == -tax


# ---- Art. 27, 26: late fees and surcharges --------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "due", "paid", "fee"),
    [
        (100_000, date(2025, 4, 30), date(2025, 4, 30), 0),  # paid on the due date
        (100_000, date(2025, 4, 30), date(2025, 5, 30), 1_191),  # 30 days: 1191.78
        (100_000, date(2024, 1, 31), date(2025, 1, 31), 14_539),  # 366 days in a leap year
        (100_000, date(2025, 1, 31), date(2026, 1, 31), 14_500),  # 365 days: exactly 14.5 %
        (33_000, date(2025, 4, 30), date(2025, 5, 1), 13),  # one day: 13.1
    ],
)
def test_art27_late_fees_are_14_5_percent_a_year_by_the_day_on_365_days(
    amount: int, due: date, paid: date, fee: int
) -> None:
    """第２７条: 支払を遅延した場合は、遅延期間につき年率１４．５％の遅延損害金 — per day
    on a 365-day year (also in leap years), rounded down to the yen."""
    assert money.late_fee(amount, due, paid) == fee


@given(S.yen(10**8), S.days(), st.integers(0, 3000), st.integers(0, 3000))
def test_late_fees_grow_with_the_days_and_never_go_negative(
    amount: int, due: date, days: int, more: int
) -> None:
    paid = due + timedelta(days=days)
    fee = money.late_fee(amount, due, paid)
    assert 0 <= fee <= money.late_fee(amount, due, paid + timedelta(days=more))
    assert fee == amount * 145 * days // (1000 * 365)
    assert money.late_fee(amount, due, due - timedelta(days=days)) == 0


def test_art26_the_surcharge_is_twice_the_amount_evaded() -> None:
    """第２６条: 料金等を不法に免れた場合は、その免れた額の２倍に相当する額を割増金として
    支払うものとします."""
    assert money.surcharge(15_000) == 30_000
    assert money.surcharge(0) == 0
    with pytest.raises(Unprocessable):
        money.surcharge(-1)


# ---- Art. 23, 24: service fees --------------------------------------------------------------


@given(S.active_contracts(), st.integers(0, 36))
def test_whole_months_pay_the_monthly_fee_and_partial_months_a_rounded_down_share(
    contract: Contract, months_after: int
) -> None:
    assert contract.start_date is not None
    month = lifecycle.add_months(contract.start_date.replace(day=1), months_after)
    lines = money.service_fee_lines(contract, month)
    assert [line.part for line in lines] == list(contract.parts)
    for line in lines:
        fee = contract.fees.monthly[line.part]
        assert 0 <= line.amount <= fee
        if months_after > 0:
            assert (line.days, line.amount) == (line.month_days, fee)
        else:
            assert line.days == line.month_days - contract.start_date.day + 1
            assert line.amount == fee * line.days // line.month_days


@given(S.active_contracts(), st.integers(0, 400))
def test_charges_keep_accruing_while_suspended(contract: Contract, after: int) -> None:
    """第２４条３項: 当該停止期間のサービス費用は、サービスがあったものとして取り扱います."""
    assert contract.start_date is not None
    day = contract.start_date + timedelta(days=after)
    suspended = lifecycle.suspend(contract, "non_payment", day)
    for month in (day, lifecycle.add_months(day, 1)):
        assert money.service_fee_lines(suspended, month) == money.service_fee_lines(contract, month)


@given(S.active_contracts(), st.integers(0, 900))
def test_a_customer_pays_to_the_end_of_the_term_and_nothing_after(
    contract: Contract, notice_after: int
) -> None:
    """Art. 23-3: billed through the end of the term in force when the cancellation takes
    effect, never less than to the effective date, and nothing the month after."""
    assert contract.start_date is not None
    cancelled = lifecycle.cancel_by_customer(
        contract, contract.start_date + timedelta(days=notice_after)
    )
    assert cancelled.cancellation is not None
    until = lifecycle.charges_until(cancelled)
    assert until is not None and until >= cancelled.cancellation.effective_date
    assert until == lifecycle.term_end_as_of(cancelled, cancelled.cancellation.effective_date)
    last = money.service_fee_lines(cancelled, until)
    assert all(line.days == until.day for line in last)
    assert money.service_fee_lines(cancelled, until + timedelta(days=1)) == []


def test_art24_2_the_initial_fee_is_billed_once_with_the_start_month() -> None:
    """第２４条２項: ただし初期費用はいかなる場合でもお返しいたしません."""
    contract = lifecycle.approve(
        lifecycle.apply("c", "x", ("video",), FeePlan(80_000, {"video": 3000}), date(2025, 1, 5)),
        "1", ("01",), date(2025, 2, 14),
    )  # fmt: skip
    assert money.initial_fee_due(contract, date(2025, 2, 1)) == 80_000
    assert money.initial_fee_due(contract, date(2025, 3, 1)) == 0
    assert money.initial_fee_due(contract, date(2025, 1, 31)) == 0
    days = calendar.monthrange(2025, 2)[1] - 14 + 1
    assert [line.amount for line in money.service_fee_lines(contract, date(2025, 2, 1))] == [
        3000 * days // 28
    ]


def test_round_yen_refuses_an_unknown_rounding() -> None:
    with pytest.raises(ValueError):
        money.round_yen(Fraction(1, 2), "banker")  # type: ignore[arg-type]
