"""Runs one HTTP workload on django-http-fallback-storage 1.6 and prints its
time and peak memory growth as JSON.

Started by ``benchmarks.http`` with the interpreter of the ``bench-http-peer``
environment, configured as the package's README says: ``FALLBACK_STORAGE_URL``
is production's media URL, ``MEDIA_ROOT`` the local layer (the download
target), and logging instead of its coloured prints. nginx, and its request
log, are the caller's. Cold and warm are two runs of this worker on the same
``MEDIA_ROOT``: the package's only state is the files it downloaded there.
"""

from __future__ import annotations

import json
import sys
import time
import traceback


def peak_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))


def main() -> None:
    config = json.loads(sys.argv[1])
    sys.path.insert(0, config["repository"])
    import django
    from django.conf import settings

    settings.configure(
        USE_TZ=True,
        MEDIA_ROOT=config["media_root"],
        MEDIA_URL="/media/",
        FALLBACK_STORAGE_URL=config["base_url"],
        FALLBACK_STORAGE_LOGGING=True,
    )
    django.setup()
    from http_fallback_storage import FallbackStorage

    from benchmarks.http_workloads import WORKLOADS

    storage = FallbackStorage()
    workload = WORKLOADS[config["workload"]]
    before = peak_kib()
    started = time.perf_counter()
    try:
        workload(storage)
    except Exception as exc:  # noqa: BLE001 - reported to the caller as a cell
        line = f"{type(exc).__name__}: {exc}".splitlines()[0]
        print(json.dumps({"error": line, "trace": traceback.format_exc()}))
        return
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "growth_mib": (peak_kib() - before) / 1024}))


if __name__ == "__main__":
    main()
