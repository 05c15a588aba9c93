"""A contract's monthly invoice: lines, subtotal, consumption tax, total; as JSON or CSV.

Lines, in this order: the initial fee (start month only), one service fee per item/option,
refunds of outages claimed that month (negative), surcharges (Art. 26) and late fees
(Art. 27). Art. 28 adds tax to 料金等 — the initial and service fees (Art. 23-1) — so
**decided**: refunds reduce the taxable base; surcharges and late fees are damages, outside
consumption tax (不課税). The tax is one rounding per invoice (``TaxPolicy``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from hub.contracts import hours as hours_mod
from hub.contracts import money
from hub.contracts.lifecycle import TOKYO
from hub.contracts.model import Contract, Incident
from hub.csvsafe import cell

LineKind = Literal["initial_fee", "service_fee", "refund", "surcharge", "late_fee"]

CSV_BOM = "\ufeff"
"""decided: UTF-8 with a byte order mark, so Excel in Japan opens it as UTF-8 (without the
BOM it reads CSV as Shift_JIS and garbles Japanese text). Rows end with CRLF."""
CSV_HEADER = (
    "contract_id", "month", "kind", "part", "description", "quantity", "unit_price", "amount",
    "taxable",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Overdue:
    """An amount paid (or still unpaid, as of ``paid_on``) after its due date (Art. 27)."""

    description: str
    amount: int
    due_date: date
    paid_on: date


@dataclass(frozen=True, slots=True)
class Evasion:
    """An amount of fees found unlawfully evaded (Art. 26)."""

    description: str
    amount: int


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    kind: LineKind
    description: str
    amount: int
    taxable: bool
    part: str = ""
    quantity: str = ""
    """What the amount counts: "12/30 days", "2 × 18 h", "37 days"; empty for a flat fee."""
    unit_price: int | None = None


@dataclass(frozen=True, slots=True)
class Invoice:
    """One month's invoice. ``total`` = ``subtotal`` + ``tax``; negative is a credit."""

    contract_id: str
    month: str
    """"YYYY-MM"."""
    lines: tuple[InvoiceLine, ...]
    subtotal: int
    taxable_base: int
    tax_rate: str
    tax_rounding: str
    tax: int
    total: int


def build_invoice(
    contract: Contract,
    month: date,
    *,
    incidents: Sequence[tuple[Incident, date]] = (),
    overdue: Sequence[Overdue] = (),
    evasions: Sequence[Evasion] = (),
    tax: money.TaxPolicy = money.DEFAULT_TAX,
    tz: str = TOKYO,
    hours: tuple[int, int] = hours_mod.SERVER_HOURS,
) -> Invoice:
    """The invoice of ``month`` (any day of it). ``incidents`` are (incident, claimed on):
    refunded when claimed this month, in time (Art. 32-1), and worth something."""
    lines: list[InvoiceLine] = []
    initial = money.initial_fee_due(contract, month)
    if initial:
        lines.append(InvoiceLine("initial_fee", "初期費用 initial fee", initial, True))
    for fee in money.service_fee_lines(contract, month):
        partial = fee.days != fee.month_days
        lines.append(
            InvoiceLine(
                "service_fee",
                f"サービス費用 service fee: {fee.part}",
                fee.amount,
                True,
                part=fee.part,
                quantity=f"{fee.days}/{fee.month_days} days" if partial else "1 month",
                unit_price=fee.monthly_fee,
            )
        )
    lines.extend(_refunds(contract, month, incidents, tz, hours))
    for evasion in evasions:
        amount = money.surcharge(evasion.amount)
        lines.append(
            InvoiceLine(
                "surcharge",
                f"割増金 surcharge: {evasion.description}",
                amount,
                False,
                quantity="2 ×",
                unit_price=evasion.amount,
            )  # fmt: skip
        )
    for item in overdue:
        amount = money.late_fee(item.amount, item.due_date, item.paid_on)
        days = money.days_overdue(item.due_date, item.paid_on)
        lines.append(
            InvoiceLine(
                "late_fee",
                f"遅延損害金 late fee: {item.description}",
                amount,
                False,
                quantity=f"{days} days × 14.5 %/365",
                unit_price=item.amount,
            )  # fmt: skip
        )
    subtotal = sum(line.amount for line in lines)
    base = sum(line.amount for line in lines if line.taxable)
    tax_amount = money.consumption_tax(base, tax)
    return Invoice(
        contract_id=contract.id,
        month=f"{month.year:04d}-{month.month:02d}",
        lines=tuple(lines),
        subtotal=subtotal,
        taxable_base=base,
        tax_rate=f"{tax.rate.numerator}/{tax.rate.denominator}",
        tax_rounding=tax.rounding,
        tax=tax_amount,
        total=subtotal + tax_amount,
    )


def _refunds(
    contract: Contract,
    month: date,
    incidents: Sequence[tuple[Incident, date]],
    tz: str,
    hours: tuple[int, int],
) -> list[InvoiceLine]:
    lines = []
    for incident, claimed_on in incidents:
        if (claimed_on.year, claimed_on.month) != (month.year, month.month):
            continue
        if not money.claim_in_time(incident, claimed_on, tz):
            continue
        amount = money.contract_outage_refund(contract, incident, tz, hours)
        if amount > 0:
            blocks = money.outage_blocks(incident, tz, hours)
            lines.append(
                InvoiceLine(
                    "refund",
                    f"返却 outage refund: {incident.id}",
                    -amount,
                    True,
                    quantity=f"{blocks} × 18 h",
                )  # fmt: skip
            )
    return lines


def invoice_dict(invoice: Invoice) -> dict[str, Any]:
    """The invoice as a JSON-ready dict (amounts in integer yen)."""
    return {
        "contract_id": invoice.contract_id,
        "month": invoice.month,
        "currency": "JPY",
        "lines": [
            {
                "kind": line.kind,
                "part": line.part or None,
                "description": line.description,
                "quantity": line.quantity or None,
                "unit_price": line.unit_price,
                "amount": line.amount,
                "taxable": line.taxable,
            }
            for line in invoice.lines
        ],
        "subtotal": invoice.subtotal,
        "taxable_base": invoice.taxable_base,
        "tax": {"rate": invoice.tax_rate, "rounding": invoice.tax_rounding, "amount": invoice.tax},
        "total": invoice.total,
    }


def invoice_csv(invoice: Invoice) -> str:
    """The invoice as CSV text: a BOM, a header row, one row per line, then subtotal, tax
    and total rows (kind column). Encode it as UTF-8 to send it."""
    out = io.StringIO()
    out.write(CSV_BOM)
    writer = csv.writer(out)  # excel dialect: CRLF row ends, quotes where needed
    writer.writerow(CSV_HEADER)
    for line in invoice.lines:
        writer.writerow(
            [
                cell(invoice.contract_id),
                invoice.month,
                line.kind,
                line.part,
                cell(line.description),
                line.quantity,
                "" if line.unit_price is None else line.unit_price,
                line.amount,
                "1" if line.taxable else "0",
            ]  # fmt: skip
        )
    for kind, quantity, amount in (
        ("subtotal", "", invoice.subtotal),
        ("tax", f"{invoice.tax_rate} {invoice.tax_rounding}", invoice.tax),
        ("total", "", invoice.total),
    ):
        row = [cell(invoice.contract_id), invoice.month, kind, "", "", quantity, "", amount, ""]
        writer.writerow(row)
    return out.getvalue()
