"""``example/run.py`` (the demo site and its embedded S3 server) in a subprocess,
on free ports, for the tests that drive it (test_example, test_browser)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Demo:
    """``example/run.py`` in a subprocess, stopped with Ctrl-C (SIGINT) by pid."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "example" / "run.py"), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
        self.output: list[str] = []
        self.url = self.s3 = ""
        deadline = time.monotonic() + 60
        while not (self.url and self.s3):
            line = self.process.stdout.readline() if self.process.stdout else ""
            if (not line and self.process.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError("the demo did not start:\n" + "".join(self.output))
            self.output.append(line)
            if match := re.match(r"Demo site:\s+(\S+)", line):
                self.url = match.group(1)
            if match := re.match(r"Embedded S3:\s+(\S+)", line):
                self.s3 = match.group(1)

    def stop(self) -> str:
        os.kill(self.process.pid, signal.SIGINT)
        rest, _ = self.process.communicate(timeout=30)
        return "".join(self.output) + rest


def running_demo() -> Iterator[Demo]:
    """A fixture's body: the demo, killed afterwards if a test did not stop it."""
    site = Demo()
    try:
        yield site
    finally:
        if site.process.poll() is None:
            site.process.kill()
            site.process.wait()
        if site.process.stdout is not None:
            site.process.stdout.close()
