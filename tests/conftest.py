from __future__ import annotations

import copy
import importlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests import settings as test_settings

# Never let botocore look for real credentials or the EC2 metadata service.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",
)
os.environ.pop("AWS_PROFILE", None)

# The in-process S3 server logs every request at INFO; tests read their own logs.
logging.getLogger("werkzeug").setLevel(logging.WARNING)

PRODUCTION_BUCKET = "production-media"

# Hypothesis: "ci" (the default) is derandomized and sized to keep the whole
# suite within CI's budget; HYPOTHESIS_PROFILE=long runs 10,000+ steps per
# stateful stack (tests/test_stateful.py). Failures print the shrunk example
# and a @reproduce_failure blob.
_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large]
hypothesis_settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=8,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=_SLOW_IS_FINE,
    print_blob=True,
)
hypothesis_settings.register_profile(
    "long",
    max_examples=250,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=_SLOW_IS_FINE,
    print_blob=True,
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _empty_caches() -> Iterator[None]:
    """Local-memory caches outlive a test; entries must not."""
    from django.core.cache import caches

    yield
    for alias in ("default", "dummy"):
        caches[alias].clear()


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Any) -> None:
    """Every test gets its own MEDIA_ROOT and fresh STORAGES aliases."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = copy.deepcopy(test_settings.STORAGES)


def hard_linked_stack(tmp_path: Path) -> tuple[Any, FileSystemStorage, FileSystemStorage]:
    """A dev copy made with ``cp -al``: the write layer's ``a.txt`` shares
    production's inode. The stack, its local layer, and production."""
    production = FileSystemStorage(location=tmp_path / "production")
    production.save("a.txt", ContentFile(b"production"))
    local = FileSystemStorage(location=tmp_path / "local")
    os.makedirs(local.location)
    os.link(production.path("a.txt"), os.path.join(local.location, "a.txt"))
    from storage_mixins import Fallback, ReadOnly

    return Fallback(local, ReadOnly(production)), local, production


def local_over_production(s3: Any, local: Any) -> dict[str, Any]:
    """``STORAGES`` entries for the README's stack: ``"default"``, a
    ``FallbackStorage`` of the local disk at ``local`` over the test bucket."""
    return {
        "default": {
            "BACKEND": "storage_mixins.FallbackStorage",
            "OPTIONS": {"backends": ["local", "production"]},
        },
        "local": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(local)},
        },
        "production": s3.settings(),
    }


@pytest.fixture
def use_storages(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set ``STORAGES`` for one test, OPTIONS included on every Django version.

    Django 4.2 drops the OPTIONS of an overridden "default" or "staticfiles"
    (ticket #34773), so the storage handler is also given the dict as written.
    """
    from django.core.files.storage import storages

    def use(config: dict[str, Any]) -> None:
        settings.STORAGES = config
        monkeypatch.setitem(storages.__dict__, "backends", dict(config))

    return use


@pytest.fixture
def fs(tmp_path: Any) -> FileSystemStorage:
    return FileSystemStorage(location=tmp_path / "fs", base_url="/fs/")


@pytest.fixture
def fs2(tmp_path: Any) -> FileSystemStorage:
    return FileSystemStorage(location=tmp_path / "fs2", base_url="/fs2/")


@pytest.fixture
def mem() -> InMemoryStorage:
    return InMemoryStorage(base_url="https://mem.example/")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[Any]:
    from tests.s3server import S3Server

    server = S3Server()
    server.start()
    yield server
    server.stop()


class S3:
    """A freshly reset S3 server; buckets are created when first used."""

    def __init__(self, server: Any) -> None:
        import boto3
        from botocore.config import Config

        from tests.s3server import OBSERVER_USER_AGENT

        self.server = server
        server.reset()
        # The tests' own view of the buckets; its requests are not counted.
        self.client = boto3.client(
            "s3",
            endpoint_url=server.endpoint_url,
            region_name="us-east-1",
            config=Config(user_agent_extra=OBSERVER_USER_AGENT),
        )
        self._buckets: set[str] = set()

    def storage(self, bucket: str = PRODUCTION_BUCKET, **options: Any) -> Any:
        """An ``S3Storage`` on ``bucket`` (created if needed), as an app would use it;
        ``options`` override its keyword arguments (``endpoint_url``: a proxy)."""
        from storages.backends.s3 import S3Storage

        return S3Storage(**self.settings(bucket, **options)["OPTIONS"])

    def settings(self, bucket: str = PRODUCTION_BUCKET, **options: Any) -> dict[str, Any]:
        """The ``STORAGES`` entry of :meth:`storage`."""
        self.bucket(bucket)
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": self.server.endpoint_url,
                "access_key": "testing",
                "secret_key": "testing",
                "region_name": "us-east-1",
                "addressing_style": "path",
                "file_overwrite": False,
                **options,
            },
        }

    def bucket(self, name: str) -> str:
        """Create bucket ``name`` unless this test already has."""
        if name not in self._buckets:
            self.client.create_bucket(Bucket=name)
            self._buckets.add(name)
        return name

    def put(self, key: str, body: bytes, bucket: str = PRODUCTION_BUCKET) -> None:
        """Write directly, as production would; not counted against the stack."""
        self.client.put_object(Bucket=self.bucket(bucket), Key=key, Body=body)

    def snapshot(self, bucket: str = PRODUCTION_BUCKET) -> dict[str, bytes]:
        """Every key and its bytes (requests made for this are not counted)."""
        self.bucket(bucket)
        contents = {}
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            for entry in page.get("Contents", ()):
                body = self.client.get_object(Bucket=bucket, Key=entry["Key"])["Body"]
                contents[entry["Key"]] = body.read()
        return contents


_sessions = threading.local()


def _shared_session(storage: Any) -> Any:
    # boto3 sessions take ~80 ms to build and are not thread-safe: keep one per
    # thread and credentials instead of one per S3Storage instance.
    import boto3

    key = (storage.access_key, storage.secret_key, storage.security_token)
    cache = _sessions.__dict__.setdefault("by_credentials", {})
    if key not in cache:
        cache[key] = boto3.Session(
            aws_access_key_id=key[0], aws_secret_access_key=key[1], aws_session_token=key[2]
        )
    return cache[key]


@pytest.fixture
def s3(s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> S3:
    """A freshly reset S3 server, for one test."""
    from storages.backends.s3 import S3Storage

    monkeypatch.setattr(S3Storage, "_create_session", _shared_session)
    return S3(s3_server)


@pytest.fixture(scope="module")
def s3_for_module(s3_server: Any) -> Iterator[S3]:
    """A reset S3 server shared by a module's tests (for tests that never write)."""
    from storages.backends.s3 import S3Storage

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(S3Storage, "_create_session", _shared_session)
        yield S3(s3_server)


def content(data: bytes | str, name: str | None = None) -> ContentFile:
    return ContentFile(data, name=name)


def tree(storage: Any, path: str = "") -> dict[str, bytes]:
    """Every file under ``path`` in ``storage`` and its bytes, through the storage API."""
    # Looked up, not imported: without boto3, the import raises ImproperlyConfigured.
    s3 = sys.modules.get("storages.backends.s3")
    if s3 is not None and isinstance(storage, s3.S3Storage) and not path:
        # One listing, one GET a file.
        return {entry.key: entry.get()["Body"].read() for entry in storage.bucket.objects.all()}
    try:
        directories, files = storage.listdir(path)
    except FileNotFoundError:
        return {}
    contents = {}
    for name in files:
        full = f"{path}/{name}" if path else name
        with storage.open(full, "rb") as handle:
            contents[full] = handle.read()
    for directory in directories:
        contents.update(tree(storage, f"{path}/{directory}" if path else directory))
    return contents


# -- real components started by the tests ----------------------------------


def require_component(binary: str, install_hint: str, also_in: str = "") -> str:
    """The path of ``binary`` (looked for on PATH, then in ``also_in``: Debian
    puts servers in /usr/sbin, which a user's PATH may lack); a skip outside CI
    and a failure under CI if missing."""
    path = shutil.which(binary) or (shutil.which(binary, path=also_in) if also_in else None)
    if path is None:
        missing(f"{binary} is not installed ({install_hint})")
    return path


def require_module(name: str, install_hint: str) -> Any:
    """The module ``name``; a skip outside CI and a failure under CI if missing."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"{name} is not installed ({install_hint})")


def require_path(path: str, what: str) -> None:
    """Go on only if ``path`` exists (e.g. Linux's /proc); a skip outside CI and
    a failure under CI otherwise."""
    if not os.path.exists(path):
        missing(f"{path} does not exist: this test needs {what}")


def missing(message: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{message}; under CI=true this is an error", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A redis-server process on loopback, without persistence, stopped by pid."""

    def __init__(self, binary: str, directory: Any, port: int | None = None) -> None:
        self.binary = binary
        self.directory = directory
        self.port = port or free_port()
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.pid = self._process.pid
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.pid is None or self._process is None:
            return
        os.kill(self.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self._process.wait()
        self.pid = None


@pytest.fixture(scope="session")
def redis_binary() -> str:
    return require_component("redis-server", "apt-get install redis-server")


@pytest.fixture(scope="session")
def redis_server(redis_binary: str, tmp_path_factory: Any) -> Iterator[RedisServer]:
    server = RedisServer(redis_binary, tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_cache(redis_server: RedisServer, settings: Any) -> str:
    """The alias of a Django RedisCache on the test server, emptied for each test."""
    from django.core.cache import caches

    settings.CACHES = {
        **settings.CACHES,
        "redis": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url,
        },
    }
    caches["redis"].clear()
    return "redis"


@pytest.fixture(scope="session")
def nginx_server(tmp_path_factory: Any) -> Iterator[Any]:
    """nginx on loopback (tests/nginx.py), for the session."""
    from tests.nginx import NginxServer

    binary = require_component("nginx", "apt-get install nginx", also_in="/usr/sbin:/sbin")
    server = NginxServer(binary, tmp_path_factory.mktemp("nginx")).start()
    yield server
    server.stop()


@pytest.fixture
def nginx(nginx_server: Any) -> Iterator[Any]:
    """nginx with no file published and no request logged, for one test; at
    its end, nginx (both its servers) received no method but GET and HEAD."""
    nginx_server.reset()
    yield nginx_server
    for log in ("access.log", "elsewhere.log"):
        sent = set(nginx_server.counts(log))
        assert sent <= {"GET", "HEAD"}, f"nginx received {sorted(sent)} ({log})"
