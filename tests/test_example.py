"""The demo that `make demo` runs works, and says what it shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "example" / "demo.py"


def test_demo_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    assert "FallbackStorage(FileSystemStorage(" in output
    assert "S3 requests for 3 urls: 0" in output
    assert "in local" in output
    assert "ReadOnlyError: save('photos/new.jpg') refused" in output
    assert "bytes identical: True" in output
