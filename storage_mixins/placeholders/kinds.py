"""What a placeholder stands in for, by the name's extension, and the files
that are not images: a minimal PDF, an empty text file.

Images are the formats Pillow writes (JPEG, PNG, GIF, WebP), the format
following the extension; a PDF (``.pdf``) and text types (``text/*`` by
``mimetypes``: ``.txt``, ``.csv``, ``.html``…) as configured; every other
name stays missing.
"""

from __future__ import annotations

import mimetypes
import posixpath
from dataclasses import dataclass

__all__ = ["IMAGE_FORMATS", "Kind", "kind_of", "minimal_pdf"]

#: Extension → the format Pillow writes it in.
IMAGE_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".png": "PNG",
    ".gif": "GIF",
    ".webp": "WEBP",
}
_CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}


@dataclass(frozen=True, slots=True)
class Kind:
    """What a name stands for: ``"image"`` (in Pillow's ``format``), ``"pdf"``
    or ``"empty"``, and the content type to serve it with."""

    name: str
    content_type: str
    format: str | None = None


PDF = Kind("pdf", "application/pdf")


def kind_of(name: str, *, pdf: bool, text: bool) -> Kind | None:
    """What a placeholder of ``name`` is, or ``None``: the name stays missing."""
    extension = posixpath.splitext(name)[1].lower()
    image_format = IMAGE_FORMATS.get(extension)
    if image_format is not None:
        return Kind("image", _CONTENT_TYPES[image_format], image_format)
    if extension == ".pdf":
        return PDF if pdf else None
    content_type = mimetypes.guess_type(name)[0]
    if text and content_type is not None and content_type.startswith("text/"):
        return Kind("empty", content_type)
    return None


def minimal_pdf(title: str) -> bytes:
    """A valid one-page PDF (A4) that shows ``title``: what a PDF viewer opens."""
    text = "".join(c if " " <= c <= "~" else "?" for c in title)  # Helvetica's ASCII
    text = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 14 Tf 56 760 Td (Placeholder: {text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(pdf)
