"""A dev page of 200 images that are nowhere: what placeholders cost, cold and warm.

A production dump's 200 rows (an ``ImageField`` that records each image's
size) refer to files that neither production nor the local disk has. The
stack is the recommended one with placeholders last,
``FallbackStorage(["production", "local"], writable="local", placeholders=True)``,
production being ``ReadOnly(Caching(S3Storage))`` on moto's server. The page,
per render: ``url()``, ``exists()`` and ``size()`` of the 200 names, and
``open().read()`` of 20. Measured: S3 requests, database queries, time; cold
(a new process's first render: nothing cached, nothing drawn) and warm.

Run: ``python -m benchmarks.placeholders`` (``make bench`` runs it in a fresh
process, as a section of its own).
"""

from __future__ import annotations

import json
import tempfile
import time
from typing import Any

FILES = [f"posters/{index:03d}.jpg" for index in range(200)]
READ = FILES[:20]


def _sizes(index: int) -> tuple[int, int]:
    """Sizes as a site has them: landscape, portrait, square, banners."""
    return [(1200, 800), (600, 900), (500, 500), (1600, 400)][index % 4]


def render(storage: Any) -> None:
    for name in FILES:
        storage.url(name)
        storage.exists(name)
        storage.size(name)
    for name in READ:
        with storage.open(name, "rb") as handle:
            handle.read()


def measure(s3: Any, media_root: str) -> dict[str, Any]:
    from django.core.files.storage import storages
    from django.db import connection, models
    from django.test.utils import CaptureQueriesContext

    from storage_mixins.observability.recording import record

    class Poster(models.Model):  # a model of the dump, for this process only
        image = models.ImageField(width_field="width", height_field="height")
        width = models.IntegerField(null=True)
        height = models.IntegerField(null=True)

        class Meta:
            app_label = "storage_mixins"

        def __str__(self) -> str:
            return self.image.name

    with connection.schema_editor() as editor:
        editor.create_model(Poster)
    Poster.objects.bulk_create(
        Poster(image=name, width=_sizes(index)[0], height=_sizes(index)[1])
        for index, name in enumerate(FILES)
    )
    stack = storages["media"]
    results: dict[str, Any] = {"files": len(FILES), "read": len(READ)}
    for run in ("cold", "warm"):
        s3.server.clear_requests()
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries, record() as recording:
            render(stack)
        results[run] = {
            "seconds": time.perf_counter() - started,
            "s3_requests": len(s3.server.requests()),
            "queries": len(queries),
            "placeholders": recording.placeholders,
        }
    return results


def main() -> None:
    from benchmarks.harness import s3_environment

    with s3_environment() as s3, tempfile.TemporaryDirectory() as media_root:
        _setup_django(s3, media_root)
        print(json.dumps(measure(s3, media_root)))


def _setup_django(s3: Any, media_root: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        USE_TZ=True,
        MEDIA_URL="/media/",
        INSTALLED_APPS=["django.contrib.contenttypes", "storage_mixins"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "OPTIONS": {"MAX_ENTRIES": 1_000_000},
            }
        },
        STORAGES={
            "media": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {
                    "backends": ["production", "local"],
                    "writable": "local",
                    "placeholders": {"base_url": "/__placeholders__/"},
                },
            },
            "production": {
                "BACKEND": "storage_mixins.ReadOnly",
                "OPTIONS": {
                    "storage": {
                        "BACKEND": "storage_mixins.Caching",
                        "OPTIONS": {
                            "storage": {
                                "BACKEND": "storages.backends.s3.S3Storage",
                                "OPTIONS": s3.storage_options(),
                            }
                        },
                    }
                },
            },
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": media_root},
            },
        },
    )
    django.setup()


def measure_in_fresh_process() -> dict[str, Any]:
    from benchmarks.harness import in_fresh_process

    result: dict[str, Any] = in_fresh_process("benchmarks.placeholders")
    return result


if __name__ == "__main__":
    main()
