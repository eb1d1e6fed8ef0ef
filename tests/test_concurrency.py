"""Under real thread concurrency, saves through ``Fallback`` get distinct names that shadow no
production object, and readers through ``Caching`` never see an answer older than the last
completed write: proved against moto's S3 server over HTTP, with no timing assumptions."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import TemporaryUploadedFile

from storage_mixins import Caching, Fallback, ReadOnly
from tests.conformance import read
from tests.conftest import PRODUCTION_BUCKET

pytestmark = pytest.mark.reliability

# -- running threads -----------------------------------------------------------


def run_together(targets: list[Callable[[], None]]) -> list[tuple[str, BaseException]]:
    """Run each target in a thread, started together; the exceptions they raised."""
    start = threading.Barrier(len(targets))
    errors: list[tuple[str, BaseException]] = []

    def run(target: Callable[[], None]) -> None:
        try:
            start.wait(timeout=30)
            target()
        except BaseException as exc:  # noqa: BLE001 - reported by check_no_errors
            errors.append((threading.current_thread().name, exc))

    threads = [
        threading.Thread(target=run, args=(target,), name=f"worker-{index}")
        for index, target in enumerate(targets)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def check_no_errors(errors: list[tuple[str, BaseException]]) -> None:
    """Fail with the first thread's own traceback (as the cause) if any thread raised."""
    if errors:
        summary = "; ".join(f"{thread}: {exc!r}" for thread, exc in errors[:5])
        raise AssertionError(f"{len(errors)} exception(s) in threads: {summary}") from errors[0][1]


# -- 1. concurrent saves of one name -------------------------------------------

SAVERS = 16
SAVES_EACH = 50
NAME = "uploads/report.pdf"


def payload(thread: int, save: int) -> bytes:
    """Unique bytes for each save, of varying length; one in ten spans several chunks."""
    header = f"thread {thread} save {save}\n".encode()
    if save % 10 == 3:
        length = 64 * 1024 + 1 + 997 * thread + save  # > File.DEFAULT_CHUNK_SIZE
    else:
        length = (thread * SAVES_EACH + save) * 37 % 4000
    return header + bytes([(thread * 7 + save) % 251]) * length


@pytest.mark.parametrize("where", ["in production", "nowhere"])
def test_concurrent_saves_of_one_name(
    where: str,
    s3: Any,
    fs: Any,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if where == "in production":
        s3.put(NAME, b"%PDF production report")
    s3.put("uploads/other.pdf", b"%PDF another production file")
    before = s3.snapshot()
    stack = Fallback(fs, ReadOnly(s3.storage()))
    saved: list[tuple[str, bytes]] = []

    def saver(thread: int) -> Callable[[], None]:
        def save_all() -> None:
            for save in range(SAVES_EACH):
                data = payload(thread, save)
                saved.append((stack.save(NAME, ContentFile(data)), data))

        return save_all

    started = time.monotonic()
    errors = run_together([saver(thread) for thread in range(SAVERS)])
    elapsed = time.monotonic() - started

    check_no_errors(errors)
    names = [name for name, _ in saved]
    assert len(set(names)) == len(names) == SAVERS * SAVES_EACH
    for name, data in saved:
        assert read(stack, name) == data, f"{name!r} does not hold what its save wrote"
    # Every file is on the local disk, under fs.location, and nothing else is.
    location = os.path.realpath(fs.location)
    on_disk = {
        os.path.relpath(os.path.join(directory, file), location).replace(os.sep, "/")
        for directory, _, files in os.walk(location)
        for file in files
    }
    assert on_disk == set(names)
    for name in names:
        assert os.path.realpath(fs.path(name)).startswith(location + os.sep)
    # No name shadows a production object.
    shadowing = sorted(set(names) & set(before))
    assert shadowing == [], f"saved names that production already has: {shadowing}"
    if where == "nowhere":
        assert names.count(NAME) == 1, "exactly one save gets the name as asked"
    assert s3.server.mutations(PRODUCTION_BUCKET) == []
    assert s3.snapshot() == before
    with capsys.disabled():
        counts = dict(sorted(s3.server.counts(PRODUCTION_BUCKET).items()))
        print(
            f"\n  {request.node.callspec.id}: {len(names)} saves by {SAVERS} threads "
            f"in {elapsed:.1f} s; S3 requests {counts}"
        )


def temporary_upload(data: bytes) -> Any:
    """What Django makes of a large upload: a file that ``_save`` moves, not copies."""
    upload = TemporaryUploadedFile("report.pdf", "application/pdf", len(data), None)
    upload.write(data)
    upload.seek(0)
    return upload


UPLOADS: dict[str, Callable[[bytes], Any]] = {
    "in memory": ContentFile,
    "temporary file": temporary_upload,
}


@pytest.mark.parametrize("upload", UPLOADS.values(), ids=UPLOADS.keys())
def test_a_save_that_loses_the_race_for_a_name_shadows_nothing(
    upload: Callable[[bytes], Any], s3: Any, fs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two saves choose the same free name; the one that finds it taken when it
    writes must still get a name that is free in every layer, and keep its bytes."""
    s3.put("uploads/report_shadow1.pdf", b"%PDF production, saved under a random suffix")
    before = s3.snapshot()
    stack = Fallback(fs, ReadOnly(s3.storage()))
    # The random suffixes Django draws: the first is one production already has.
    suffixes = itertools.chain(["shadow1"], (f"free{n:03d}" for n in itertools.count()))
    monkeypatch.setattr(
        "django.core.files.storage.base.get_random_string", lambda length: next(suffixes)
    )
    # Both saves choose their name before either writes: the race, every time.
    both_chose = threading.Barrier(2)
    choose = Fallback.get_available_name
    chosen_once = threading.local()

    def in_lockstep(self: Any, name: str, max_length: int | None = None) -> str:
        available = choose(self, name, max_length=max_length)
        if not getattr(chosen_once, "done", False):
            chosen_once.done = True
            both_chose.wait(timeout=30)
        return available

    monkeypatch.setattr(Fallback, "get_available_name", in_lockstep)
    # The race is over the name; the writes themselves take turns, since
    # Django's own move of a temporary upload (file_move_safe) checks for the
    # target and renames onto it without a lock: a race of Django's, with no stack.
    write_lock = threading.Lock()
    write_layer_save = fs._save

    def one_at_a_time(name: str, content: Any) -> str:
        with write_lock:
            return write_layer_save(name, content)

    monkeypatch.setattr(fs, "_save", one_at_a_time)
    saved: dict[str, bytes] = {}
    contents = {data: upload(data) for data in (b"first local report", b"second local report")}

    def saver(data: bytes) -> Callable[[], None]:
        return lambda: saved.update({stack.save(NAME, contents[data]): data})

    try:
        errors = run_together([saver(data) for data in contents])
    finally:
        for content in contents.values():
            content.close()

    check_no_errors(errors)
    assert NAME in saved and len(saved) == 2
    shadowing = sorted(set(saved) & set(before))
    assert shadowing == [], (
        f"the save that lost the race for {NAME!r} was renamed to {shadowing}, which "
        "production already has: the local file now hides production's"
    )
    for name, data in saved.items():
        assert read(stack, name) == data
    assert s3.server.mutations(PRODUCTION_BUCKET) == []
    assert s3.snapshot() == before


# -- 2. readers and writers through Caching ------------------------------------

WRITERS = 4
READERS = 8
OPERATIONS_EACH = 250  # per writer, spread over its names
ONCE_EACH = 5  # names of each writer written once: saved ("created"), deleted ("removed")
ONCE = {"created": "save", "removed": "delete"}
MISSING = "missing"  # the state of a name no layer has
PRODUCTION = "production"  # only production has the name: its bytes answer
INITIAL = "initial"  # the local copy the test began with answers
TORN = "torn"  # an empty file: a write in progress (see Versions.allows)


class Versions:
    """The versions of one name: ``states[v]`` is what the stack holds after
    operation ``v`` (0: before any), as ``MISSING``, ``PRODUCTION``,
    ``INITIAL`` or ``v`` for ``b"x" * v``. Its writer appends a state, sets
    ``started``, performs the operation, then sets ``completed``.

    ``production`` and ``initial`` (the bytes production has, and those of a
    local copy there before the test) have lengths no ``b"x" * v`` reaches.
    """

    def __init__(self, name: str, production: bytes | None, initial: bytes | None) -> None:
        self.name = name
        self.contents = {PRODUCTION: production, INITIAL: initial}
        self.baseline = MISSING if production is None else PRODUCTION  # after a delete
        self.states: list[Any] = [self.baseline if initial is None else INITIAL]
        self.started = 0
        self.completed = 0

    def state_of(self, call: str, answer: Any) -> Any:
        """The state an answer reports (bytes no version has are returned as they are)."""
        if answer is MISSING or call == "exists":
            return answer  # MISSING, True or False
        length = answer if call == "size" else len(answer)
        for state, data in self.contents.items():
            if data is not None and length == len(data):
                return state if call == "size" or answer == data else answer
        if call == "open" and answer != b"x" * length:
            return answer
        return TORN if length == 0 else length

    def size_of(self, state: Any) -> int | None:
        if state == MISSING:
            return None
        return state if isinstance(state, int) else len(self.contents[state] or b"")

    def allows(self, state: Any, lo: int, hi: int) -> bool:
        """Whether some version in [lo, hi] answers ``state``.

        An empty file is what ``FileSystemStorage`` shows while a write
        (``open("wb")`` truncates first; ``_save`` creates, then writes) has not
        closed it yet: allowed while a write after ``lo`` may be in progress.
        """
        states = self.states[lo : hi + 1]
        if state is True:
            return any(s is not MISSING for s in states)
        if state is False:
            return MISSING in states
        if state == TORN:
            return any(isinstance(s, int) for s in states[1:])
        return state in states


def writer(make_stack: Callable[[], Any], names: list[Versions], seed: int) -> Callable[[], None]:
    """Versioned writes and deletes on ``names``, which no other thread writes:
    round-robin over the names that change all along, and, now and then, the
    one write of a name written once (a "created" name's save, a "removed"
    name's delete)."""
    changing = [v for v in names if kind_of(v.name) not in ONCE]
    once = [v for v in names if kind_of(v.name) in ONCE]
    every = OPERATIONS_EACH // max(len(once), 1)

    def write() -> None:
        stack = make_stack()
        rng = random.Random(seed)
        local = {v.name: v.contents[INITIAL] is not None for v in names}
        for operation in range(OPERATIONS_EACH):
            if once and operation % every == every // 2:
                versions = once.pop(0)
                perform(stack, versions, ONCE[kind_of(versions.name)])
            versions = changing[operation % len(changing)]
            kind = next_operation(versions.name, local[versions.name], rng)
            perform(stack, versions, kind)
            local[versions.name] = kind != "delete"

    return write


def perform(stack: Any, versions: Versions, kind: str) -> None:
    """Operation ``kind`` as the name's next version, recorded around the call."""
    name = versions.name
    version = len(versions.states)
    versions.states.append(versions.baseline if kind == "delete" else version)
    versions.started = version
    if kind == "open-wb":
        with stack.open(name, "wb") as handle:
            handle.write(b"x" * version)
    elif kind == "save":
        saved = stack.save(name, ContentFile(b"x" * version))
        assert saved == name, f"save({name!r}) of a free name saved {saved!r}"
    else:
        stack.delete(name)
    versions.completed = version


def kind_of(name: str) -> str:
    return name.split("/")[1].split("-")[0]


def next_operation(name: str, present: bool, rng: random.Random) -> str:
    """Each kind of name exercises its own write paths, so that the invalidation
    of one path cannot hide a missing invalidation in another (it fences the
    name's facts for longer than the test lasts). "replaced" and "production"
    names start with a local copy written around the wrapper, so that a delete
    can be the first write through it (for "replaced" names it always is).
    Names written once keep what is cached about them stale for the rest of
    the test if that write does not invalidate it."""
    kind = kind_of(name)
    if kind == "rewritten":  # open("wb") only
        return "open-wb"
    if kind == "replaced":  # delete, then save the same name
        return "delete" if present else "save"
    if kind == "production":  # overwrite locally, or delete: production answers again
        # (Fallback's default on_delete="ignore": a delete reaches the local copy only)
        return rng.choice(["open-wb", "delete"]) if present else "open-wb"
    return rng.choice(["open-wb", "delete"] if present else ["open-wb", "save"])


READS: dict[str, Callable[[Any, str], Any]] = {
    "exists": lambda stack, name: stack.exists(name),
    "size": lambda stack, name: stack.size(name),
    "open": read,
}


def reader(
    make_stack: Callable[[], Any],
    names: list[Versions],
    seed: int,
    done: threading.Event,
    stale: list[str],
    checked: list[int],
) -> Callable[[], None]:
    def check() -> None:
        stack = make_stack()
        rng = random.Random(seed)
        count = 0
        while not done.is_set():
            versions = rng.choice(names)
            call = rng.choice(list(READS))
            lo = versions.completed
            try:
                answer = READS[call](stack, versions.name)
            except FileNotFoundError:
                answer = MISSING
            hi = versions.started
            count += 1
            state = versions.state_of(call, answer)
            if not versions.allows(state, lo, hi):
                shown = answer if call != "open" or answer is MISSING else describe(answer)
                stale.append(
                    f"{call}({versions.name!r}) answered {shown!r} while versions {lo}..{hi} "
                    f"were {versions.states[lo : hi + 1]}"
                )
        checked.append(count)

    return check


def describe(data: bytes) -> str:
    return f"{len(data)} bytes {data[:12]!r}{'…' if len(data) > 12 else ''}"


@pytest.fixture(params=["locmem", "redis"])
def cache_alias(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        return str(request.getfixturevalue("redis_cache"))
    return "default"


def test_readers_never_see_a_stale_answer(
    cache_alias: str,
    s3: Any,
    fs: Any,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    names: list[list[Versions]] = []
    for w in range(WRITERS):
        initial = b"L" * (50_000 + w)  # a local copy, written around the stack
        owned = [
            Versions(f"shared/rewritten-{w}.txt", None, None),
            Versions(f"shared/replaced-{w}.txt", None, initial),
            Versions(f"shared/mixed-{w}.txt", None, None),
            *(Versions(f"shared/created-{w}-{k}.txt", None, None) for k in range(ONCE_EACH)),
            *(  # local copies; of every other one, production has a copy too
                Versions(
                    f"shared/removed-{w}-{k}.txt", b"R" * (100_000 + k) if k % 2 else None, initial
                )
                for k in range(ONCE_EACH)
            ),
        ]
        if w < 2:  # a couple of names production has, shadowed by a local copy at first
            owned.append(Versions(f"shared/production-{w}.txt", b"P" * (100_000 + w), initial))
        for versions in owned:
            if versions.contents[PRODUCTION] is not None:
                s3.put(versions.name, versions.contents[PRODUCTION])
            if versions.contents[INITIAL] is not None:
                assert fs.save(versions.name, ContentFile(initial)) == versions.name
        names.append(owned)
    every_name = [versions for owned in names for versions in owned]
    before = s3.snapshot()
    production = s3.storage()
    layers = Fallback(fs, ReadOnly(production))

    def make_stack() -> Any:
        # One wrapper per thread, as in processes sharing the cache: writes
        # through one must reach what every other one has cached.
        return Caching(layers, cache=cache_alias)

    # Every name's version 0 is cached: the first write must invalidate it.
    warm = make_stack()
    for versions in every_name:
        warm.exists(versions.name)
        with contextlib.suppress(FileNotFoundError):
            warm.size(versions.name)

    done = threading.Event()
    stale: list[str] = []
    checked: list[int] = []
    writers = [writer(make_stack, owned, seed) for seed, owned in enumerate(names)]

    def writing() -> None:
        writing_errors = run_together(writers)
        done.set()
        check_no_errors(writing_errors)

    readers = [
        reader(make_stack, every_name, 100 + seed, done, stale, checked) for seed in range(READERS)
    ]
    started = time.monotonic()
    errors = run_together([writing, *readers])
    elapsed = time.monotonic() - started

    check_no_errors(errors)
    assert stale == [], f"{len(stale)} stale answer(s), the first: " + "\n".join(stale[:10])
    # Afterwards the cached stack, every layer and the writers' record agree.
    cached = make_stack()
    for versions in every_name:
        name = versions.name
        final = versions.states[-1]
        local, remote = fs.exists(name), production.exists(name)
        direct_size = fs.size(name) if local else production.size(name) if remote else None
        assert cached.exists(name) == (local or remote) == (final != MISSING), name
        try:
            cached_size = cached.size(name)
        except FileNotFoundError:
            cached_size = None
        assert cached_size == direct_size == versions.size_of(final), name
    assert s3.server.mutations(PRODUCTION_BUCKET) == []
    assert s3.snapshot() == before
    with capsys.disabled():
        print(
            f"\n  {request.node.callspec.id}: {WRITERS * OPERATIONS_EACH} writes, "
            f"{sum(checked)} checked reads by {READERS} readers in {elapsed:.1f} s"
        )
