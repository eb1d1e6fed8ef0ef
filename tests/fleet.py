"""A fleet of processes that share one redis-server and one S3 server, each
rendering the same cold page when told to (issue 25: one listing per
directory for the whole fleet).

The parent starts :class:`Worker` processes (``python -m tests.fleet
CONFIG``); each builds the stack, says it is ready, waits for a line on its
standard input, then asks ``exists`` and ``url`` of every name of the page
and prints its answers, how long the page took and how long its first
answer took (which waits for the directory's listing), as JSON. A worker started
with ``die_while_listing`` kills itself (SIGKILL) as soon as its first
listing request has been answered: it dies holding the listing's claim.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: The stacks a worker can build, over ``s3`` (production) and ``fs``.
PLACEMENTS = ("Fallback(Caching(ReadOnly(s3)), fs)", "Caching(Fallback(ReadOnly(s3), fs))")


class Worker:
    """One process of the fleet, started at once; :meth:`go` starts its page."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fleet", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def ready(self) -> None:
        """Wait until the worker has built its stack."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"worker failed to start: {line}{self._stderr()}")

    def go(self) -> None:
        """Tell the worker to render its page."""
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self) -> dict[str, Any]:
        """The worker's answers and page time; raises if it failed."""
        out, err = self.process.communicate(timeout=120)
        if self.process.returncode != 0:
            raise RuntimeError(f"worker exited {self.process.returncode}: {err}")
        result: dict[str, Any] = json.loads(out)
        return result

    def killed(self) -> bool:
        """Wait for the worker to end; whether it was killed (SIGKILL)."""
        self.process.communicate(timeout=120)
        return self.process.returncode == -signal.SIGKILL

    def stop(self) -> str:
        """Kill the worker if it still runs (after a failed test), by its pid;
        what it wrote to its standard error."""
        if self.process.poll() is None:
            self.process.kill()
        if self.process.stdin is not None and self.process.stdin.closed:
            return ""  # stopped already
        _out, err = self.process.communicate()
        return err or ""

    def _stderr(self) -> str:
        return self.stop()


def config(
    *, redis: str, endpoint: str, location: str, prefix: str, names: list[str], **extra: Any
) -> dict[str, Any]:
    """A worker's configuration (``extra``: ``placement``, ``die_while_listing``)."""
    return {"redis": redis, "endpoint": endpoint, "location": location, "prefix": prefix,
            "names": names, "placement": PLACEMENTS[0], **extra}  # fmt: skip


def _run(config: dict[str, Any]) -> None:
    """The worker's body (see the module's docstring)."""
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    import django
    from django.conf import settings

    settings.configure(
        USE_TZ=True,
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": config["redis"],
            }
        },
    )
    django.setup()
    from django.core.files.storage import FileSystemStorage
    from storages.backends.s3 import S3Storage

    from storage_mixins import Caching, Fallback, ReadOnly
    from storage_mixins.backends.s3.listing import S3Lister

    s3 = S3Storage(bucket_name="production-media", endpoint_url=config["endpoint"],
                   region_name="us-east-1", addressing_style="path", querystring_auth=False,
                   file_overwrite=False)  # fmt: skip
    fs = FileSystemStorage(location=config["location"], base_url="/local/")
    options = {"cache": "default", "key_prefix": config["prefix"], "listings": "auto"}
    if config["placement"] == PLACEMENTS[0]:
        stack = Fallback(Caching(ReadOnly(s3), **options), fs)
    else:
        stack = Caching(Fallback(ReadOnly(s3), fs), **options)
    # What a first call sets up (botocore's models, the cache's connection)
    # is set up before the page, in a directory of its own: the page measures
    # the fleet, not each process's start.
    stack.exists("warm-up/none.jpg")
    stack.url("warm-up/none.jpg")
    if config.get("die_while_listing"):
        original = S3Lister.list

        def list_and_die(self: Any, *args: Any, **kwargs: Any) -> Any:
            original(self, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)

        S3Lister.list = list_and_die  # type: ignore[method-assign]
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    answers = [[stack.exists(name), stack.url(name)] for name in config["names"][:1]]
    first = time.perf_counter() - started  # the listing's wait is here
    answers += [[stack.exists(name), stack.url(name)] for name in config["names"][1:]]
    seconds = time.perf_counter() - started
    print(json.dumps({"answers": answers, "seconds": seconds, "first": first}))


if __name__ == "__main__":
    _run(json.loads(sys.argv[1]))
