"""storage_pull and storage_audit over a network that takes 20 ms a request.

1,000 files of 100 KiB on moto, behind tests/faultproxy.py in delay mode, as a
stand-in for a real network. Side by side in one run: the sequential pull of
0.1.0 (one HEAD a file for its size, one copy at a time) and today's
``storage_pull --jobs 8``; the S3 requests of each; peak memory while pulling
a 256 MiB file; and ``storage_audit`` over 100,000 SQLite rows against one
listing of the bucket plus the audit's query. Each measurement runs in a fresh
process (benchmarks/pull_worker.py).

``python -m benchmarks.pull [FILES [ROWS [BIG_MIB]]]`` runs it alone, smaller.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FILES = 1_000
FILE_SIZE = 100 * 1024
DELAY_SECONDS = 0.020
AUDIT_ROWS = 100_000
BIG_MIB = 256
PREFIX = "pull"


def measure(
    s3: Any, files: int = FILES, rows: int = AUDIT_ROWS, big_mib: int = BIG_MIB
) -> dict[str, Any]:
    """Every measurement; the S3 server's request counts included."""
    from tests.faultproxy import FaultProxy

    _seed(s3, files)
    results: dict[str, Any] = {"files": files, "rows": rows, "big_mib": big_mib}
    with (
        tempfile.TemporaryDirectory() as directory,
        FaultProxy(s3.server.endpoint_url, delay_seconds=DELAY_SECONDS) as proxy,
    ):
        proxy.set_mode("delay")
        scratch = Path(directory)
        for label, args in (
            ("sequential (0.1.0)", ["sequential", PREFIX]),
            ("--jobs 1", ["pull", PREFIX, "1"]),
            ("--jobs 8", ["pull", PREFIX, "8"]),
        ):
            s3.server.clear_requests()
            report = _worker(args, proxy.endpoint_url, scratch / label.replace(" ", "_"))
            report["requests"] = _requests(s3)
            results[label] = report
        s3.server.clear_requests()
        results["audit"] = _worker(
            ["audit", PREFIX, str(rows)], proxy.endpoint_url, scratch / "audit"
        )
        results["audit"]["requests"] = _requests(s3)
        if os.path.exists("/proc/self/status"):
            s3.client.upload_fileobj(
                _Zeros(big_mib * 1024 * 1024), "production-media", "big/big.bin"
            )
            # Straight to moto: the proxy would hold the whole response in its own memory.
            results["memory"] = _worker(["memory", "big"], s3.server.endpoint_url, scratch / "big")
    return results


def report(results: dict[str, Any], target: Any, table_class: Any) -> None:
    """Print the tables, with PASS/FAIL through ``target(what, passed)``."""
    files = results["files"]
    sequential = results["sequential (0.1.0)"]
    table = table_class(["pull", "time", "S3 requests", "per file", "target"])
    for label in ("sequential (0.1.0)", "--jobs 1", "--jobs 8"):
        row = results[label]
        requests = row["requests"]
        per_file = f"{requests['object GET'] / files:.2f} GET, {requests['HEAD'] / files:.2f} HEAD"
        verdict = ""
        if label == "--jobs 8":
            speedup = sequential["seconds"] / row["seconds"]
            fast = target(
                f"storage_pull --jobs 8: ≥ 5× faster than 0.1.0 ({speedup:.1f}×)", speedup >= 5
            )
            lean = target(
                "storage_pull: ≤ 1 GET a file, plus listings",
                requests["object GET"] <= files
                and requests["HEAD"] == 0
                and requests["other"] == 0,
            )
            verdict = f"{speedup:.1f}× ≥ 5: {fast}; ≤ 1 GET: {lean}"
        table.add(label, f"{row['seconds']:.2f} s", _describe(requests), per_file, verdict)
    print(
        f"storage_pull of {files:,} files of {FILE_SIZE // 1024} KiB, "
        f"{DELAY_SECONDS * 1000:.0f} ms a request (fault proxy)\n{table.render()}\n"
    )
    audit = results["audit"]
    floor = audit["listing"] + audit["query"]
    ratio = audit["audit"] / floor
    verdict = target(
        f"storage_audit of {results['rows']:,} rows: < 2 × (one listing + the query)",
        ratio < 2,
    )
    table = table_class(["measure", "time", "target"])
    table.add("one listing of the bucket's files", f"{audit['listing'] * 1000:.0f} ms", "")
    table.add("the audit's query (GROUP BY name)", f"{audit['query'] * 1000:.0f} ms", "")
    table.add(
        "storage_audit",
        f"{audit['audit'] * 1000:.0f} ms",
        f"{ratio:.2f}× (listing + query) < 2: {verdict}",
    )
    print(
        f"storage_audit: {results['rows']:,} rows in SQLite referring to {files:,} S3 files "
        f"(requests, all runs: {_describe(audit['requests'])})\n{table.render()}\n"
    )
    memory = results.get("memory")
    if memory is None:
        print("storage_pull memory: not measured (needs Linux's /proc)\n")
        return
    passed = target(
        f"storage_pull of a {results['big_mib']} MiB file: ≤ 16 MiB above baseline",
        memory["growth_mib"] <= 16,
    )
    print(
        f"storage_pull of one {results['big_mib']} MiB file: peak RSS growth "
        f"{memory['growth_mib']:.1f} MiB (≤ 16: {passed})\n"
    )


def _seed(s3: Any, files: int) -> None:
    from moto.s3.models import s3_backends

    # Into moto's in-process backend: 100 MB of PUTs over HTTP would take a while.
    backend = s3_backends["123456789012"]["global"]
    body = os.urandom(FILE_SIZE)
    for index in range(files):
        backend.put_object("production-media", f"{PREFIX}/{index // 100:02d}/{index:05d}.jpg", body)


def _worker(args: list[str], endpoint: str, scratch: Path) -> dict[str, Any]:
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.pull_worker",
                args[0],
                endpoint,
                str(scratch),
                *args[1:],
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            cwd=ROOT,
        )
        if completed.returncode:
            raise RuntimeError(f"pull_worker {args} failed:\n{completed.stderr[-3000:]}")
        return dict(json.loads(completed.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _requests(s3: Any) -> dict[str, int]:
    counts = {"object GET": 0, "listing": 0, "HEAD": 0, "other": 0}
    for request in s3.server.requests("production-media"):
        if request.method == "GET" and not request.key:
            counts["listing"] += 1
        elif request.method == "GET":
            counts["object GET"] += 1
        elif request.method == "HEAD":
            counts["HEAD"] += 1
        else:
            counts["other"] += 1
    return counts


def _describe(requests: dict[str, int]) -> str:
    return ", ".join(f"{kind} {count:,}" for kind, count in requests.items() if count) or "0"


class _Zeros:
    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, amount: int = -1) -> bytes:
        amount = self.left if amount < 0 else min(amount, self.left)
        self.left -= amount
        return bytes(amount)


def main() -> int:
    from benchmarks.harness import Table, s3_environment

    sizes = [int(arg) for arg in sys.argv[1:4]]
    targets: list[bool] = []

    def target(what: str, passed: bool) -> str:
        targets.append(passed)
        return "PASS" if passed else "FAIL"

    with s3_environment() as s3:
        results = measure(s3, *sizes)
    report(results, target, Table)
    return 0 if all(targets) else 1


if __name__ == "__main__":
    sys.exit(main())
