"""Runs one workload on django-fallback-storage 1.1.1 and prints its times as JSON.

Started by ``benchmarks.compare`` with the interpreter of a separate
environment (Django 4.2, since the package imports ``get_storage_class``,
which Django 5.1 removed), configured as the package's README says:
``FALLBACK_STORAGES`` lists the filesystem storage, then the S3 storage, both
built from settings. The S3 server and its request counter are the caller's.
"""

from __future__ import annotations

import json
import sys
import time
import traceback


def main() -> None:
    config = json.loads(sys.argv[1])
    sys.path.insert(0, config["repository"])
    import django
    from django.conf import settings

    settings.configure(
        USE_TZ=True,
        MEDIA_ROOT=config["media_root"],
        MEDIA_URL="/media/",
        DEFAULT_FILE_STORAGE="fallback_storage.storage.FallbackStorage",
        FALLBACK_STORAGES=(
            "django.core.files.storage.FileSystemStorage",
            "storages.backends.s3.S3Storage",
        ),
        AWS_STORAGE_BUCKET_NAME=config["bucket"],
        AWS_S3_ENDPOINT_URL=config["endpoint"],
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_S3_REGION_NAME="us-east-1",
        AWS_QUERYSTRING_AUTH=False,
        AWS_S3_FILE_OVERWRITE=False,
    )
    import warnings

    warnings.simplefilter("ignore")  # Django 4.2's deprecation of DEFAULT_FILE_STORAGE
    django.setup()
    from fallback_storage.storage import FallbackStorage

    from benchmarks.workloads import WORKLOADS

    workload = WORKLOADS[config["workload"]]
    storage = FallbackStorage()
    times = []
    try:
        for run in range(config["runs"]):
            start = time.perf_counter()
            workload(storage, run)
            times.append(time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - reported to the caller as a cell
        print(
            json.dumps(
                {
                    "error": f"{type(exc).__name__}: {exc}".splitlines()[0],
                    "trace": traceback.format_exc(),
                }
            )
        )
        return
    print(json.dumps({"times": times}))


if __name__ == "__main__":
    main()
