"""Photos checked before they are kept: their size in pixels from the header first (a
0.5 MB PNG can declare 13000×13000 pixels, 700 MB once decoded), then the whole image
decoded, so that a file that only starts like a JPEG is refused. The bytes kept are
the client's own (their hash is the evidence id, their EXIF is evidence too); what is
read here is the EXIF time and place and a 320 px thumbnail for the console.

Decoding is CPU and memory work: callers run it off the event loop, and at most
`DECODERS` images are decoded at once in a process.
"""

from __future__ import annotations

import io
import struct
import threading
import zlib
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

THUMBNAIL = 320
DECODERS = 2
_decoding = threading.BoundedSemaphore(DECODERS)
#: what Pillow raises on bytes that are not a whole image of the format
_BROKEN = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


class ImageRefused(Exception):
    """Not an image this service keeps; `problem` says why, for `details.fields.file`."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class Photo:
    time: str | None
    lat: float | None
    lon: float | None
    thumbnail: bytes | None


NO_PHOTO = Photo(None, None, None, None)


def _gps(values: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(v) for v in values)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    return -value if ref in ("S", "W") else value


def _exif(img: Image.Image) -> tuple[str | None, float | None, float | None]:
    """EXIF time and GPS position as the camera wrote them; damaged EXIF is no EXIF."""
    try:
        exif = img.getexif()
        when = exif.get_ifd(0x8769).get(36867) or exif.get(306)
        gps = exif.get_ifd(0x8825)
        lat = _gps(gps.get(2), gps.get(1)) if gps else None
        lon = _gps(gps.get(4), gps.get(3)) if gps else None
    except _BROKEN:
        return None, None, None
    return (str(when) if when else None), lat, lon


def read_photo(data: bytes, kind: str, max_pixels: int) -> Photo:
    """Check a photo of type `kind` (as sniffed from its bytes) and read what the console
    shows of it. ImageRefused when it declares more than `max_pixels` pixels or does not
    decode whole."""
    name = PILLOW_FORMATS[kind].lower()
    try:
        img = Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[kind]])
    except (UnidentifiedImageError, *_BROKEN):
        raise ImageRefused(f"not a {name} image") from None
    width, height = img.size
    if width * height > max_pixels:
        raise ImageRefused(f"{width}×{height} pixels: photos are limited to {max_pixels} pixels")
    when, lat, lon = _exif(img)
    with _decoding:
        try:
            if kind == "image/jpeg":
                # Decode every byte at a reduced scale (DCT scaling): the whole stream is
                # still checked, with a fraction of the memory.
                img.draft("RGB", (THUMBNAIL, THUMBNAIL))
            img.load()
            img.thumbnail((THUMBNAIL, THUMBNAIL))
            thumb = ImageOps.exif_transpose(img) or img
            out = io.BytesIO()
            thumb.convert("RGB").save(out, "JPEG", quality=80)
        except _BROKEN as exc:
            raise ImageRefused(f"not a whole {name} image ({exc})") from None
    return Photo(when, lat, lon, out.getvalue())
