"""Production's media over HTTP: storage_mixins' ``HTTPStorage`` through
``FallbackStorage``, side by side with django-http-fallback-storage 1.6, on the
same nginx (tests/nginx.py), which counts every request, byte and connection.

The stacks are the recipe's: local first, ``FallbackStorage([local,
production])``; production first, ``FallbackStorage([production, local],
writable="local")`` where production is ``Caching(HTTPStorage, contents=...,
max_content_size=16 MiB)``. Cold is a new stack (a new pool, an empty cache);
warm, the same stack again. The peer downloads a file into ``MEDIA_ROOT`` the
first time a name is asked about, so its cold is an empty ``MEDIA_ROOT`` (but
the local files) and its warm the same ``MEDIA_ROOT`` again, each in a fresh
process of its own environment (``tox -e bench-http-peer``; ``make bench``
sets ``HTTP_PEER_PYTHON``).

``python -m benchmarks.http_layer`` runs this section alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.http_workloads import (
    BIG,
    BIG_SIZE,
    FILE_SIZE,
    LOCAL_FILES,
    PRODUCTION_FILES,
    WORKLOADS,
)

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3  # cold runs of storage_mixins' stacks, a new stack each: the median time
PEER = "django-http-fallback-storage 1.6"
MIB = 1024 * 1024


@dataclass
class Run:
    """What one run cost, as nginx saw it, and its wall time."""

    requests: Counter[str] = field(default_factory=Counter)
    body_bytes: int = 0
    connections: int = 0
    seconds: float = 0.0
    growth_mib: float | None = None
    error: str | None = None

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def describe(self) -> str:
        if self.error:
            return f"error: {self.error[:50]}"
        methods = " ".join(f"{method} {count}" for method, count in sorted(self.requests.items()))
        return f"{self.total} ({methods})" if self.total else "0"


def local_spec(location: Path) -> dict[str, Any]:
    return {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(location), "base_url": "/media/"},
    }


def local_first(base_url: str, root: str | Path) -> Any:
    from storage_mixins import FallbackStorage

    production = {"BACKEND": "storage_mixins.HTTPStorage", "OPTIONS": {"base_url": base_url}}
    return FallbackStorage([local_spec(Path(root) / "local"), production])


def production_first(base_url: str, root: str | Path) -> Any:
    """The recipe's stack, production first, with a new (empty) cache."""
    from storage_mixins import FallbackStorage

    production = {
        "BACKEND": "storage_mixins.Caching",
        "OPTIONS": {
            "storage": {"BACKEND": "storage_mixins.HTTPStorage", "OPTIONS": {"base_url": base_url}},
            "key_prefix": uuid.uuid4().hex,
            "contents": local_spec(Path(root) / "contents" / uuid.uuid4().hex),
            "max_content_size": 16 * MIB,
        },
    }
    return FallbackStorage([production, local_spec(Path(root) / "local")], writable=1)


# (row, workload, storage_mixins' stack)
ROWS: list[tuple[str, str, Callable[[str, Path], Any]]] = [
    ("page render, local first", "page render", local_first),
    ("page render, production first", "page render", production_first),
    ("rendition of one production file", "rendition", production_first),
    ("10 bytes of a 256 MiB file", "header", production_first),
    ("200 exists() cold", "existence", production_first),
]


def nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


@contextmanager
def nginx_serving(directory: Path) -> Iterator[Any]:
    from tests.nginx import NginxServer

    binary = nginx_binary()
    assert binary is not None
    server = NginxServer(binary, directory / "nginx").start()
    try:
        for name in PRODUCTION_FILES:
            server.put(name, b"\xff" * FILE_SIZE, modified=1_700_000_000)
        server.put_size(BIG, BIG_SIZE)
        yield server
    finally:
        server.stop()


def seed_local(directory: Path) -> Path:
    for name in LOCAL_FILES:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(b"\xee" * FILE_SIZE)
    return directory


def measure(
    peer_python: str | None, progress: Callable[[str], None] = print
) -> dict[str, Any] | None:
    """Every row, for storage_mixins (cold, warm) and the peer (cold, warm);
    ``None`` without nginx."""
    if nginx_binary() is None:
        return None
    results: dict[str, Any] = {"rows": {}}
    with tempfile.TemporaryDirectory() as scratch, nginx_serving(Path(scratch)) as nginx:
        root = Path(scratch)
        seed_local(root / "local")
        for label, workload, stack in ROWS:
            progress(f"  {label}: storage_mixins")
            ours = _ours(nginx, root, WORKLOADS[workload], stack)
            peer = None
            # The peer has one order, local first: its row is the local-first one.
            if peer_python and label != "page render, production first":
                progress(f"  {label}: {PEER}")
                peer = _peer(nginx, root, workload, peer_python)
            results["rows"][label] = {"ours": ours, "peer": peer}
        if os.path.exists("/proc/self/status"):
            progress("  peak memory, in fresh processes")
            results["memory"] = {
                which: _memory(which, nginx.media_url, root) for which in ("raw", "stack")
            }
    return results


def _observed(nginx: Any, work: Callable[[], Any]) -> Run:
    nginx.clear_requests()
    started = time.perf_counter()
    try:
        work()
    except Exception as exc:  # noqa: BLE001 - a cell that cannot be measured
        return Run(error=f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - started
    requests = nginx.requests()
    return Run(
        requests=Counter(request.method for request in requests),
        body_bytes=sum(request.body for request in requests),
        connections=len({request.connection for request in requests}),
        seconds=seconds,
    )


def _ours(nginx: Any, root: Path, workload: Callable[[Any], None], stack: Any) -> dict[str, Run]:
    colds = []
    for _ in range(RUNS):
        storage = stack(nginx.media_url, root)
        colds.append(_observed(nginx, lambda storage=storage: workload(storage)))
    warm = _observed(nginx, lambda: workload(storage))
    cold = colds[-1]
    cold.seconds = statistics.median(run.seconds for run in colds)
    return {"cold": cold, "warm": warm}


def _peer(nginx: Any, root: Path, workload: str, python: str) -> dict[str, Run]:
    media_root = seed_local(root / "peer" / uuid.uuid4().hex)
    runs = {}
    for phase in ("cold", "warm"):
        config = {
            "repository": str(ROOT),
            "media_root": str(media_root),
            "base_url": nginx.media_url,
            "workload": workload,
        }
        report: dict[str, Any] = {}

        def work(config: dict[str, Any] = config, report: dict[str, Any] = report) -> None:
            completed = subprocess.run(
                [python, "-m", "benchmarks.http_peer_worker", json.dumps(config)],
                capture_output=True, text=True, cwd=ROOT, timeout=600, check=False,
            )  # fmt: skip
            if completed.returncode:
                raise RuntimeError(completed.stderr[-300:])
            report.update(json.loads(completed.stdout.strip().splitlines()[-1]))
            if "error" in report:
                raise RuntimeError(report["error"])

        run = _observed(nginx, work)
        if not run.error:
            run.seconds, run.growth_mib = report["seconds"], report["growth_mib"]
        runs[phase] = run
    shutil.rmtree(media_root, ignore_errors=True)
    return runs


def _memory(which: str, base_url: str, root: Path) -> float:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.http_memory", which, base_url, str(root)],
        capture_output=True, text=True, cwd=ROOT, timeout=600, check=True,
    )  # fmt: skip
    return float(json.loads(completed.stdout)["growth_mib"])


def as_json(results: dict[str, Any]) -> dict[str, Any]:
    """``results`` as plain data, for benchmarks/results.json."""

    def plain(value: Any) -> Any:
        if isinstance(value, Run):
            return {**dataclasses.asdict(value), "requests": dict(value.requests)}
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    return {key: plain(value) for key, value in results.items()}


# -- the report -------------------------------------------------------------------


def report(results: dict[str, Any], target: Callable[[str, bool], str], table_class: Any) -> None:
    """Print the table, with PASS/FAIL through ``target(what, passed)``."""
    rows = results["rows"]
    memory = results.get("memory")
    table = table_class(["workload", "target", "storage_mixins", "time", PEER, "time "])
    for label, _workload, _stack in ROWS:
        ours, peer = rows[label]["ours"], rows[label]["peer"]
        for phase in ("cold", "warm"):
            run = ours[phase]
            verdict = _verdict(label, phase, run, memory, target)
            other = None if peer is None else peer[phase]
            table.add(
                f"{label}, {phase}",
                verdict,
                _cell(label, run),
                f"{run.seconds * 1000:.0f} ms",
                _peer_cell(label, other),
                "" if other is None or other.error else f"{other.seconds * 1000:.0f} ms",
            )
    print(
        "Production over HTTP (nginx on loopback): requests by method, through FallbackStorage,\n"
        f"and {PEER}'s on the same server\n{table.render()}\n"
    )
    if memory:
        print(
            "Peak memory growth reading 10 bytes of a 256 MiB file: urllib3's streamed GET "
            f"{memory['raw']:.1f} MiB, storage_mixins {memory['stack']:.1f} MiB\n"
        )


def _verdict(
    label: str,
    phase: str,
    run: Run,
    memory: dict[str, float] | None,
    target: Callable[[str, bool], str],
) -> str:
    if run.error:
        return target(f"{label}, {phase}: measured", False)
    if label == "page render, local first":
        return "0: " + target(f"{label}, {phase}: 0 requests", run.total == 0)
    if label == "page render, production first":
        limit = 20 if phase == "cold" else 0
        return f"≤ {limit}: " + target(f"{label}, {phase}: ≤ {limit} requests", run.total <= limit)
    if label == "rendition of one production file":
        if phase == "warm":
            return "0: " + target(f"{label}, with contents=, again: 0 requests", run.total == 0)
        passed = run.requests["HEAD"] <= 1 and run.requests["GET"] <= 1 and run.total <= 2
        return "≤ 1 HEAD + 1 GET: " + target(f"{label}, cold: ≤ 1 HEAD + 1 GET", passed)
    if label == "10 bytes of a 256 MiB file" and phase == "cold":
        passed = run.body_bytes <= MIB
        verdict = "≤ 1 MiB: " + target(f"{label}: ≤ 1 MiB transferred", passed)
        if memory:
            grown = memory["stack"] <= memory["raw"] + 16
            verdict += ", memory ≤ raw + 16 MiB: " + target(
                f"{label}: memory ≤ raw + 16 MiB", grown
            )
        return verdict
    if label == "200 exists() cold" and phase == "cold":
        return "≤ 4 conn.: " + target(f"{label}: ≤ 4 TCP connections", run.connections <= 4)
    return ""


def _cell(label: str, run: Run) -> str:
    text = run.describe()
    if run.error:
        return text
    if label.startswith("10 bytes"):
        text += f", {run.body_bytes / MIB:.2f} MiB"
    if label.startswith("200 exists"):
        text += f", {run.connections} conn."
    return text


def _peer_cell(label: str, run: Run | None) -> str:
    if run is None:
        return "n/a (local first only)" if "production first" in label else "not measured"
    text = _cell(label, run)
    if not run.error and label.startswith("10 bytes"):
        text += f", {run.growth_mib:.0f} MiB peak growth"
    return text


def main() -> int:
    from benchmarks.harness import Table, setup_django

    setup_django()
    targets: list[tuple[str, bool]] = []

    def target(what: str, passed: bool) -> str:
        targets.append((what, passed))
        return "PASS" if passed else "FAIL"

    results = measure(os.environ.get("HTTP_PEER_PYTHON"))
    if results is None:
        print("HTTP: not measured (nginx is not installed: apt-get install nginx)")
        return 1
    report(results, target, Table)
    return 1 if any(not passed for _what, passed in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
