"""Progress of a long copy: one live bar on a terminal, plain periodic lines elsewhere.

The bar is tqdm's, when it is installed (``pip install storage-mixins[progress]``)
and stderr is a terminal. Otherwise (CI, logs, no tqdm), a plain line goes to
stdout every :data:`PLAIN_INTERVAL` seconds. Either way it shows files, bytes,
rate and time left.
"""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["PLAIN_INTERVAL", "Progress", "human_bytes"]

PLAIN_INTERVAL = 10.0  # seconds between two plain progress lines


def human_bytes(size: float) -> str:
    """``1536`` → ``"1.5 KiB"``.

    Not Django's ``filesizeformat``: it is made for HTML in the user's
    language (a non-breaking space; "1,5 Kio" where ``LANGUAGE_CODE`` is
    French, amid this English line) and calls 1,024 bytes a KB.
    """
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


class Progress:
    """Counts files and bytes (bytes from any thread) and shows them.

    ``total_bytes`` is ``None`` when the sizes are not known beforehand; time
    left is then estimated from files. ``enabled=False`` shows nothing.
    """

    def __init__(
        self,
        stdout: Any,
        stderr: Any,
        total_files: int,
        total_bytes: int | None,
        *,
        enabled: bool = True,
    ) -> None:
        self.stdout = stdout
        self.total_files = total_files
        self.total_bytes = total_bytes
        self.files = 0
        self._bytes = 0
        self._shown_bytes = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_line = self._started
        self._bar = _bar(stderr, total_files, total_bytes) if enabled else None
        self._plain = enabled and self._bar is None

    def add_bytes(self, size: int) -> None:
        with self._lock:
            self._bytes += size

    def file_done(self) -> None:
        self.files += 1
        self.tick()

    def write(self, line: str, stream: Any) -> None:
        """Print ``line`` to ``stream`` (a command's stdout or stderr), above the
        bar if there is one."""
        if self._bar is not None:
            with self._bar.external_write_mode():
                stream.write(line)
        else:
            stream.write(line)

    def tick(self) -> None:
        """Bring the display up to date (called from the main thread)."""
        with self._lock:
            done = self._bytes
        if self._bar is not None:
            self._bar.update(done - self._shown_bytes)
            self._shown_bytes = done
            self._bar.set_postfix_str(f"{self.files:,}/{self.total_files:,} files", refresh=False)
            return
        now = time.monotonic()
        if self._plain and now - self._last_line >= PLAIN_INTERVAL:
            self._last_line = now
            self.stdout.write(self.line())

    def line(self) -> str:
        """``120/1,000 files, 11.7 MiB of 97.7 MiB, 3.2 MiB/s, about 27 s left``."""
        with self._lock:
            done = self._bytes
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = done / elapsed
        of = f" of {human_bytes(self.total_bytes)}" if self.total_bytes is not None else ""
        text = f"{self.files:,}/{self.total_files:,} files, {human_bytes(done)}{of}"
        text += f", {human_bytes(rate)}/s"
        if self.total_bytes and done:
            # Decoded files (gzip) can outgrow the listed, stored sizes.
            left = max(self.total_bytes - done, 0) / rate if rate else None
        elif self.files:
            left = (self.total_files - self.files) * elapsed / self.files
        else:
            left = None
        if left is not None:
            text += f", about {left:,.0f} s left"
        return text

    @property
    def bytes_done(self) -> int:
        with self._lock:
            return self._bytes

    def close(self) -> None:
        if self._bar is not None:
            self.tick()
            self._bar.close()
            self._bar = None


def _bar(stderr: Any, total_files: int, total_bytes: int | None) -> Any:
    isatty = getattr(stderr, "isatty", None)
    if isatty is None or not isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(
        total=total_bytes,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=getattr(stderr, "_out", stderr),  # Django's OutputWrapper: its stream
        desc="storage_pull",
        dynamic_ncols=True,
        postfix=f"0/{total_files:,} files",
    )
