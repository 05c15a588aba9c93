"""QR codes as SVG, drawn with ``segno`` (pure Python): the printed ticket, the kiosk and
the entrance poster need no JavaScript QR encoder."""

from __future__ import annotations

import io

import segno


def qr_svg(text: str, error: str = "m") -> str:
    """``text`` as a QR code (error correction M unless told, no fixed size: it scales to
    its box)."""
    code = segno.make_qr(text, error=error)
    out = io.BytesIO()
    code.save(out, kind="svg", xmldecl=False, svgns=True, omitsize=True, border=2)
    return out.getvalue().decode()
