"""Monthly invoices: lines, tax on 料金等 only (Art. 28), JSON and CSV forms."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date, datetime, timedelta

import orjson
from hypothesis import given
from hypothesis import strategies as st

from hub.contracts import invoice as inv
from hub.contracts import lifecycle, money
from hub.contracts.model import Contract, FeePlan, Incident
from tests.contracts import strategies as S

T = S.TOKYO


def contract() -> Contract:
    applied = lifecycle.apply(
        "c-9", "医療法人 順番会", ("reservation",), FeePlan(50_000, {"reservation": 30_000, "phone": 6_000}),  # noqa: E501
        date(2025, 3, 20), options=("phone",), minimum_term_months=12,
    )  # fmt: skip
    return lifecycle.approve(applied, "1234", ("01",), date(2025, 4, 16))


def test_the_first_invoice_has_the_initial_fee_and_pro_rated_service_fees() -> None:
    """April 16–30 is 15 of 30 days: half of each monthly fee; 10 % tax rounded down."""
    first = inv.build_invoice(contract(), date(2025, 4, 1))
    assert [(line.kind, line.amount) for line in first.lines] == [
        ("initial_fee", 50_000),
        ("service_fee", 15_000),
        ("service_fee", 3_000),
    ]
    assert (first.subtotal, first.tax, first.total) == (68_000, 6_800, 74_800)
    second = inv.build_invoice(contract(), date(2025, 5, 31))
    assert [line.amount for line in second.lines] == [30_000, 6_000]
    assert second.total == 39_600


def test_refunds_reduce_the_taxed_base_and_damages_are_not_taxed() -> None:
    """Art. 28 taxes 料金等 (Art. 23-1: initial and service fees); 割増金 (Art. 26) and
    遅延損害金 (Art. 27) are damages, outside consumption tax."""
    outage = Incident(
        "i-7", datetime(2025, 6, 2, 6, tzinfo=T), datetime(2025, 6, 4, 0, tzinfo=T)
    )  # 36 operating hours: 2 × 36,000 / 30 = 2,400
    june = inv.build_invoice(
        contract(),
        date(2025, 6, 1),
        incidents=[(outage, date(2025, 6, 20)), (outage, date(2025, 5, 20))],
        overdue=[inv.Overdue("May", 39_600, date(2025, 5, 31), date(2025, 6, 30))],
        evasions=[inv.Evasion("unreported counter", 5_000)],
    )
    kinds = {line.kind: line.amount for line in june.lines}
    assert kinds["refund"] == -2_400
    assert kinds["surcharge"] == 10_000
    assert kinds["late_fee"] == 39_600 * 145 * 30 // 365_000 == 471
    assert june.taxable_base == 36_000 - 2_400
    assert june.tax == 3_360
    assert june.total == 36_000 - 2_400 + 10_000 + 471 + 3_360


def test_a_late_claim_is_not_refunded() -> None:
    outage = Incident("i", datetime(2025, 6, 2, 6, tzinfo=T), datetime(2025, 6, 4, 0, tzinfo=T))
    july = inv.build_invoice(contract(), date(2025, 7, 1), incidents=[(outage, date(2025, 7, 5))])
    assert "refund" not in {line.kind for line in july.lines}


@given(S.active_contracts(), st.integers(0, 30), st.sampled_from(money.ROUNDINGS))
def test_totals_add_up(c: Contract, months_after: int, rounding: money.Rounding) -> None:
    assert c.start_date is not None
    month = lifecycle.add_months(c.start_date, months_after)
    bill = inv.build_invoice(c, month, tax=money.TaxPolicy(rounding=rounding))
    assert bill.subtotal == sum(line.amount for line in bill.lines)
    assert bill.total == bill.subtotal + bill.tax
    assert bill.tax >= 0 and bill.tax == money.consumption_tax(
        bill.taxable_base, bill_tax(rounding)
    )
    data = orjson.loads(orjson.dumps(inv.invoice_dict(bill)))
    assert data["total"] == bill.total and len(data["lines"]) == len(bill.lines)
    rows = list(csv.reader(io.StringIO(inv.invoice_csv(bill).removeprefix("\ufeff"))))
    assert rows[0] == list(inv.CSV_HEADER)
    assert len(rows) == 1 + len(bill.lines) + 3
    assert [int(row[7]) for row in rows[1 : 1 + len(bill.lines)]] == [
        line.amount for line in bill.lines
    ]
    assert [row[2] for row in rows[-3:]] == ["subtotal", "tax", "total"]
    assert int(rows[-1][7]) == bill.total


def bill_tax(rounding: money.Rounding) -> money.TaxPolicy:
    return money.TaxPolicy(rounding=rounding)


def test_the_csv_is_utf8_with_bom_crlf_and_defuses_formulas() -> None:
    bill = inv.build_invoice(
        contract(), date(2025, 4, 1), evasions=[inv.Evasion("x", 1)],
        incidents=[(Incident("=cmd|'/c calc'!A1", datetime(2025, 4, 20, 6, tzinfo=T),
                            datetime(2025, 4, 21, 0, tzinfo=T)), date(2025, 4, 22))],
    )  # fmt: skip
    text = inv.invoice_csv(bill)
    raw = text.encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf")
    assert "\r\n" in text and "初期費用" in text
    descriptions = [row[4] for row in csv.reader(io.StringIO(text.removeprefix("\ufeff")))]
    assert any("=cmd" in d for d in descriptions)
    formula_id = replace(contract(), id="=1+2")
    rows = list(
        csv.reader(io.StringIO(inv.invoice_csv(inv.build_invoice(formula_id, date(2025, 4, 1)))))
    )
    assert {row[0] for row in rows[1:]} == {"'=1+2"}


def test_no_service_fee_after_charges_end() -> None:
    cancelled = lifecycle.cancel_by_customer(contract(), date(2025, 5, 10))
    until = lifecycle.charges_until(cancelled)
    assert until == date(2026, 4, 30)
    after = inv.build_invoice(cancelled, until + timedelta(days=1))
    assert after.lines == () and after.total == 0
