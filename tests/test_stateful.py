"""Model-based stateful tests: hypothesis drives each stack through random
sequences of storage calls and checks every answer against a plain-Python model
of its layers, while the S3 server proves that production received no write.

Profiles (``HYPOTHESIS_PROFILE``, registered in ``tests/conftest.py``): ``ci``
(the default; derandomized, a few hundred steps per stack) and ``long``
(10,000+ steps per stack). A failure prints the shrunk sequence of calls.
"""

from __future__ import annotations

import logging
import pathlib
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.test import override_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from storage_mixins import Caching, Fallback, FallbackStorage, Logging, ReadOnly, ReadOnlyError
from storage_mixins.wrappers.fallback.tombstones import TOMBSTONE_PREFIX, marker_name
from tests.conftest import PRODUCTION_BUCKET
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.reliability

LARGE = bytes(range(256)) * 4400  # 1.1 MB: more than one chunk everywhere

# The read-only layer: seeded once, never changed.
PRODUCTION = {
    "a.txt": b"production a",
    "empty.txt": b"",
    "d/a.txt": b"production d/a",
    "d/e/big.bin": LARGE,
    "f/b.txt": b"production f/b",
}
DIRECTORIES = ["", "d", "d/e", "f"]
# Few names, half of them in production, so that sequences revisit them.
NAMES = [*PRODUCTION, "b.txt", "d/b.txt", "d/e/a.txt", "f/a.txt", "new.bin"]

names = st.sampled_from(NAMES)
data = st.one_of(
    st.binary(max_size=40),
    st.just(b""),
    st.integers(0, 255).map(lambda byte: bytes([byte]) * (1024 * 1024 + 17)),
)


@dataclass
class Model:
    """What a stack of a local layer and the read-only production layer must answer."""

    local_first: bool
    hide: bool
    local: dict[str, bytes] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)
    # FileSystemStorage never removes a directory, even once empty.
    local_directories: set[str] = field(default_factory=set)

    # ``reachable=False``: the answers of the stack while production is down
    # and skipped (on_error="skip").

    def layers(self, reachable: bool = True) -> list[dict[str, bytes]]:
        production = PRODUCTION if reachable else {}
        return [self.local, production] if self.local_first else [production, self.local]

    def content(self, name: str, reachable: bool = True) -> bytes | None:
        label = self.serving(name, reachable)
        return None if label is None else (self.local if label == "local" else PRODUCTION)[name]

    def serving(self, name: str, reachable: bool = True) -> str | None:
        if name in self.hidden:
            return None
        for label, layer in zip(self.labels(), self.layers(reachable), strict=True):
            if name in layer:
                return label
        return None

    def labels(self) -> list[str]:
        return ["local", "production"] if self.local_first else ["production", "local"]

    def shadowed(self, name: str) -> bool:
        """Whether a write of ``name`` is refused: production comes first and has it."""
        return not self.local_first and name in PRODUCTION

    def is_free(self, name: str) -> bool:
        if name in self.local:
            return False
        if name in PRODUCTION:
            return name in self.hidden and not self.shadowed(name)
        return True

    def write(self, name: str, content: bytes) -> None:
        self.local[name] = content
        self.hidden.discard(name)
        self.made_directories_for(name)

    def made_directories_for(self, name: str) -> None:
        parts = name.split("/")[:-1]
        self.local_directories.add("")
        self.local_directories.update("/".join(parts[: i + 1]) for i in range(len(parts)))

    def has_local_directory(self, path: str) -> bool:
        return path in self.local_directories

    def delete(self, name: str) -> None:
        if name in self.hidden:
            return
        if name in self.local:
            del self.local[name]
        if self.hide and name in PRODUCTION:
            self.hidden.add(name)
            self.made_directories_for(marker_name(name))

    def listdir(self, path: str, reachable: bool = True) -> tuple[list[str], list[str]]:
        prefix = f"{path}/" if path else ""
        directories, files = set(), set()
        for name in [*self.local, *(PRODUCTION if reachable else ())]:
            if name.startswith(prefix):
                child, _, rest = name[len(prefix) :].partition("/")
                if rest:
                    directories.add(child)
                elif self.content(name, reachable) is not None:
                    files.add(child)
        for directory in self.local_directories:
            child = directory[len(prefix) :]
            if directory.startswith(prefix) and child and "/" not in child:
                directories.add(child)
        directories.discard(TOMBSTONE_PREFIX.split("/")[0])  # never listed
        return sorted(directories), sorted(files)


@dataclass
class Stack:
    """How to build one stack for one example."""

    id: str
    build: Callable[[FileSystemStorage, Any, Path], Any]
    local_first: bool = True
    hide: bool = False


def fallback(order: str, **options: Any) -> Callable[[Any, Any, Path], Any]:
    def build(local: Any, production: Any, tmp: Path) -> Any:
        layers = (local, ReadOnly(production))
        return Fallback(*(layers if order == "local-first" else layers[::-1]), **options)

    return build


def from_settings(**options: Any) -> Callable[[Any, Any, Path], Any]:
    def build(local: Any, production: Any, tmp: Path) -> Any:
        # FallbackStorage reads FALLBACK_STORAGES when it is built.
        with override_settings(FALLBACK_STORAGES=[local_settings(local), s3_settings(production)]):
            return FallbackStorage(**options)

    return build


def cached(build: Callable[[Any, Any, Path], Any]) -> Callable[[Any, Any, Path], Any]:
    def build_cached(local: Any, production: Any, tmp: Path) -> Any:
        contents = FileSystemStorage(location=tmp / "contents-cache")
        return Logging(
            Caching(build(local, production, tmp), contents=contents),
            logger=STACK_LOGGER,
            level=logging.INFO,
        )

    return build_cached


def local_settings(local: FileSystemStorage) -> dict[str, Any]:
    return {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": local.location, "base_url": local.base_url},
    }


def s3_settings(production: Any) -> dict[str, Any]:
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": production.bucket_name,
            "endpoint_url": production.endpoint_url,
            "access_key": "testing",
            "secret_key": "testing",
            "region_name": "us-east-1",
            "addressing_style": "path",
            "querystring_auth": False,
            "file_overwrite": False,
        },
    }


STACK_LOGGER = "storage_mixins.tests.stateful"

STACKS = [
    Stack("Fallback(fs, ReadOnly(s3))", fallback("local-first")),
    Stack("Fallback(ReadOnly(s3), fs)", fallback("production-first"), local_first=False),
    Stack("FallbackStorage from settings", from_settings()),
    Stack("Logging(Caching(Fallback(fs, ReadOnly(s3))))", cached(fallback("local-first"))),
    Stack(
        "Logging(Caching(Fallback(ReadOnly(s3), fs)))",
        cached(fallback("production-first")),
        local_first=False,
    ),
    Stack("Logging(Caching(FallbackStorage from settings))", cached(from_settings())),
    Stack("Fallback(fs, ReadOnly(s3), hide)", fallback("local-first", on_delete="hide"), hide=True),
    Stack(
        "Fallback(ReadOnly(s3), fs, hide)",
        fallback("production-first", on_delete="hide"),
        local_first=False,
        hide=True,
    ),
    Stack("FallbackStorage(on_delete=hide)", from_settings(on_delete="hide"), hide=True),
    Stack(
        "Logging(Caching(Fallback(fs, ReadOnly(s3), hide)))",
        cached(fallback("local-first", on_delete="hide")),
        hide=True,
    ),
    Stack(
        "Logging(Caching(Fallback(ReadOnly(s3), fs, hide)))",
        cached(fallback("production-first", on_delete="hide")),
        local_first=False,
        hide=True,
    ),
    Stack(
        "Logging(Caching(FallbackStorage(on_delete=hide)))",
        cached(from_settings(on_delete="hide")),
        hide=True,
    ),
]


# Under faults: the breaker probes on every call (retry_after=0), so the
# answers after the network heals are exact; breaker timing is tested in
# test_failover.py.
FAILOVER = {"failures": 1, "retry_after": 0}
FAULT_STACKS = [
    (
        Stack(
            "Fallback(fs, ReadOnly(s3), on_error=skip)",
            fallback("local-first", on_error="skip", **FAILOVER),
        ),
        "skip",
    ),
    (Stack("Fallback(fs, ReadOnly(s3), on_error=raise)", fallback("local-first")), "raise"),
    (
        Stack(
            "Fallback(ReadOnly(s3), fs, on_error=skip, hide)",
            fallback("production-first", on_error="skip", on_delete="hide", **FAILOVER),
            local_first=False,
            hide=True,
        ),
        "skip",
    ),
    (
        Stack(
            "Logging(Caching(Fallback(fs, ReadOnly(s3), on_error=skip, hide)))",
            cached(fallback("local-first", on_error="skip", on_delete="hide", **FAILOVER)),
            hide=True,
        ),
        "skip",
    ),
]


class StackMachine(RuleBasedStateMachine):
    """One example: a fresh local layer and cache over the seeded production bucket.

    Each rule calls the stack once and compares the outcome, an answer or the
    type of an exception, with the model's; a write updates the model only
    once the stack has done it.
    """

    stack_spec: Stack
    s3: Any
    endpoint_url: str | None = None  # where the stack reaches S3, if not directly

    def __init__(self) -> None:
        super().__init__()
        from django.core.cache import caches

        caches["default"].clear()
        self.tmp = Path(tempfile.mkdtemp(prefix="stateful-"))
        self.local = FileSystemStorage(location=self.tmp / "local", base_url="/local/")
        # The model's view of production; the stack's may go through a proxy.
        self.production = self.s3.storage(querystring_auth=False)
        self.stacks_production = self.production
        if self.endpoint_url is not None:
            self.stacks_production = self.s3.storage(
                querystring_auth=False, endpoint_url=self.endpoint_url, client_config=one_try()
            )
        self.stack = self.stack_spec.build(self.local, self.stacks_production, self.tmp)
        self.model = Model(local_first=self.stack_spec.local_first, hide=self.stack_spec.hide)

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def check(
        self, call: Callable[[], Any], expected: Callable[[bool], Any], *, writes: bool = False
    ) -> bool:
        """Run ``call``: its outcome must be ``expected(True)``, or, where a
        fault allows it, a documented error or ``expected(False)`` (the answer
        with production skipped). Whether the call succeeded."""
        outcome = outcome_of(call)
        if outcome != expected(True) and not self.tolerated(outcome, expected, writes=writes):
            if isinstance(outcome, Raised) and outcome.exception is not None:
                raise AssertionError(f"expected {expected(True)!r}") from outcome.exception
            raise AssertionError(f"{outcome!r} != expected {expected(True)!r}")
        return not isinstance(outcome, Raised)

    def tolerated(
        self, outcome: Any, expected: Callable[[bool], Any] | None, *, writes: bool
    ) -> bool:
        """Whether an outcome other than the model's is allowed: never, without faults."""
        return False

    def names_offline(self) -> bool:
        """Whether a new name may be an offline one (production is down under
        on_error="skip": no name is known to be free in it)."""
        return False

    def is_offline_name(self, name: str, chosen: str) -> bool:
        """Whether ``chosen`` is an offline name for ``name``, and allowed now."""
        directory, _, base = name.rpartition("/")
        ext = "".join(pathlib.PurePosixPath(base).suffixes)
        offline = re.escape(base.removesuffix(ext)) + "_offline_[0-9a-f]{24}" + re.escape(ext)
        prefix = re.escape(f"{directory}/" if directory else "")
        return self.names_offline() and re.fullmatch(prefix + offline, chosen) is not None

    def check_raised(self, outcome: Raised) -> None:
        """For calls that choose a name (writes), whose success is checked by hand."""
        if not self.tolerated(outcome, None, writes=True):
            outcome.reraise()

    # -- writes ----------------------------------------------------------------

    @rule(name=names, content=data)
    def save(self, name: str, content: bytes) -> None:
        free = self.model.is_free(name)
        outcome = outcome_of(lambda: self.stack.save(name, ContentFile(content)))
        if isinstance(outcome, Raised):
            self.check_raised(outcome)
            return
        saved = outcome
        if self.is_offline_name(name, saved):
            assert self.model.is_free(saved)
        elif free:
            assert saved == name
        else:
            stem = name.rsplit(".", 1)[0]
            assert saved != name and saved.startswith(stem + "_"), saved
            assert self.model.is_free(saved)
        self.model.write(saved, content)

    @rule(name=names, content=data)
    def open_write(self, name: str, content: bytes) -> None:
        refused = self.model.shadowed(name)
        if self.check(
            lambda: write(self.stack, name, "wb", content),
            lambda reachable: Raised(ReadOnlyError) if refused else None,
            writes=True,
        ):
            self.model.write(name, content)

    @rule(name=names, content=data)
    def open_append(self, name: str, content: bytes) -> None:
        before = self.model.content(name) or b""  # copied up from production if need be
        refused = self.model.shadowed(name)
        if self.check(
            lambda: write(self.stack, name, "ab", content),
            lambda reachable: Raised(ReadOnlyError) if refused else None,
            writes=True,
        ):
            self.model.write(name, before + content)

    @rule(name=names)
    def delete(self, name: str) -> None:
        if self.check(lambda: self.stack.delete(name), lambda reachable: None, writes=True):
            self.model.delete(name)

    # -- reads -----------------------------------------------------------------

    @rule(name=names)
    def open_read(self, name: str) -> None:
        def expected(reachable: bool) -> Any:
            content = self.model.content(name, reachable)
            return Raised(FileNotFoundError) if content is None else content

        self.check(lambda: read(self.stack, name), expected)

    @rule(name=names)
    def exists(self, name: str) -> None:
        self.check(
            lambda: self.stack.exists(name),
            lambda reachable: self.model.content(name, reachable) is not None,
        )

    @rule(name=names)
    def size(self, name: str) -> None:
        def expected(reachable: bool) -> Any:
            content = self.model.content(name, reachable)
            return Raised(FileNotFoundError) if content is None else len(content)

        self.check(lambda: self.stack.size(name), expected)

    @rule(name=names)
    def get_modified_time(self, name: str) -> None:
        def expected(reachable: bool) -> Any:
            layer = self.layer(self.model.serving(name, reachable))
            return Raised(FileNotFoundError) if layer is None else layer.get_modified_time(name)

        self.check(lambda: self.stack.get_modified_time(name), expected)

    @rule(path=st.sampled_from([*DIRECTORIES, "nowhere"]))
    def listdir(self, path: str) -> None:
        def expected(reachable: bool) -> Any:
            if not reachable and not self.model.has_local_directory(path):
                return Raised(FileNotFoundError)  # S3 lists any prefix; only it was asked
            return self.model.listdir(path, reachable)

        self.check(lambda: tuple(sorted(part) for part in self.stack.listdir(path)), expected)

    @rule(name=names)
    def url(self, name: str) -> None:
        def expected(reachable: bool) -> Any:
            # The serving layer's URL; for a missing file, the last layer's.
            label = self.model.serving(name, reachable) or self.model.labels()[-1]
            return (self.stacks_production if label == "production" else self.local).url(name)

        self.check(lambda: self.stack.url(name), expected)

    @rule(name=names)
    def get_available_name(self, name: str) -> None:  # chooses a name for a write
        outcome = outcome_of(lambda: self.stack.get_available_name(name))
        if isinstance(outcome, Raised):
            self.check_raised(outcome)
            return
        assert self.model.is_free(outcome)
        if self.model.is_free(name) and not self.is_offline_name(name, outcome):
            assert outcome == name

    def layer(self, label: str | None) -> Any:
        return {"local": self.local, "production": self.production, None: None}[label]

    # -- invariants ------------------------------------------------------------

    @invariant()
    def production_is_unchanged(self) -> None:
        assert self.s3.server.mutations(PRODUCTION_BUCKET) == []
        assert etags(self.s3) == SEEDED_ETAGS

    @invariant()
    def local_disk_holds_exactly_the_model(self) -> None:
        """No temporary or partial file, no stray tombstone, nothing lost."""
        expected = dict(self.model.local)
        expected.update({marker_name(name): b"" for name in self.model.hidden})
        assert files_on_disk(Path(self.local.location)) == expected


@dataclass(frozen=True)
class Raised:
    """An outcome: the call raised an exception of this type (or a subclass)."""

    type: type[BaseException]
    exception: BaseException | None = field(default=None, compare=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Raised) and (
            issubclass(self.type, other.type) or issubclass(other.type, self.type)
        )

    def __hash__(self) -> int:
        return 0

    def reraise(self) -> Any:
        assert self.exception is not None
        raise self.exception


def outcome_of(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - compared with the model's outcome
        return Raised(type(exc), exc)


def write(stack: Any, name: str, mode: str, content: bytes) -> None:
    with stack.open(name, mode) as handle:
        handle.write(content)


def read(stack: Any, name: str) -> bytes:
    with stack.open(name, "rb") as handle:
        return handle.read()


class FaultMachine(StackMachine):
    """The same rules, with S3 reached through a proxy that a rule can make
    drop or reset connections, answer 500 or 503, or delay.

    While the network is faulty, a call may raise a documented transport error
    (under on_error="skip", only a write may), and under "skip" a read may
    answer as if production had no files, and a new file be given an offline
    name. Everything else must match the model, and the invariants hold after
    every step.
    """

    proxy: FaultProxy
    on_error: str
    faulty = False

    def __init__(self) -> None:
        self.proxy.set_mode("ok")
        super().__init__()

    @rule(mode=st.sampled_from(["ok", "ok", "delay", "drop", "reset", "500", "503"]))
    def network(self, mode: str) -> None:
        self.proxy.set_mode(mode)  # type: ignore[arg-type]
        self.faulty = mode not in ("ok", "delay")

    def names_offline(self) -> bool:
        return self.faulty and self.on_error == "skip"

    def tolerated(
        self, outcome: Any, expected: Callable[[bool], Any] | None, *, writes: bool
    ) -> bool:
        if not self.faulty:
            return False
        if self.on_error == "skip" and expected is not None and outcome == expected(False):
            return True  # the answer without production
        if isinstance(outcome, Raised) and outcome.exception is not None:
            if self.on_error == "skip" and not writes:
                return False  # a read skips the layer that is down, it does not fail
            return is_documented_transport_error(outcome.exception)
        return False

    def teardown(self) -> None:
        self.proxy.set_mode("ok")
        super().teardown()


def one_try() -> Any:
    """A client config without retries, so that each fault surfaces."""
    from botocore.config import Config

    return Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=2)


def is_documented_transport_error(exc: BaseException) -> bool:
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        return 500 <= exc.response["ResponseMetadata"]["HTTPStatusCode"] < 600
    transport = (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )
    return isinstance(exc, transport)


SEEDED_ETAGS: dict[str, tuple[str, int]] = {}


def etags(s3: Any) -> dict[str, tuple[str, int]]:
    """Every key of the production bucket with its ETag (the MD5 of its bytes) and size."""
    listing = s3.client.list_objects_v2(Bucket=PRODUCTION_BUCKET)
    return {e["Key"]: (e["ETag"], e["Size"]) for e in listing.get("Contents", ())}


def files_on_disk(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


@pytest.fixture(scope="module")
def production(s3_for_module: Any) -> Iterator[Any]:
    for key, content in PRODUCTION.items():
        s3_for_module.put(key, content)
    SEEDED_ETAGS.clear()
    SEEDED_ETAGS.update(etags(s3_for_module))
    s3_for_module.server.clear_requests()
    yield s3_for_module
    assert s3_for_module.snapshot() == PRODUCTION


@pytest.fixture
def stack_log() -> Iterator[Counter[str]]:
    """Count the records the Logging wrapper emits (formatting each one)."""
    counts: Counter[str] = Counter()

    class Counting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            self.format(record)
            counts[record.storage_call] += 1  # type: ignore[attr-defined]

    logger = logging.getLogger(STACK_LOGGER)
    handler = Counting()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield counts
    logger.removeHandler(handler)


@pytest.mark.parametrize("stack", STACKS, ids=[stack.id for stack in STACKS])
def test_stack_matches_its_model(
    stack: Stack,
    production: Any,
    stack_log: Counter[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    production.server.clear_requests()
    machine = type(
        "StackMachine_" + stack.id, (StackMachine,), {"stack_spec": stack, "s3": production}
    )
    run_state_machine_as_test(machine)

    counts = production.server.counts(PRODUCTION_BUCKET)
    assert production.server.mutations(PRODUCTION_BUCKET) == []
    with capsys.disabled():
        print(f"\n  {stack.id}: S3 requests {dict(sorted(counts.items()))}, mutating 0")
    if "Logging" in stack.id:
        assert stack_log["save"] > 0 and stack_log["exists"] > 0


@pytest.fixture(scope="module")
def fault_proxy(production: Any) -> Iterator[FaultProxy]:
    with FaultProxy(production.server.endpoint_url) as proxy:
        yield proxy


@pytest.mark.parametrize(
    ("stack", "on_error"), FAULT_STACKS, ids=[stack.id for stack, _ in FAULT_STACKS]
)
def test_stack_matches_its_model_under_faults(
    stack: Stack,
    on_error: str,
    production: Any,
    fault_proxy: FaultProxy,
    stack_log: Counter[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    production.server.clear_requests()
    fault_proxy.reset_counts()
    machine = type(
        "FaultMachine_" + stack.id,
        (FaultMachine,),
        {
            "stack_spec": stack,
            "s3": production,
            "endpoint_url": fault_proxy.endpoint_url,
            "proxy": fault_proxy,
            "on_error": on_error,
        },
    )
    run_state_machine_as_test(machine)

    assert production.server.mutations(PRODUCTION_BUCKET) == []
    faults = dict(sorted(fault_proxy.counts().items()))
    with capsys.disabled():
        print(f"\n  {stack.id}: requests through the proxy {faults}, mutating 0")
    assert set(faults) - {"ok", "delay"}, "no fault was injected"
