"""One measurement of benchmarks/pull.py, in a fresh process: prints JSON.

``python -m benchmarks.pull_worker SCENARIO ENDPOINT ROOT [ARGS]``, where
ENDPOINT is the S3 endpoint (moto, or the fault proxy in front of it) and ROOT
a scratch directory. Scenarios:

* ``sequential PREFIX``: storage_pull as it was in 0.1.0 (one HEAD a file for
  its size, ``exists`` and ``size`` locally, one copy at a time);
* ``pull PREFIX JOBS``: ``manage.py storage_pull PREFIX --jobs JOBS``;
* ``memory PREFIX``: the peak memory growth of that pull (Linux's VmHWM);
* ``audit PREFIX ROWS``: 100,000 rows (ROWS) referring to the files under
  PREFIX, in SQLite; the time of one listing of PREFIX, of the audit's query,
  and of ``manage.py storage_audit``.
"""

from __future__ import annotations

import io
import json
import sys
import time
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

BUCKET = "production-media"


def setup(endpoint: str, root: Path) -> None:
    import django
    from django.conf import settings

    settings.configure(
        USE_TZ=True,
        SECRET_KEY="bench",
        INSTALLED_APPS=["django.contrib.contenttypes", "storage_mixins", "tests.testapp"],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(root / "db.sqlite3")}
        },
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        STORAGES={
            "default": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["local", "production"]},
            },
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(root / "local")},
            },
            "production": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": BUCKET,
                    "endpoint_url": endpoint,
                    "access_key": "bench",
                    "secret_key": "bench",
                    "region_name": "us-east-1",
                    "addressing_style": "path",
                    "querystring_auth": False,
                },
            },
        },
    )
    django.setup()


def sequential_pull(prefix: str) -> int:
    """The loop of storage_pull 0.1.0, kept to measure against."""
    from django.core.files.storage import storages

    from storage_mixins.core.stack import find_router
    from storage_mixins.services.streaming import copy_file

    fallback = find_router(storages["default"])
    assert fallback is not None
    target = fallback.write_layer
    plan: dict[str, Any] = {}
    for source in (layer for layer in fallback.layers if layer is not target):
        for name in _files_under(source, prefix):
            plan.setdefault(name, source)
    copied = 0
    for name, source in plan.items():
        size = source.size(name)
        if target.exists(name) and target.size(name) == size:
            continue
        copy_file(source, target, name)
        copied += 1
    return copied


def _files_under(storage: Any, prefix: str) -> Any:
    directories, files = storage.listdir(prefix)
    for name in files:
        yield f"{prefix}/{name}" if prefix else name
    for directory in directories:
        yield from _files_under(storage, f"{prefix}/{directory}" if prefix else directory)


def pull(prefix: str, jobs: int) -> None:
    from django.core.management import call_command

    out = io.StringIO()
    with redirect_stderr(io.StringIO()):
        call_command("storage_pull", prefix, "--jobs", str(jobs), stdout=out, stderr=out)
    assert "0 conflict(s); 0 failed" in out.getvalue(), out.getvalue()


def peak_kib() -> int:  # VmHWM, not ru_maxrss: a child inherits its parent's ru_maxrss
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))


def audit(prefix: str, rows: int) -> dict[str, float]:
    from django.core.files.storage import storages
    from django.core.management import call_command

    from storage_mixins.references import FieldReference, referenced_names
    from tests.testapp.models import Gallery

    call_command("migrate", run_syncdb=True, verbosity=0)
    client = storages["production"].connection.meta.client
    keys = [
        entry["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        for entry in page.get("Contents", ())
    ]
    Gallery.objects.bulk_create(
        (Gallery(attachment=keys[index % len(keys)]) for index in range(rows)), batch_size=5000
    )
    reference = FieldReference(Gallery, Gallery._meta.get_field("attachment"))

    def listing() -> None:
        paginator = client.get_paginator("list_objects_v2")
        for _page in paginator.paginate(Bucket=BUCKET, Prefix=prefix):
            pass

    def query() -> None:
        for _name in referenced_names(reference):
            pass

    def audit_command() -> None:
        out = io.StringIO()
        call_command("storage_audit", "--field", "testapp.Gallery.attachment", stdout=out)
        assert "No broken reference" in out.getvalue(), out.getvalue()

    best = {"listing": float("inf"), "query": float("inf"), "audit": float("inf")}
    for _ in range(3):  # interleaved, judged on the fastest
        for label, run in (("listing", listing), ("query", query), ("audit", audit_command)):
            start = time.perf_counter()
            run()
            best[label] = min(best[label], time.perf_counter() - start)
    return best


def main() -> None:
    scenario, endpoint, root = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    args = sys.argv[4:]
    setup(endpoint, root)
    from django.core.files.storage import storages

    from storage_mixins.backends.listers import lister_for

    # Imports and a connection, outside the timing: one listing, no HEAD or GET.
    lister_for(storages["production"]).list("warm-up")
    if scenario == "sequential":
        start = time.perf_counter()
        copied = sequential_pull(args[0])
        print(json.dumps({"seconds": time.perf_counter() - start, "copied": copied}))
    elif scenario == "pull":
        start = time.perf_counter()
        pull(args[0], int(args[1]))
        print(json.dumps({"seconds": time.perf_counter() - start}))
    elif scenario == "memory":
        before = peak_kib()
        pull(args[0], 8)
        print(json.dumps({"growth_mib": (peak_kib() - before) / 1024}))
    elif scenario == "audit":
        print(json.dumps(audit(args[0], int(args[1]))))
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")


if __name__ == "__main__":
    main()
