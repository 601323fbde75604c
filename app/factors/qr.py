"""The QR code an authenticator app scans, as a standalone SVG document (segno)."""

from __future__ import annotations

import io

import segno


def svg(uri: str) -> str:
    """An SVG image of `uri`, with its XML namespace so that it also works as an <img> source.

    Error correction M and a four-module quiet zone: what phone cameras read reliably."""
    out = io.BytesIO()
    segno.make(uri, error="m", micro=False).save(
        out,
        kind="svg",
        xmldecl=False,
        scale=4,
        border=4,
        light="#fff",
        title="Authenticator app QR code",
    )
    return out.getvalue().decode()
