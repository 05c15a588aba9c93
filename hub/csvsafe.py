"""CSV cells no spreadsheet runs as a formula (OWASP "CSV injection"). Pure, no I/O.

Used by every CSV the hub writes (``hub/audit.py``'s export, ``hub/contracts/invoice.py``'s
invoice), so the guard is one function, not one copy per file.
"""

from __future__ import annotations

import unicodedata

FORMULA_STARTS = frozenset("=+-@")
"""First characters that make a spreadsheet read a cell as a formula (or a DDE call)."""
CONTROL_STARTS = frozenset("\t\r\n")
"""Leading characters that some spreadsheets drop before reading the rest as a formula."""


def cell(text: str) -> str:
    """``text`` with an apostrophe in front when a spreadsheet could run it as a formula,
    else ``text`` unchanged.

    Guarantee: the cell is quoted when, after any leading spaces and invisible format
    characters (zero-width space, BOM…), its first character is ``= + - @`` or one of their
    compatibility forms (full-width ``＝＋－＠``, small ``﹦``, superscript ``⁼``…: whatever
    Unicode NFKC maps to them), or when a tab, CR or LF comes before any visible character.
    """
    for char in text:
        if char in CONTROL_STARTS:
            return "'" + text
        folded = unicodedata.normalize("NFKC", char)
        if folded[:1] in FORMULA_STARTS:
            return "'" + text
        if not (folded.isspace() or unicodedata.category(char) == "Cf"):
            return text
    return text
