"""The storage contract (tests/conformance.py) over django-storages' Azure
backend on Azurite and its Google Cloud backend on gcp-storage-emulator, without
boto3: what a site with only the ``azure`` or ``google`` extra installed runs.

The ``backends`` tox environment runs this module (marker ``backends``); the
emulators are started by the tests, on loopback, and stopped by pid. Every
stack reaches its emulator through a counting proxy, and after each test no
write may have reached a layer behind ``ReadOnly``.
"""

from __future__ import annotations

import contextvars
import importlib.util
import itertools
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from storage_mixins import Caching, Fallback, ReadOnly, StorageWrapper
from storage_mixins.core.labels import storage_label
from storage_mixins.core.stack import children
from tests.conformance import ReadContract, ReadOnlyContract, Subject, WriteContract, read
from tests.conftest import free_port, missing, require_component, require_module
from tests.emulators import (
    AZURITE,
    Azurite,
    GcsEmulator,
    WriteCounter,
    anonymous_gcs_client,
)
from tests.faultproxy import FaultProxy
from tests.test_conformance import READ_ONLY_SHAPES, WRITABLE_SHAPES

# google-auth looks for a metadata server when it looks for credentials: point
# it at a closed loopback port, so that no probe leaves the machine.
os.environ.update(GCE_METADATA_HOST="127.0.0.1:1", GCE_METADATA_IP="127.0.0.1:1")
# google-cloud-storage 3 fetches a bucket's metadata (for its OpenTelemetry
# attributes) in a thread of its own, at a time of its own, the first time a
# client uses the bucket: a request no recording can count (docs/testing.rst).
os.environ["DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA"] = "true"
os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)

pytestmark = [
    pytest.mark.backends,
    # django-storages 1.14.6: AzureStorage.__init__ calls datetime.utcnow().
    pytest.mark.filterwarnings(
        r"ignore:datetime\.datetime\.utcnow\(\) is deprecated:DeprecationWarning:"
        r"storages\.backends\.azure_storage"
    ),
]

KINDS = ["azure", "gcs"]
_names = itertools.count()


class Cloud:
    """One emulator, a counting proxy in front of it, and storages on fresh
    containers (buckets)."""

    def __init__(self, kind: str, emulator: Any) -> None:
        self.kind = kind
        self.emulator = emulator
        self.counter = WriteCounter(kind)
        self.proxy = FaultProxy(emulator.url, on_request=self.counter).start()
        self.gcs_client = anonymous_gcs_client(emulator.url) if kind == "gcs" else None

    def stop(self) -> None:
        self.proxy.stop()

    def make(self, role: str) -> tuple[Any, Any]:
        """A storage on a new container, as the stack sees it (through the
        proxy), and one on the same container for the test's own use (direct)."""
        container = f"{role}-{next(_names)}"
        if self.kind == "azure":
            direct = self._azure(container, self.emulator.connection_string())
            direct.client.create_container()
            return self._azure(container, self.emulator.connection_string(self.proxy_url)), direct
        self.gcs_client.create_bucket(container)
        return self._gcs(container, self.proxy_url), self._gcs(container, self.emulator.url)

    @property
    def proxy_url(self) -> str:
        return self.proxy.endpoint_url

    @staticmethod
    def _azure(container: str, connection_string: str) -> Any:
        from storages.backends.azure_storage import AzureStorage

        return AzureStorage(connection_string=connection_string, azure_container=container)

    @staticmethod
    def _gcs(bucket: str, endpoint: str) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from storages.backends.gcloud import GoogleCloudStorage

        storage = GoogleCloudStorage(
            bucket_name=bucket,
            project_id="storage-mixins-tests",
            credentials=AnonymousCredentials(),
            querystring_auth=False,  # a signed URL needs a service account's key
            file_overwrite=False,  # as the contract expects (and Django's default)
        )
        # django-storages builds the client from the environment; the test
        # gives it one for this endpoint (the proxy or the emulator) instead.
        storage._client = anonymous_gcs_client(endpoint)
        return storage


def container_name(backend: Any) -> str:
    return getattr(backend, "azure_container", None) or backend.bucket_name


def read_only_backends(storage: Any, guarded: bool = False) -> Iterator[Any]:
    """The raw backends in ``storage`` that only a ``ReadOnly`` can reach."""
    guarded = guarded or isinstance(storage, ReadOnly)
    if isinstance(storage, StorageWrapper):
        for child in children(storage):
            yield from read_only_backends(child, guarded)
    elif guarded:
        yield storage


# -- the emulators ----------------------------------------------------------------


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: Any) -> Iterator[Azurite]:
    require_module("azure.storage.blob", "pip install storage-mixins[azure]")
    binary = require_component(
        os.environ.get("AZURITE_BLOB", str(AZURITE)), "make test installs it: npm ci in tests/node"
    )
    server = Azurite(binary, free_port(), tmp_path_factory.mktemp("azurite")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: Any) -> Iterator[GcsEmulator]:
    require_module("google.cloud.storage", "pip install storage-mixins[google]")
    require_module("gcp_storage_emulator", "pip install gcp-storage-emulator")
    server = GcsEmulator(sys.executable, free_port(), tmp_path_factory.mktemp("gcs")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tally() -> Counter[str]:
    """Requests and writes that reached read-only layers, summed over the session."""
    return Counter()


@pytest.fixture(scope="session")
def clouds(request: pytest.FixtureRequest, tally: Counter[str]) -> Iterator[dict[str, Cloud]]:
    """Each kind's :class:`Cloud`, built when first asked for."""
    built: dict[str, Cloud] = {}

    class Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, kind: str) -> Cloud:
            emulator = request.getfixturevalue("azurite" if kind == "azure" else "gcs_emulator")
            built[kind] = self[kind] = Cloud(kind, emulator)
            return built[kind]

    yield Lazy()
    for cloud in built.values():
        cloud.stop()
    _report(request, built, tally)


def _report(request: pytest.FixtureRequest, built: dict[str, Cloud], tally: Counter[str]) -> None:
    """Print, after the last test, what reached the read-only layers."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for kind, cloud in built.items():
            reporter.write_line(
                f"{kind} emulator: {tally[f'{kind} read-only writes']} writes in "
                f"{tally[f'{kind} read-only requests']} requests reached read-only layers; "
                f"{sum(cloud.counter.writes.values())} writes in "
                f"{sum(cloud.counter.requests.values())} requests through the proxy in all"
            )


# -- subjects ------------------------------------------------------------------------


def build(shape: Callable[..., Subject], cloud: Cloud, tmp_path: Path) -> Subject:
    """``shape``'s subject on ``cloud``; it seeds and checks through direct storages."""
    direct: dict[int, Any] = {}

    def make(role: str) -> Any:
        facing, twin = cloud.make(role)
        direct[id(facing)] = twin
        return facing

    subject = shape(make, tmp_path) if shape in MIXED_SHAPES else shape(make)
    subject.seed_into = direct.get(id(subject.seed_into), subject.seed_into)
    subject.protected = [direct.get(id(backend), backend) for backend in subject.protected]
    return subject


def fs_over_cloud(make: Any, tmp_path: Path) -> Subject:
    cloud = make("production")
    fs = FileSystemStorage(location=tmp_path / "local")
    return Subject(Fallback(fs, ReadOnly(cloud)), seed_into=cloud, writable=True, protected=[cloud])


def cloud_over_fs(make: Any, tmp_path: Path) -> Subject:
    cloud = make("production")
    fs = FileSystemStorage(location=tmp_path / "local")
    return Subject(Fallback(ReadOnly(cloud), fs), seed_into=cloud, writable=True, protected=[cloud])


def cloud_writes_over_fs(make: Any, tmp_path: Path) -> Subject:
    cloud = make("dev")
    fs = FileSystemStorage(location=tmp_path / "archive")
    return Subject(Fallback(cloud, ReadOnly(fs)), seed_into=fs, writable=True, protected=[fs])


MIXED_SHAPES = [fs_over_cloud, cloud_over_fs, cloud_writes_over_fs]


# -- what fails, and why ----------------------------------------------------------

# django-storages' own behaviour, which the transparent shapes (the raw backend
# and ReadOnly over it) pass on as it is.
BACKEND_BEHAVIOUR = {
    ("azure", "test_listdir"): "AzureStorage.listdir() lists every blob under the path by its "
    "full name, and no directories",
    ("azure", "test_save_and_read_back"): "AzureStorage.listdir() lists every blob under the "
    "path by its full name, and no directories",
    ("azure", "test_open_missing_file"): "AzureStorage.open() of a missing blob returns a file; "
    "its first read raises ResourceNotFoundError",
    ("azure", "test_size_of_missing_file"): "AzureStorage.size() of a missing blob raises "
    "azure.core's ResourceNotFoundError, not FileNotFoundError",
    ("gcs", "test_size_of_missing_file"): "GoogleCloudStorage.size() of a missing blob raises "
    "google.api_core's NotFound, not FileNotFoundError",
}
TRANSPARENT_SHAPES = {"raw", "read_only"}


def known_failure(kind: str, shape: str, test: str) -> str | None:
    """Why ``test`` fails on ``shape`` over ``kind``, if it is known to."""
    if shape in TRANSPARENT_SHAPES:
        return BACKEND_BEHAVIOUR.get((kind, test))
    return None


def _matrix(shapes: list[Any]) -> list[Any]:
    return [
        pytest.param((kind, shape), id=f"{shape.__name__}[{kind}]")
        for shape in shapes
        for kind in KINDS
    ]


class _OnEmulators:
    """Subjects built from ``case`` (kind, shape); after each test, no write
    reached a read-only layer, as the emulator's proxy counted."""

    @pytest.fixture
    def cloud(self, case: tuple[str, Any], clouds: dict[str, Cloud]) -> Cloud:
        return clouds[case[0]]

    @pytest.fixture
    def subject(
        self, case: tuple[str, Any], cloud: Cloud, tmp_path: Path, request: pytest.FixtureRequest
    ) -> Subject:
        kind, shape = case
        reason = known_failure(kind, shape.__name__, request.node.originalname)
        if reason is not None:
            request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
        return build(shape, cloud, tmp_path)

    @pytest.fixture(autouse=True)
    def _no_write_reaches_a_read_only_layer(
        self, subject: Subject, cloud: Cloud, tally: Counter[str]
    ) -> Iterator[None]:
        yield
        for backend in read_only_backends(subject.storage):
            if isinstance(backend, FileSystemStorage):
                continue  # the contract's snapshots check it
            container = container_name(backend)
            tally[f"{cloud.kind} read-only requests"] += cloud.counter.requests[container]
            tally[f"{cloud.kind} read-only writes"] += cloud.counter.writes[container]
            assert cloud.counter.writes[container] == 0, f"a write reached {container}"


class TestWritableStacks(_OnEmulators, ReadContract, WriteContract):
    @pytest.fixture(params=_matrix(WRITABLE_SHAPES))
    def case(self, request: pytest.FixtureRequest) -> tuple[str, Any]:
        return request.param


class TestReadOnlyStacks(_OnEmulators, ReadContract, ReadOnlyContract):
    @pytest.fixture(params=_matrix(READ_ONLY_SHAPES))
    def case(self, request: pytest.FixtureRequest) -> tuple[str, Any]:
        return request.param


class TestMixedStacks(_OnEmulators, ReadContract, WriteContract):
    @pytest.fixture(params=_matrix(MIXED_SHAPES))
    def case(self, request: pytest.FixtureRequest) -> tuple[str, Any]:
        return request.param


# -- without boto3 (issue 13 item 9) --------------------------------------------------


def test_boto3_is_not_installed() -> None:
    """This environment is what a site with only the azure or google extra has."""
    if importlib.util.find_spec("boto3") is not None:
        missing("boto3 is installed: run these tests without it (tox -e backends)")


@pytest.mark.parametrize("kind", KINDS)
def test_append_copies_a_cloud_file_up(kind: str, clouds: dict[str, Cloud], tmp_path: Path) -> None:
    cloud = clouds[kind]
    production, direct = cloud.make("production")
    direct.save("notes.txt", ContentFile(b"production"))
    local = FileSystemStorage(location=tmp_path / "local")
    stack = Fallback(local, ReadOnly(production))
    with stack.open("notes.txt", "ab") as handle:
        handle.write(b" + dev")
    assert read(local, "notes.txt") == b"production + dev"
    assert read(direct, "notes.txt") == b"production"
    assert cloud.counter.writes[container_name(production)] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_caching_keeps_local_copies_of_cloud_files(
    kind: str, clouds: dict[str, Cloud], tmp_path: Path
) -> None:
    cloud = clouds[kind]
    production, direct = cloud.make("production")
    direct.save("photo.jpg", ContentFile(b"\x89PNG"))
    copies = FileSystemStorage(location=tmp_path / "copies")
    cached = Caching(ReadOnly(production), contents=copies)
    for _ in range(2):
        with cached.open("photo.jpg") as handle:
            assert handle.read() == b"\x89PNG"
    (copy,) = (path for path in Path(copies.location).rglob("photo.jpg"))
    assert copy.read_bytes() == b"\x89PNG"
    assert cloud.counter.writes[container_name(production)] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_listings_of_cloud_storages(kind: str, clouds: dict[str, Cloud]) -> None:
    from storage_mixins.backends.listers import lister_for
    from storage_mixins.backends.listing import ListdirLister

    production, direct = clouds[kind].make("production")
    direct.save("photos/a.jpg", ContentFile(b"x"))
    lister = lister_for(ReadOnly(production))
    assert isinstance(lister, ListdirLister)
    assert [entry.name for entry in lister.walk("")] == ["photos/a.jpg"]


def test_azure_under_a_location_is_listed_by_base_names(
    clouds: dict[str, Cloud], tmp_path: Path
) -> None:
    from storages.backends.azure_storage import AzureStorage

    cloud = clouds["azure"]
    _facing, direct = cloud.make("located")
    container = direct.azure_container
    direct.save("elsewhere/x.txt", ContentFile(b"not under the location"))
    seeder, production = (
        AzureStorage(connection_string=string, azure_container=container, location="media")
        for string in (
            cloud.emulator.connection_string(),
            cloud.emulator.connection_string(cloud.proxy_url),
        )
    )
    seeder.save("photos/2024/a.jpg", ContentFile(b"a"))
    seeder.save("photos/b.jpg", ContentFile(b"b"))
    local = FileSystemStorage(location=tmp_path / "local")
    local.save("photos/c.jpg", ContentFile(b"c"))
    stack = Fallback(local, ReadOnly(production))
    assert stack.listdir("") == (["photos"], [])
    directories, files = stack.listdir("photos")
    assert (directories, sorted(files)) == (["2024"], ["b.jpg", "c.jpg"])
    with pytest.raises(FileNotFoundError):
        stack.open("photos/missing.jpg")
    assert read(stack, "photos/c.jpg") == b"c"
    assert read(stack, "photos/b.jpg") == b"b"
    assert cloud.counter.writes[container] == 0


# -- requests counted where the SDKs send them (issue 27) -------------------------------


def _workload(stack: Any) -> None:
    """Reads of every kind, through a stack whose production layer is remote."""
    assert stack.exists("photos/a.jpg")
    assert not stack.exists("photos/missing.jpg")
    assert stack.size("photos/a.jpg") == 1
    assert read(stack, "photos/b.jpg") == b"b"
    stack.listdir("photos")


def _remote_stack(cloud: Cloud, tmp_path: Path) -> tuple[Any, Any, Any]:
    """``Fallback(local, ReadOnly(production))``, production seeded; the
    production storage and its container.

    Seeded through the proxy: the Google Cloud emulator gives each object a
    download link on the host it was uploaded through, which a read then uses."""
    production, _direct = cloud.make("production")
    production.save("photos/a.jpg", ContentFile(b"a"))
    production.save("photos/b.jpg", ContentFile(b"b"))
    local = FileSystemStorage(location=tmp_path / "local")
    return Fallback(local, ReadOnly(production)), production, container_name(production)


KIND_NAMES = {"azure": "Azure", "gcs": "GCS"}
METADATA_METHOD = {"azure": "HEAD", "gcs": "GET"}  # an object's properties


@pytest.mark.parametrize("kind", KINDS)
def test_requests_are_counted_where_the_sdk_sends_them(
    kind: str, clouds: dict[str, Cloud], tmp_path: Path
) -> None:
    """The budget's count is the emulator's, request by request: no estimate."""
    from storage_mixins.testing import assert_max_storage_requests, assert_storage_requests

    cloud = clouds[kind]
    stack, production, container = _remote_stack(cloud, tmp_path)
    for attempt in range(2):  # the first makes the SDK's clients
        before = cloud.counter.requests[container]
        with assert_max_storage_requests(99) as budget:
            _workload(stack)
        sent = cloud.counter.requests[container] - before
        assert len(budget.requests) == sent > 4, attempt
        assert budget.recording is not None
        assert budget.recording.requests == {KIND_NAMES[kind]: sent}
        assert {request.storage for request in budget.requests} == {production}
        calls = [request.call and request.call.method for request in budget.requests]
        assert calls == ["exists", "exists", "size", "open", None, "listdir"]  # None: a read
    with assert_storage_requests(sent, kind=KIND_NAMES[kind]):
        _workload(stack)
    targets = [request.target for request in budget.requests]
    assert targets[:3] == ["photos/a.jpg", "photos/missing.jpg", "photos/a.jpg"]
    assert targets[-1] == "photos/"
    assert (
        budget.requests[0]
        .describe()
        .startswith(
            f"{METADATA_METHOD[kind]} photos/a.jpg ({KIND_NAMES[kind]}) to {storage_label(production)}, "
            "in Fallback.exists('photos/a.jpg'), from tests/test_backends.py:"
        )
    )


@pytest.mark.parametrize("kind", KINDS)
def test_threads_on_behalf_of_the_block_count_an_unrelated_one_does_not(
    kind: str, clouds: dict[str, Cloud], tmp_path: Path
) -> None:
    from storage_mixins.observability.recording import record

    cloud = clouds[kind]
    stack, _production, container = _remote_stack(cloud, tmp_path)
    stack.exists("photos/a.jpg")  # the SDK's clients are made
    unrelated = threading.Thread(target=_workload, args=(stack,))
    before = cloud.counter.requests[container]
    with record() as recording:
        unrelated.start()
        context = contextvars.copy_context()
        with ThreadPoolExecutor(max_workers=2) as pool:
            pool.submit(context.run, stack.exists, "photos/a.jpg").result()
        async_to_sync(sync_to_async(stack.size))("photos/a.jpg")
        unrelated.join()
    sent = cloud.counter.requests[container] - before
    assert recording.requests == {KIND_NAMES[kind]: 2}
    assert sent > 2  # and the unrelated thread's


@pytest.mark.parametrize("kind", KINDS)
def test_a_configured_storage_without_a_wrapper_is_counted(
    kind: str, clouds: dict[str, Cloud], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.files.storage import storages

    from storage_mixins.observability.recording import record

    cloud = clouds[kind]
    production, _direct = cloud.make("production")
    production.save("a.txt", ContentFile(b"a"))
    monkeypatch.setitem(storages._storages, "production", production)  # as Django built it
    container = container_name(production)
    before = cloud.counter.requests[container]
    with record(detail=True) as recording:
        assert production.exists("a.txt")
        assert production.size("a.txt") == 1
    assert recording.call_count == 0  # no wrapper: no calls
    assert recording.requests == {KIND_NAMES[kind]: cloud.counter.requests[container] - before}
    assert (
        recording.backend_requests[0]
        .describe()
        .startswith(
            f"{METADATA_METHOD[kind]} a.txt ({KIND_NAMES[kind]}) to production, "
            "outside any storage call, from "
            "tests/test_backends.py:"
        )
    )


def test_a_google_cloud_client_made_in_the_first_call_is_counted(
    clouds: dict[str, Cloud], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """django-storages makes the client on first use: here, inside the recorded
    call (google-cloud-storage finds the endpoint in STORAGE_EMULATOR_HOST)."""
    from google.auth.credentials import AnonymousCredentials
    from storages.backends.gcloud import GoogleCloudStorage

    from storage_mixins.observability.recording import record

    cloud = clouds["gcs"]
    facing, direct = cloud.make("production")
    facing.save("a.txt", ContentFile(b"a"))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", cloud.proxy_url)
    production = GoogleCloudStorage(
        bucket_name=direct.bucket_name,
        project_id="storage-mixins-tests",
        credentials=AnonymousCredentials(),
    )
    assert production._client is None
    stack = Fallback(FileSystemStorage(location=tmp_path / "local"), ReadOnly(production))
    before = cloud.counter.requests[direct.bucket_name]
    with record() as recording:
        assert stack.size("a.txt") == 1
    assert recording.requests == {"GCS": cloud.counter.requests[direct.bucket_name] - before}
    assert recording.requests["GCS"] > 0
