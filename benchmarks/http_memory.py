"""Peak memory growth, in a fresh process, of reading 10 bytes of a 256 MiB file
over HTTP: the floor (urllib3's streamed GET, ten bytes read, the connection
closed) and storage_mixins' production-first ``FallbackStorage``.

``python -m benchmarks.http_memory raw|stack BASE_URL ROOT`` prints
``{"growth_mib": ...}``.
"""

from __future__ import annotations

import json
import sys


def peak_kib() -> int:  # VmHWM, not ru_maxrss: a child inherits its parent's ru_maxrss
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))


def main() -> None:
    which, base_url, root = sys.argv[1:4]
    from benchmarks.harness import setup_django
    from benchmarks.http_layer import production_first
    from benchmarks.http_workloads import BIG, PRODUCTION_FILES, header

    setup_django()
    if which == "raw":
        import urllib3

        pool = urllib3.PoolManager()
        pool.request("HEAD", base_url + PRODUCTION_FILES[0])  # imports and a connection
        before = peak_kib()
        response = pool.request("GET", base_url + BIG, preload_content=False)
        assert len(response.read(10)) == 10
        response.close()
    else:
        storage = production_first(base_url, root)
        storage.exists(PRODUCTION_FILES[0])  # imports and a connection, before the baseline
        before = peak_kib()
        header(storage)
    print(json.dumps({"growth_mib": (peak_kib() - before) / 1024}))


if __name__ == "__main__":
    main()
