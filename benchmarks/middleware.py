"""A request with StorageTimingMiddleware on, against the same request without it.

The request renders a page of ``FILES`` files (``exists``, ``url`` and
``size`` of each, through ``Caching(Fallback(fs, ReadOnly(mem)))``, warm), the
way the page-render workload does, through Django's request handler: once with
``MIDDLEWARE = []``, once with the middleware. Timed interleaved, fastest of the
repeats, in a fresh interpreter. Also: a warm cached ``exists()`` while a
recording is active, against the same call with none.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import timeit
from typing import Any

FILES = 20
REQUESTS = 200
CALLS = 2000
REPEATS = 15


def measure() -> dict[str, Any]:
    from django.core.files.base import ContentFile
    from django.core.files.storage import FileSystemStorage, InMemoryStorage
    from django.core.handlers.wsgi import WSGIHandler
    from django.http import HttpResponse
    from django.test import RequestFactory, override_settings
    from django.urls import path

    from storage_mixins import Caching, Fallback, ReadOnly
    from storage_mixins.observability.recording import record

    names = [f"photos/{number}.jpg" for number in range(FILES)]
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as d:
        production = InMemoryStorage(base_url="https://media.example/")
        for name in names:
            production.save(name, ContentFile(b"\xff" * 1024))
        stack = Caching(Fallback(FileSystemStorage(location=d), ReadOnly(production)))

        def page(request: Any) -> HttpResponse:
            items = [f"{stack.url(n)} {stack.size(n)}" for n in names if stack.exists(n)]
            return HttpResponse("\n".join(items))

        urls = type("urls", (), {"urlpatterns": [path("", page)]})
        environ = RequestFactory().get("/").environ

        def handler(middleware: list[str]) -> Any:
            with override_settings(ROOT_URLCONF=urls, MIDDLEWARE=middleware):
                wsgi = WSGIHandler()  # loads the middleware now
            return lambda: wsgi(dict(environ), lambda *args: None)

        with override_settings(ROOT_URLCONF=urls):
            plain = handler([])
            timed = handler(["storage_mixins.middleware.StorageTimingMiddleware"])
            plain()  # warm the cache
            best = {"without": float("inf"), "with": float("inf")}
            for _ in range(REPEATS):
                for label, call in (("without", plain), ("with", timed)):
                    seconds = timeit.timeit(call, number=REQUESTS, timer=time.thread_time)
                    best[label] = min(best[label], seconds / REQUESTS * 1e6)

            def exists() -> Any:
                return stack.exists(names[0])

            calls = {"not recorded": float("inf"), "recorded": float("inf")}
            for _ in range(REPEATS):
                calls["not recorded"] = min(
                    calls["not recorded"],
                    timeit.timeit(exists, number=CALLS, timer=time.thread_time) / CALLS * 1e6,
                )
                with record():
                    seconds = timeit.timeit(exists, number=CALLS, timer=time.thread_time)
                calls["recorded"] = min(calls["recorded"], seconds / CALLS * 1e6)
    return {
        "files": FILES,
        "calls_per_request": 3 * FILES,
        "request_microseconds": best,
        "request_ratio": best["with"] / best["without"],
        "call_microseconds": calls,
    }


def measure_in_fresh_process() -> dict[str, Any]:
    from benchmarks.harness import in_fresh_process

    result: dict[str, Any] = in_fresh_process("benchmarks.middleware")
    return result


if __name__ == "__main__":
    from benchmarks.harness import setup_django

    setup_django()
    print(json.dumps(measure()))
