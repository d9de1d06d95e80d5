"""Images for the evidence tests: a real photo with EXIF, and a PNG bomb."""

from __future__ import annotations

import functools
import io
import struct
import zlib

from PIL import Image


def photo(color: str = "red", size: tuple[int, int] = (800, 600)) -> bytes:
    """A JPEG with the EXIF time and GPS position a phone writes."""
    img = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[306] = "2026:11:23 09:15:00"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (37.0, 30.0, 18.0), 3: "E", 4: (122.0, 6.0, 18.0)})
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.cache
def png_bomb(width: int = 13000, height: int = 13000) -> bytes:
    """A valid, black RGB PNG: about 0.5 MB on the wire, 676 MB once Pillow decodes it.
    Written row by row so that the test itself never holds the pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    deflate = zlib.compressobj(6)
    row = b"\0" * (1 + 3 * width)
    idat = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )
