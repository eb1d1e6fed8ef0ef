"""The command-line tour (example/tour.py) works, and says what it shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOUR = Path(__file__).resolve().parent.parent / "example" / "tour.py"


def test_tour_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(TOUR)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    assert "FallbackStorage(FileSystemStorage(" in output
    assert "S3 requests for 3 urls: 0" in output
    assert "in local" in output
    assert "ReadOnlyError: save('photos/new.jpg') refused" in output
    assert "bytes identical: True" in output
