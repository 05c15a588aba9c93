"""The contract's life: transitions, Art. 16 cancellation dates, Art. 23-4 renewal, notices."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.contracts import lifecycle
from hub.contracts.lifecycle import (
    add_months,
    cancel_by_customer,
    customer_cancellation_date,
    month_end,
    term_end_as_of,
)
from hub.contracts.model import (
    Contract,
    Discontinuation,
    FeePlan,
    Interruption,
    from_builtins,
    to_builtins,
)
from hub.errors import Conflict, JunbanError, Unprocessable
from tests.contracts import strategies as S

FEES = FeePlan(initial_fee=50_000, monthly={"reservation": 10_000, "video": 5_000, "api": 2_000})


def applied(minimum_term_months: int = 12) -> Contract:
    return lifecycle.apply(
        "c-1",
        "医療法人 順番会",
        ("reservation", "video"),
        FEES,
        date(2025, 3, 20),
        options=("api",),
        minimum_term_months=minimum_term_months,
    )


def started(minimum_term_months: int = 12, start: date = date(2025, 4, 10)) -> Contract:
    return lifecycle.approve(applied(minimum_term_months), "1234", ("01",), start)


def is_month_end(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


# ---- transitions ----------------------------------------------------------------------------

COMMANDS = {
    "approve": lambda c: lifecycle.approve(c, "1234", ("01",), date(2025, 4, 10)),
    "refuse": lambda c: lifecycle.refuse(c, "unsuitable", date(2025, 4, 1)),
    "suspend": lambda c: lifecycle.suspend(c, "non_payment", date(2025, 6, 1)),
    "resume": lambda c: lifecycle.resume(c, date(2025, 6, 2)),
    "cancel_by_operator": lambda c: lifecycle.cancel_by_operator(c, date(2025, 6, 3)),
    "cancel_by_customer": lambda c: lifecycle.cancel_by_customer(c, date(2025, 6, 3)),
    "cancel_for_interruption": lambda c: lifecycle.cancel_for_interruption(
        c, Interruption("failure", datetime(2025, 6, 1, 9, tzinfo=S.TOKYO)), date(2025, 6, 3)
    ),
    "cancel_for_discontinuation": lambda c: lifecycle.cancel_for_discontinuation(
        c, Discontinuation("video", date(2025, 9, 1), date(2025, 6, 1))
    ),
    "object_to_renewal": lambda c: lifecycle.object_to_renewal(c, date(2025, 6, 3)),
}


@given(st.lists(st.sampled_from(sorted(COMMANDS)), max_size=8))
def test_every_command_follows_the_transition_table_or_is_refused(actions: list[str]) -> None:
    """A command from a status the table allows leads where the table says (or is refused
    for its own reason: a part already dropped, a second objection); from any other status
    it is refused with ``illegal_transition``."""
    contract = applied()
    for action in actions:
        allowed, target = lifecycle.TRANSITIONS[action]
        if contract.status not in allowed:
            with pytest.raises(Conflict) as refused:
                COMMANDS[action](contract)
            assert refused.value.code == "illegal_transition"
            assert refused.value.extra == {"status": contract.status}
            continue
        try:
            after = COMMANDS[action](contract)
        except Conflict as refused_for_cause:
            # for its own reason: a part already dropped, a second objection, suspending a
            # suspended (or resuming a running) cancelled contract, or one no longer in force
            assert refused_for_cause.code in (
                "not_contracted",
                "already_objected",
                "illegal_transition",
                "not_in_force",
            )
            if refused_for_cause.code == "illegal_transition":
                assert contract.status == "cancelled"
            continue
        partial_discontinuation = action == "cancel_for_discontinuation" and after.dropped
        from_cancelled = contract.status == "cancelled"
        if target is None or (partial_discontinuation and after.status != "cancelled"):
            assert after.status == contract.status
        elif from_cancelled:
            assert after.status == "cancelled"  # only the suspension (and the end) changes
        else:
            assert after.status == target
        if action == "suspend":
            assert after.suspension is not None
        if action == "resume":
            assert after.suspension is None
        contract = after


def test_art7_the_start_date_is_the_day_the_operator_confirms_it_works() -> None:
    """第７条: 契約者が当サービスを利用できる状態であることを確認した日（以下「利用開始日」
    という）をもって、成立します — the contract is formed on the day the operator confirms
    the customer can use the service."""
    contract = started(start=date(2025, 4, 10))
    assert (contract.status, contract.start_date) == ("active", date(2025, 4, 10))
    assert (contract.facility, contract.counters) == ("1234", ("01",))
    assert not lifecycle.is_effective(applied(), date(2025, 4, 10))
    assert not lifecycle.is_effective(contract, date(2025, 4, 9))
    assert lifecycle.is_effective(contract, date(2025, 4, 10))


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda: lifecycle.approve(applied(), "12a4", ("01",), date(2025, 4, 1)), "invalid_facility"),  # noqa: E501
        (lambda: lifecycle.approve(applied(), "1234", ("1",), date(2025, 4, 1)), "invalid_counter"),
        (lambda: lifecycle.approve(applied(), "1234", (), date(2025, 4, 1)), "invalid_counter"),
        (lambda: lifecycle.approve(applied(), "1234", ("01",), date(2025, 3, 1)), "invalid_date"),
        (lambda: lifecycle.refuse(applied(), "nope", date(2025, 4, 1)), "invalid_reason"),  # type: ignore[arg-type]
        (lambda: lifecycle.suspend(started(), "bored", date(2025, 6, 1)), "invalid_reason"),  # type: ignore[arg-type]
        (lambda: lifecycle.apply("c", "x", (), FEES, date(2025, 1, 1)), "invalid_contract"),
        (lambda: lifecycle.apply("c", "x", ("video",), FeePlan(0, {"video": 1, "api": 1}), date(2025, 1, 1), ("api",)), "option_needs_reservation"),  # noqa: E501
        (lambda: lifecycle.apply("c", "x", ("video",), FeePlan(0, {}), date(2025, 1, 1)), "invalid_fee"),  # noqa: E501
        (lambda: lifecycle.apply("c", "x", ("video",), FeePlan(-1, {"video": 1}), date(2025, 1, 1)), "invalid_fee"),  # noqa: E501
    ],
)  # fmt: skip
def test_malformed_commands_are_refused_with_a_code(call: object, code: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        call()  # type: ignore[operator]
    assert refused.value.code == code


def test_art8_a_refused_application_records_its_reason() -> None:
    """第８条: 当社は … 利用契約の申込を承諾しない場合があります (1)–(5)."""
    contract = lifecycle.refuse(applied(), "false_application", date(2025, 3, 25))
    assert (contract.status, contract.refusal) == ("refused", "false_application")
    assert not lifecycle.is_effective(contract, date(2025, 4, 1))


def test_art12_suspension_keeps_the_contract_in_force_but_stops_the_service() -> None:
    """第１２条: 何ら事前に通知及び勧告することなく停止することがあります; 第２４条３項:
    当該停止期間のサービス費用は、サービスがあったものとして取り扱います."""
    contract = lifecycle.suspend(started(), "non_payment", date(2025, 6, 1))
    assert lifecycle.is_effective(contract, date(2025, 6, 2))
    assert not lifecycle.service_available(contract, date(2025, 6, 2))
    resumed = lifecycle.resume(contract, date(2025, 6, 5))
    assert lifecycle.service_available(resumed, date(2025, 6, 5))


def test_art15_the_operator_cancels_only_a_suspended_contract() -> None:
    """第１５条１項: 提供の停止 … された契約者が、速やかにその事由を解消しない場合には、
    何らの催告を要することなく、利用契約を解除することがあります."""
    with pytest.raises(Conflict):
        lifecycle.cancel_by_operator(started(), date(2025, 6, 1))
    suspended = lifecycle.suspend(started(), "non_payment", date(2025, 6, 1))
    cancelled = lifecycle.cancel_by_operator(suspended, date(2025, 7, 1))
    assert cancelled.cancellation is not None
    assert (cancelled.cancellation.by, cancelled.cancellation.effective_date) == (
        "operator",
        date(2025, 7, 1),
    )
    assert not lifecycle.is_effective(cancelled, date(2025, 7, 2))


@pytest.mark.parametrize(
    ("steps", "status", "running_on_jun_18", "effective"),
    [
        # the customer gave notice on 2025-06-03 (effective 2026-04-30, minimum term 12):
        # still in force, so Art. 12 applies — suspended for non-payment
        (("notice", "suspend"), "cancelled", False, date(2026, 4, 30)),
        # ... and resumed once paid, still cancelled at the same date
        (("notice", "suspend", "resume"), "cancelled", True, date(2026, 4, 30)),
        # ... or cancelled by the operator (Art. 15-1), which brings the end forward
        (("notice", "suspend", "operator"), "cancelled", False, date(2025, 6, 20)),
        # suspended first, then the customer's notice: the suspension stays, resume works
        (("suspend", "notice", "resume"), "cancelled", True, date(2026, 4, 30)),
    ],
)
def test_art12_15_apply_to_a_cancelled_contract_still_in_force(
    steps: tuple[str, ...], status: str, running_on_jun_18: bool, effective: date
) -> None:
    """第１２条 / 第１５条 speak of the contract (利用契約), not of its status: during a
    customer's notice period (Art. 16-1) the contract is in force, so the operator may still
    suspend it, resume it once the reason is cured, or cancel it."""
    run = {
        "notice": lambda c: lifecycle.cancel_by_customer(c, date(2025, 6, 3)),
        "suspend": lambda c: lifecycle.suspend(c, "non_payment", date(2025, 6, 10)),
        "resume": lambda c: lifecycle.resume(c, date(2025, 6, 15)),
        "operator": lambda c: lifecycle.cancel_by_operator(c, date(2025, 6, 20)),
    }
    contract = started(12)
    for step in steps:
        contract = run[step](contract)
    assert contract.status == status
    assert contract.cancellation is not None
    assert contract.cancellation.effective_date == effective
    assert lifecycle.service_available(contract, date(2025, 6, 18)) is running_on_jun_18


@pytest.mark.parametrize(
    ("call", "code"),
    [
        # not suspended: nothing to resume, and Art. 15-1 needs a suspension first
        (lambda c: lifecycle.resume(c, date(2025, 6, 15)), "illegal_transition"),
        (lambda c: lifecycle.cancel_by_operator(c, date(2025, 6, 15)), "illegal_transition"),
        # after the effective date the contract is over: nothing to suspend
        (lambda c: lifecycle.suspend(c, "abuse", date(2026, 5, 1)), "not_in_force"),
        # suspended twice
        (lambda c: lifecycle.suspend(lifecycle.suspend(c, "abuse", date(2025, 6, 5)),
                                     "abuse", date(2025, 6, 6)), "illegal_transition"),
        # an operator's cancellation is final: no resume, no second one
        (lambda c: lifecycle.resume(lifecycle.cancel_by_operator(lifecycle.suspend(
            c, "abuse", date(2025, 6, 5)), date(2025, 6, 6)), date(2025, 6, 6)),
         "illegal_transition"),
        (lambda c: lifecycle.cancel_by_operator(lifecycle.cancel_by_operator(lifecycle.suspend(
            c, "abuse", date(2025, 6, 5)), date(2025, 6, 8)), date(2025, 6, 6)),
         "illegal_transition"),
    ],
)  # fmt: skip
def test_a_cancelled_contract_refuses_what_its_state_forbids(call: object, code: str) -> None:
    noticed = lifecycle.cancel_by_customer(started(12), date(2025, 6, 3))
    with pytest.raises(Conflict) as refused:
        call(noticed)  # type: ignore[operator]
    assert refused.value.code == code


@given(S.active_contracts(), st.integers(0, 400), st.integers(-30, 500), st.integers(0, 400))
def test_suspension_follows_the_contract_being_in_force_not_its_status(
    contract: Contract, notice_after: int, suspend_after: int, resume_after: int
) -> None:
    """After a customer's notice, suspend succeeds exactly on the days the contract is in
    force; resume then restores the service on any day still in force; the operator's
    cancellation ends it on its day, never later than the customer's date."""
    assert contract.start_date is not None
    noticed = cancel_by_customer(contract, contract.start_date + timedelta(days=notice_after))
    assert noticed.cancellation is not None
    end = noticed.cancellation.effective_date
    day = contract.start_date + timedelta(days=suspend_after)
    if day < contract.start_date:
        return
    if not lifecycle.is_effective(noticed, day):
        with pytest.raises(Conflict) as refused:
            lifecycle.suspend(noticed, "non_payment", day)
        assert refused.value.code == "not_in_force"
        return
    suspended = lifecycle.suspend(noticed, "non_payment", day)
    assert suspended.status == "cancelled" and not lifecycle.service_available(suspended, day)
    later = day + timedelta(days=resume_after)
    if later <= end:
        resumed = lifecycle.resume(suspended, later)
        assert lifecycle.service_available(resumed, later)
        assert resumed.cancellation == noticed.cancellation
        ended = lifecycle.cancel_by_operator(suspended, later)
        assert ended.cancellation is not None
        assert ended.cancellation.by == "operator"
        assert ended.cancellation.effective_date == later <= end
        assert not lifecycle.is_effective(ended, later + timedelta(days=1))
    else:
        with pytest.raises(Conflict) as refused:
            lifecycle.resume(suspended, later)
        assert refused.value.code == "not_in_force"


# ---- Art. 16-1: the customer's cancellation -------------------------------------------------


@pytest.mark.parametrize(
    ("minimum", "start", "notice", "designated", "effective"),
    [
        # 翌月の末日: notice in June, no minimum term -> end of July
        (0, date(2025, 4, 10), date(2025, 6, 15), None, date(2025, 7, 31)),
        # notice on the last day of a month still gives the end of the next month
        (0, date(2025, 4, 10), date(2025, 6, 30), None, date(2025, 7, 31)),
        # 指定した月の末日のいずれか遅い日: designated September is later -> Sep 30
        (0, date(2025, 4, 10), date(2025, 6, 15), date(2025, 9, 1), date(2025, 9, 30)),
        # a designated month earlier than the month after the notice does not count
        (0, date(2025, 4, 10), date(2025, 6, 15), date(2025, 6, 1), date(2025, 7, 31)),
        # 最低利用期間 12 months from 2025-05-01 (翌月１日を起算日) -> ends 2026-04-30
        (12, date(2025, 4, 10), date(2025, 6, 15), None, date(2026, 4, 30)),
        # a start on the 1st still counts from the 1st of the *next* month
        (12, date(2025, 4, 1), date(2025, 5, 20), None, date(2026, 4, 30)),
        # notice after the minimum term: end of the next month again
        (6, date(2025, 4, 10), date(2026, 1, 20), None, date(2026, 2, 28)),
    ],
)
def test_art16_1_the_customers_cancellation_takes_effect_on_the_later_month_end(
    minimum: int, start: date, notice: date, designated: date | None, effective: date
) -> None:
    """第１６条１項: 当該解除の効力は当該通知があった翌月の末日または解除の効力が生じる日と
    して指定した月の末日のいずれか遅い日に生じる … 最低利用期間を定めている場合は、利用開始日
    が属する月の翌月１日を起算日として、その最低利用期間を経過してからのみ解除の効力が生じ
    ます — effective at the later of the end of the month after the notice and the end of the
    designated month; with a minimum term, only once it (counted from the 1st of the month
    after the start date) has passed."""
    contract = cancel_by_customer(started(minimum, start), notice, designated)
    assert contract.cancellation is not None
    assert contract.cancellation.effective_date == effective
    assert lifecycle.is_effective(contract, effective)
    assert not lifecycle.is_effective(contract, effective + timedelta(days=1))


@given(
    S.active_contracts(),
    st.integers(0, 2000),
    st.one_of(st.none(), st.integers(-24, 60)),
)
def test_a_cancellation_is_the_earliest_month_end_meeting_every_bound(
    contract: Contract, after_start: int, designated_offset: int | None
) -> None:
    """Never before the end of the month after the notice, the designated month's end or
    the minimum term's end; always a month end; and the earliest such day."""
    assert contract.start_date is not None
    notice = contract.start_date + timedelta(days=after_start)
    designated = None if designated_offset is None else add_months(notice, designated_offset)
    effective = customer_cancellation_date(contract, notice, designated)
    assert is_month_end(effective)
    assert months_between(notice, effective) >= 1
    if designated is not None:
        assert effective >= month_end(designated)
    if contract.minimum_term_months:
        first_counted = month_end(contract.start_date) + timedelta(days=1)
        assert months_between(first_counted, effective) >= contract.minimum_term_months - 1
        assert effective >= add_months(first_counted, contract.minimum_term_months) - timedelta(1)
    bounds = [month_end(add_months(notice.replace(day=1), 1))]
    if designated is not None:
        bounds.append(month_end(designated))
    minimum_end = lifecycle.minimum_term_end(contract)
    if minimum_end is not None:
        bounds.append(minimum_end)
    assert effective == max(bounds)


# ---- Art. 16-2, 16-3, 13, 14: interruption and discontinuation ----------------------------


def test_art16_2_no_prospect_of_recovery_cancels_on_the_day_the_notice_arrives() -> None:
    """第１６条２項: 復旧の目処が立たない場合 … 当該解除の効力は当該通知が当社に到着した日に
    その効力が生じる — effective the day the notice reaches the operator."""
    outage = Interruption("failure", datetime(2025, 6, 1, 9, tzinfo=S.TOKYO), urgent=True)
    contract = lifecycle.cancel_for_interruption(started(), outage, date(2025, 6, 4))
    assert contract.cancellation is not None
    assert contract.cancellation.effective_date == date(2025, 6, 4)
    assert lifecycle.charges_until(contract) == date(2025, 6, 4)
    expected_end = datetime(2025, 6, 2, tzinfo=S.TOKYO)
    with pytest.raises(Conflict) as refused:
        lifecycle.cancel_for_interruption(
            started(), Interruption("failure", outage.starts_at, expected_end), date(2025, 6, 4)
        )
    assert refused.value.code == "recovery_expected"


def test_art16_3_discontinuing_the_only_item_cancels_on_that_day() -> None:
    """第１６条３項: 当サービスが廃止されたときは、当該廃止の日に当該サービスの契約が解除
    されたものとします."""
    contract = lifecycle.approve(
        lifecycle.apply("c-2", "x", ("video",), FeePlan(0, {"video": 5000}), date(2025, 1, 5)),
        "77",
        ("01",),
        date(2025, 1, 10),
    )
    notice = Discontinuation("video", on=date(2025, 9, 30), announced_on=date(2025, 7, 30))
    ended = lifecycle.cancel_for_discontinuation(contract, notice)
    assert ended.cancellation is not None
    assert (ended.status, ended.cancellation.by) == ("cancelled", "discontinuation")
    assert ended.cancellation.effective_date == date(2025, 9, 30)


def test_discontinuing_one_item_of_several_drops_it_and_its_options_go_with_reservation() -> None:
    """decided: the other items go on; options (Table 1: they work on reservations) end with
    the reservation service."""
    notice = Discontinuation("reservation", on=date(2025, 9, 30), announced_on=date(2025, 7, 1))
    contract = lifecycle.cancel_for_discontinuation(started(), notice)
    assert contract.status == "active"
    assert {d.part for d in contract.dropped} == {"reservation", "api"}
    assert lifecycle.live_parts(contract, date(2025, 9, 30)) == ("reservation", "video", "api")
    assert lifecycle.live_parts(contract, date(2025, 10, 1)) == ("video",)
    with pytest.raises(Conflict) as refused:
        lifecycle.cancel_for_discontinuation(contract, notice)
    assert refused.value.code == "not_contracted"


@pytest.mark.parametrize(
    ("on", "announced", "ok"),
    [
        (date(2025, 9, 30), date(2025, 7, 30), True),  # exactly two months ahead
        (date(2025, 9, 30), date(2025, 7, 31), False),  # one day short
        (date(2025, 4, 30), date(2025, 2, 28), True),  # Feb has no 30th: its last day
        (date(2025, 4, 30), date(2025, 3, 1), False),
        (date(2025, 3, 1), date(2025, 1, 1), True),
    ],
)
def test_art14_a_discontinuation_needs_two_months_notice(
    on: date, announced: date, ok: bool
) -> None:  # noqa: E501
    """第１４条２項: 契約者に対し廃止の２ヶ月前までに当社の提供する手段によりその旨を通知
    します — announced at least two months before the discontinuation."""
    notice = Discontinuation("video", on=on, announced_on=announced)
    if ok:
        lifecycle.validate_discontinuation(notice)
    else:
        with pytest.raises(Unprocessable) as refused:
            lifecycle.validate_discontinuation(notice)
        assert refused.value.code == "notice_too_short"


def test_art13_an_interruption_is_announced_before_it_starts_unless_urgent() -> None:
    """第１３条２項: 事前にその旨を契約者に … 通知または発表します。ただし、緊急やむを得ない
    場合はこの限りではありません."""
    starts = datetime(2025, 6, 1, 2, tzinfo=S.TOKYO)
    ends = starts + timedelta(hours=2)
    lifecycle.validate_interruption(
        Interruption("maintenance", starts, ends, announced_at=starts - timedelta(days=7))
    )
    lifecycle.validate_interruption(Interruption("failure", starts, None, urgent=True))
    for late in (None, starts, starts + timedelta(minutes=5)):
        with pytest.raises(Unprocessable) as refused:
            lifecycle.validate_interruption(Interruption("maintenance", starts, ends, late))
        assert refused.value.code == "notice_required"
    with pytest.raises(Unprocessable):
        lifecycle.validate_interruption(Interruption("failure", starts, starts, urgent=True))


# ---- Art. 23-4: renewal ---------------------------------------------------------------------


def test_art23_4_the_term_renews_for_a_year_unless_objected_to_by_the_month_before() -> None:
    """第２３条４項: 契約期間が満了する前月末日までに … 書面による意思表示がない場合、さらに
    １年間これを延長する — renewed for a year unless objected to in writing by the end of the
    month before expiry. Start 2025-04-10, 12 months -> term ends 2026-04-30, object by
    2026-03-31."""
    contract = started(12)
    assert lifecycle.first_term_end(contract) == date(2026, 4, 30)
    assert term_end_as_of(contract, date(2026, 4, 30)) == date(2026, 4, 30)
    assert term_end_as_of(contract, date(2026, 5, 1)) == date(2027, 4, 30)
    assert lifecycle.next_objection_deadline(contract, date(2026, 3, 31)) == (
        date(2026, 3, 31),
        date(2026, 4, 30),
    )
    in_time = lifecycle.object_to_renewal(contract, date(2026, 3, 31))
    assert lifecycle.ends_on(in_time) == date(2026, 4, 30)
    assert not lifecycle.is_effective(in_time, date(2026, 5, 1))
    too_late = lifecycle.object_to_renewal(contract, date(2026, 4, 1))
    assert lifecycle.ends_on(too_late) == date(2027, 4, 30)
    assert lifecycle.is_effective(too_late, date(2026, 5, 1))


@given(S.active_contracts(), st.integers(0, 20 * 366))
def test_renewal_always_lands_on_a_term_boundary(contract: Contract, after: int) -> None:
    """The term in force on any day ends on a month end, on or after that day, a whole
    number of years after the first term's end; its objection deadline is the month before."""
    assert contract.start_date is not None
    day = contract.start_date + timedelta(days=after)
    end = term_end_as_of(contract, day)
    first = lifecycle.first_term_end(contract)
    assert end is not None and first is not None
    assert is_month_end(end) and end >= day
    assert months_between(first, end) % 12 == 0
    longest = max(contract.minimum_term_months, 12) + 1  # the first term adds the start month
    assert end < add_months(day, longest)
    deadline, term = lifecycle.next_objection_deadline(contract, day) or (None, None)
    assert deadline is not None and term is not None
    assert deadline >= day and months_between(deadline, term) == 1 and is_month_end(deadline)


@given(S.active_contracts(), st.integers(0, 3000), st.integers(0, 3000))
def test_an_objection_ends_the_contract_at_the_first_term_it_meets(
    contract: Contract, objection_after: int, later: int
) -> None:
    assert contract.start_date is not None
    on = contract.start_date + timedelta(days=objection_after)
    objected = lifecycle.object_to_renewal(contract, on)
    end = lifecycle.ends_on(objected)
    assert end is not None and end >= on
    assert lifecycle.objection_deadline(end) >= on
    assert lifecycle.objection_deadline(end) < on + timedelta(days=366 + 31 * 36)
    assert term_end_as_of(objected, end + timedelta(days=later)) == end


# ---- Art. 23-3: billed to the end of the term -----------------------------------------------


def test_art23_3_a_customers_cancellation_is_billed_to_the_end_of_its_term() -> None:
    """第２３条３項: 解除の有無その他一切の事情の如何を問わず、契約期間が満了するまでの期間分
    の料金等を支払う義務を負う. Term ends 2026-04-30; a notice on 2026-03-05 (after the
    objection deadline) takes effect 2026-04-30 ... and one on 2026-04-05 on 2026-05-31, in
    the renewed term, billed to 2027-04-30."""
    in_time = cancel_by_customer(started(12), date(2026, 3, 5))
    assert lifecycle.charges_until(in_time) == date(2026, 4, 30)
    late = cancel_by_customer(started(12), date(2026, 4, 5))
    assert late.cancellation is not None
    assert late.cancellation.effective_date == date(2026, 5, 31)
    assert lifecycle.charges_until(late) == date(2027, 4, 30)


# ---- storage form ---------------------------------------------------------------------------


@given(S.active_contracts(), st.integers(0, 900))
def test_a_contract_survives_its_json_form(contract: Contract, notice_after: int) -> None:
    assert contract.start_date is not None
    cancelled = cancel_by_customer(contract, contract.start_date + timedelta(days=notice_after))
    for value in (contract, cancelled):
        assert from_builtins(to_builtins(value), Contract) == value


def test_every_refusal_is_a_junban_error_with_a_snake_case_code() -> None:
    with pytest.raises(JunbanError) as refused:
        lifecycle.resume(started(), date(2025, 5, 1))
    assert refused.value.code == "illegal_transition"
    assert refused.value.body()["error"]["status"] == "active"
