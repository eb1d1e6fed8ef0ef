"""Fixtures of the apps suite: a stack in each layer order over production on
moto (HTTP), S3 request budgets per operation (docs/apps.rst publishes them),
and the apps' own caches reset.

Run it with ``tox -e apps`` (or ``pytest tests_apps --ds=tests_apps.settings``).
"""

from __future__ import annotations

import io
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import storages

from storage_mixins.testing import assert_storage_requests
from tests import conftest as main_suite
from tests.conftest import PRODUCTION_BUCKET, missing

# The main suite's S3 server and its per-test view (not its autouse fixtures,
# which install that suite's STORAGES).
s3_server = main_suite.s3_server
s3 = main_suite.s3

ORDERS = {
    # Fallback(fs, ReadOnly(s3))
    "local-first": {"backends": ["local", "production"]},
    # Fallback(ReadOnly(s3), fs): the design's order
    "production-first": {"backends": ["production", "local"], "writable": "local"},
}
CDN = "https://cdn.production.example"

# (test, order, operation, counts) of every measured operation, for the summary.
MEASURED: list[tuple[str, str, str, dict[str, int]]] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "apps(*modules): the apps a test needs (a failure under CI=true if missing)"
    )
    if django_settings.SETTINGS_MODULE != "tests_apps.settings":
        pytest.exit(
            "the apps suite needs its own settings: tox -e apps, or "
            "pytest tests_apps --ds=tests_apps.settings",
            returncode=4,
        )


@pytest.fixture(autouse=True)
def _required_apps(request: pytest.FixtureRequest) -> None:
    for marker in request.node.iter_markers("apps"):
        for module in marker.args:
            if module in django_settings.MISSING_APPS:
                missing(f"{module} is not installed (tox -e apps installs the pinned apps)")


@pytest.fixture(autouse=True)
def _close_wagtails_rendition_buffers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Wagtail 8.0.1 never closes the SpooledTemporaryFile it renders each
    rendition into (``Image.generate_rendition_file``), whatever the storage.
    Close those buffers, and only those, when the test ends: any other
    unclosed file still fails the suite under ``-W error``."""
    if "wagtail" in django_settings.MISSING_APPS:
        yield
        return
    import wagtail.images.models

    buffers: list[tempfile.SpooledTemporaryFile[bytes]] = []

    class RenditionBuffer(tempfile.SpooledTemporaryFile[bytes]):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            buffers.append(self)

    monkeypatch.setattr(wagtail.images.models, "SpooledTemporaryFile", RenditionBuffer)
    yield
    for buffer in buffers:
        buffer.close()


def _counts(expected: str) -> Counter[str]:
    """``"4 HEAD, 1 GET"`` as ``Counter({"HEAD": 4, "GET": 1})``; ``"none"``: nothing."""
    if expected == "none":
        return Counter()
    return Counter(
        {method: int(count) for count, method in (part.split() for part in expected.split(", "))}
    )


def jpeg(color: str = "red", size: tuple[int, int] = (640, 480)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


@dataclass
class Production:
    """The production bucket: seeded before a test, proved untouched after."""

    s3: Any
    order: str
    test: str
    seeded: dict[str, bytes] = field(default_factory=dict)

    def put(self, key: str, body: bytes) -> None:
        self.s3.put(key, body)
        self.seeded[key] = body

    @contextmanager
    def operation(
        self, label: str, expected: str, *, production_first: str | None = None
    ) -> Iterator[Counter[str]]:
        """The block sends ``expected`` requests to production, e.g. ``"4 HEAD,
        1 GET"`` or ``"none"`` (``production_first``'s in that order, if
        given): docs/apps.rst's table. A listing is a LIST, not a GET. A
        storage request budget holds them (a failure lists the requests and
        the lines that sent them), and the server's own count agrees. No
        mutating request may reach production."""
        if self.order == "production-first" and production_first is not None:
            expected = production_first
        budget = assert_storage_requests(sum(_counts(expected).values()))
        self.s3.server.clear_requests()
        counts: Counter[str] = Counter()
        with budget:
            yield counts
        counts.update(
            "LIST" if r.method == "GET" and not r.key else r.method  # a bucket GET lists
            for r in self.s3.server.requests(PRODUCTION_BUCKET)
        )
        mutations = self.s3.server.mutations(PRODUCTION_BUCKET)
        assert mutations == [], f"{label}: mutating requests to production: {mutations}"
        assert self.s3.server.requests() == self.s3.server.requests(PRODUCTION_BUCKET)
        MEASURED.append((self.test, self.order, label, dict(counts)))
        recorded = Counter(
            "LIST" if r.operation.startswith("List") else r.method for r in budget.requests
        )
        assert recorded == counts, f"{label}: recorded {recorded}, the server received {counts}"
        assert counts == _counts(expected), f"{label}: expected {expected}:\n{budget.message()}"

    def assert_untouched(self) -> None:
        """Byte-identical to what was seeded."""
        assert self.s3.snapshot() == self.seeded


@dataclass
class Media:
    """The stack under test (``STORAGES["default"]``) and its local layer."""

    order: str
    root: Path
    production: Production

    @property
    def stack(self) -> Any:
        return storages["default"]

    @property
    def local(self) -> Any:
        return storages["local"]

    def local_files(self) -> set[str]:
        return {str(path.relative_to(self.root)) for path in self.root.rglob("*") if path.is_file()}


@pytest.fixture(params=list(ORDERS), ids=list(ORDERS))
def media(
    request: pytest.FixtureRequest, s3: Any, settings: Any, tmp_path: Path
) -> Iterator[Media]:
    """STORAGES with the stack as "default", in one layer order, production on moto."""
    root = tmp_path / "media"
    root.mkdir()
    production = Production(s3, request.param, request.node.originalname)
    settings.MEDIA_ROOT = str(root)
    settings.STATIC_ROOT = str(tmp_path / "static")
    settings.STORAGES = {
        "default": {"BACKEND": "storage_mixins.FallbackStorage", "OPTIONS": ORDERS[request.param]},
        "local": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": "/media/"},
        },
        "production": s3.settings(
            custom_domain=CDN.removeprefix("https://"), querystring_auth=False
        ),
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    _reset_app_caches()
    yield Media(request.param, root, production)
    _reset_app_caches()


def _reset_app_caches() -> None:
    """Apps keep storages they looked up once, and renditions or thumbnails in
    the cache; a test's STORAGES and files are its own."""
    from django.core.cache import caches
    from django.utils.functional import empty

    for cache in caches.all():
        cache.clear()

    if "sorl.thumbnail" not in django_settings.MISSING_APPS:
        from sorl.thumbnail import default, images

        default.storage._wrapped = empty
        default.kvstore._wrapped = empty
        images.get_or_create_storage.cache_clear()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not MEASURED:
        return
    terminalreporter.section("S3 requests to production, per operation")
    for test, order, label, counts in MEASURED:
        shown = ", ".join(f"{method} {count}" for method, count in sorted(counts.items()))
        terminalreporter.write_line(f"{order:>16}  {test}: {label}: {shown or 'none'}")
