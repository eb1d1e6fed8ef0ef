"""Drawing a placeholder image with Pillow: its size and its file name, on a
tint of its own, in the format its name asks for.

Pillow is imported when the first image is drawn, so that importing the
package does not import it (it is an extra: ``storage-mixins[placeholders]``).
The same arguments give the same bytes. A size is capped before anything is
allocated: at most ``max_pixels`` pixels and 16,383 a side (WebP's limit),
the aspect ratio kept.
"""

from __future__ import annotations

import hashlib
import io
import math
import posixpath
from importlib.util import find_spec

from django.core.exceptions import ImproperlyConfigured

__all__ = ["MAX_SIDE", "capped", "check_pillow", "draw_image"]

MAX_SIDE = 16383  # WebP's largest side; JPEG's is 65,535


def check_pillow() -> None:
    """Raise ``ImproperlyConfigured``, naming the extra, if Pillow is missing."""
    if find_spec("PIL") is None:
        raise ImproperlyConfigured(
            "Placeholders draws its images with Pillow, which is not installed: "
            'pip install "storage-mixins[placeholders]"'
        )


def capped(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """``(width, height)`` scaled down, if needed, to at most ``max_pixels``
    pixels and :data:`MAX_SIDE` a side, with the same aspect ratio (each side
    at least 1)."""
    scale = min(1.0, MAX_SIDE / width, MAX_SIDE / height, math.sqrt(max_pixels / (width * height)))
    if scale >= 1.0:
        return width, height
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def draw_image(
    name: str, size: tuple[int, int], drawn: tuple[int, int], image_format: str
) -> bytes:
    """A ``drawn``-sized image in ``image_format`` that reads ``size`` (the
    real size, which ``drawn`` may cap) and the base name of ``name``."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = drawn
    background, ink = _colours(name)
    image = Image.new("RGB", drawn, background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width - 1, height - 1), outline=ink)
    draw.line((0, 0, width - 1, height - 1), fill=ink)
    draw.line((0, height - 1, width - 1, 0), fill=ink)
    lines = [f"{size[0]} x {size[1]}", posixpath.basename(name)]
    if drawn != size:
        lines.insert(1, f"(drawn at {width} x {height})")
    font_size = max(8, min(width, height) // 8, 1)
    font = ImageFont.load_default(size=font_size)
    text = "\n".join(lines)
    text_width = draw.multiline_textbbox((0, 0), text, font=font)[2]
    if text_width > width * 0.9:  # a long name: smaller, down to 8 pixels
        font = ImageFont.load_default(size=max(8, int(font_size * width * 0.9 / text_width)))
    if isinstance(font, ImageFont.FreeTypeFont):
        draw.multiline_text(
            (width / 2, height / 2), text, fill=ink, font=font, anchor="mm", align="center"
        )
    else:  # Pillow without FreeType: its bitmap font, which takes no anchor
        draw.multiline_text((4, 4), text, fill=ink, font=font)
    if image_format == "GIF":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    buffer = io.BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue()


def _colours(name: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A light tint of the name's own (neighbours look apart), and dark ink."""
    digest = hashlib.blake2b(name.encode(), digest_size=3).digest()
    background = (200 + digest[0] % 48, 200 + digest[1] % 48, 200 + digest[2] % 48)
    return background, (70, 70, 80)
