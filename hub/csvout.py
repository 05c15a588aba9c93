"""CSV for Japanese staff: the one writer of every export (design "CSV for Japanese staff").

UTF-8 with a byte order mark and CRLF rows (Excel ja-JP reads a BOM-less file as Shift_JIS
and garbles it), every cell through the formula-injection guard of ``hub.csvsafe``, times in
the facility's zone as ``YYYY/MM/DD HH:MM:SS``, and a ``Content-Disposition`` that carries
an ASCII file name and a UTF-8 ``filename*`` one (RFC 6266 / RFC 5987).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.responses import Response

from hub.csvsafe import cell

BOM = "\ufeff"
MEDIA_TYPE = "text/csv; charset=utf-8"
TIME_FORMAT = "%Y/%m/%d %H:%M:%S"
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._-]+")


def to_text(rows: Iterable[Sequence[object]], headers: Sequence[str]) -> str:
    """The CSV text: BOM, the header row, then each row; CRLF; every cell guarded
    (``None`` is an empty cell)."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell(str(name)) for name in headers])
    for row in rows:
        writer.writerow([cell("" if value is None else str(value)) for value in row])
    return out.getvalue()


def local_time(epoch_s: float, zone: str = "Asia/Tokyo") -> str:
    """``epoch_s`` in ``zone`` as ``YYYY/MM/DD HH:MM:SS`` ("" for 0 or less: no time)."""
    if epoch_s <= 0:
        return ""
    return datetime.fromtimestamp(epoch_s, ZoneInfo(zone)).strftime(TIME_FORMAT)


def disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` (other characters become ``_``) and the
    exact name as ``filename*=UTF-8''…``."""
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        stem, ext = filename, ""
    ascii_stem = _UNSAFE_ASCII.sub("_", stem).strip("_") or "export"
    ascii_name = f"{ascii_stem}.{_UNSAFE_ASCII.sub('', ext)}" if ext else ascii_stem
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def csv_response(
    rows: Iterable[Sequence[object]], headers: Sequence[str], filename: str
) -> Response:
    """A ``text/csv`` download of ``rows`` under ``headers`` named ``filename``."""
    return Response(
        to_text(rows, headers).encode(),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": disposition(filename)},
    )
