"""Sample "production" images, drawn at start: no downloads, no imaging library."""

from __future__ import annotations

import struct
import zlib

SAMPLES = {
    "photos/beach.png": ((244, 208, 63), (52, 152, 219)),
    "photos/forest.png": ((39, 174, 96), (20, 90, 50)),
    "photos/sunset.png": ((231, 76, 60), (142, 68, 173)),
    "photos/alps.png": ((149, 165, 166), (236, 240, 241)),
    "photos/poster.png": ((52, 73, 94), (241, 196, 15)),
}

# Rows of the production database whose files are nowhere (not in the bucket,
# not on the local disk), with the size each row records: the gallery shows
# them as placeholders drawn at that size.
LOST = {
    "photos/lighthouse.jpg": (1200, 800),
    "photos/harbour.jpg": (600, 900),
    "photos/panorama.jpg": (1600, 400),
}


def png(width: int, height: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> bytes:
    """A vertical gradient from ``top`` to ``bottom``, as PNG bytes."""
    rows = []
    for y in range(height):
        t = y / max(height - 1, 1)
        colour = bytes(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        rows.append(b"\x00" + colour * width)  # filter type 0, then RGB pixels

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def samples() -> dict[str, bytes]:
    return {name: png(240, 160, top, bottom) for name, (top, bottom) in SAMPLES.items()}
