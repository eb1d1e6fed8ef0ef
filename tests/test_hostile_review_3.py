"""A hostile review of issue 22 ("One layered package"), a restructuring that
must not change behaviour.

Each test is an attack on what the restructuring could have changed: how
stacks are walked (declared class attributes instead of class tests), the
recording machinery (patched at install time instead of at class creation),
``Fallback.reading_through``'s shallow copies, the aliases of 0.1.0's module
paths, pickles by path. Each one was run against main (the flat layout) as
well: it asserts main's behaviour. The first ones found regressions (fixed
with them); the others found none and stay as regression tests of a real
risk, which each one names.
"""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from storage_mixins.recording import record

from storage_mixins import (
    Caching,
    Fallback,
    FallbackStorage,
    Logging,
    ReadOnly,
    ReadOnlyError,
    cached,
    describe,
    read_only,
)

ROOT = Path(__file__).resolve().parent.parent


# -- a subclass of a wrapper that changes what a read means ----------------------


class HidingReadOnly(ReadOnly):
    """A wrapper that changes what ``exists()`` means: no listing stands for it."""

    def exists(self, name: str) -> bool:
        return not name.startswith("secret/") and self.__wrapped__.exists(name)


class HidingLogging(Logging):
    def exists(self, name: str) -> bool:
        return not name.startswith("secret/") and super().exists(name)


class HidingCaching(Caching):
    def exists(self, name: str) -> bool:
        return not name.startswith("secret/") and super().exists(name)


@pytest.mark.parametrize(
    "hiding",
    [
        HidingReadOnly,
        HidingLogging,
        lambda storage: HidingCaching(storage, key_prefix="inner"),
    ],
    ids=["ReadOnly", "Logging", "Caching"],
)
def test_a_listing_never_stands_for_a_subclass_that_changes_exists(
    fs: FileSystemStorage, hiding: Any
) -> None:
    # Only ReadOnly, Caching and Logging themselves are looked through by a
    # listing (main: `type(storage) in (ReadOnly, Caching, Logging)`); the
    # layered package read the class attribute passes_reads_through, which a
    # subclass inherits, so the directory's listing answered for the subclass.
    fs.save("secret/a.txt", ContentFile(b"a"))
    fs.save("public/b.txt", ContentFile(b"b"))
    stacks = [Caching(hiding(fs), listings=True), Caching(Fallback(hiding(fs)), listings=True)]
    for stack in stacks:
        assert stack.exists("public/b.txt") is True
        assert stack.exists("secret/a.txt") is False


class AuditedReadOnly(ReadOnly):
    """A ReadOnly whose ``open()`` must see every read."""

    opened: ClassVar[list[str]] = []

    def open(self, name: str, mode: str = "rb") -> Any:
        self.opened.append(name)
        return super().open(name, mode)


def test_a_streamed_open_never_bypasses_an_overridden_open(s3: Any, fs: Any) -> None:
    # main looked through exactly ReadOnly (`type(storage) is ReadOnly`) to
    # stream an S3 object a listing knows; a subclass inherits
    # opens_as_wrapped, so its open() was skipped.
    s3.put("a.txt", b"production")
    production = s3.storage()
    AuditedReadOnly.opened = []
    for stack in (
        Caching(AuditedReadOnly(production), listings=True),
        Caching(Fallback(fs, AuditedReadOnly(production)), listings=True),
    ):
        assert stack.exists("a.txt")
        with stack.open("a.txt") as file:
            assert file.read() == b"production"
    assert AuditedReadOnly.opened == ["a.txt", "a.txt"]


def test_a_subclass_of_fallback_still_routes_its_layers_listed(fs: Any, fs2: Any) -> None:
    # main: `issubclass(kind, Fallback)`: a subclass of Fallback is a router,
    # whose layers are listed one by one (routes_layers is inherited).
    class MyFallback(Fallback):
        pass

    fs2.save("a.txt", ContentFile(b"a"))
    stack = Caching(MyFallback(fs, ReadOnly(fs2)), listings=True)
    assert "listings: [0] os.scandir, [1] os.scandir" in describe(stack)
    assert stack.exists("a.txt") and not stack.exists("b.txt")


# -- recording -----------------------------------------------------------------


@pytest.fixture
def stack(fs: FileSystemStorage, mem: InMemoryStorage) -> Fallback:
    fs.save("local.txt", ContentFile(b"local"))
    mem.save("production.txt", ContentFile(b"production"))
    return Fallback(fs, ReadOnly(mem))


def test_a_patch_that_ends_while_a_recording_is_active_does_not_come_back(
    stack: Fallback,
) -> None:
    # A test patches the class while a request in another thread records,
    # and its patch ends first. Uninstalling put back what it had found at
    # install time, the mock: it outlived its patch, for every later test.
    own = vars(Fallback)["exists"]
    patcher = mock.patch.object(Fallback, "exists", return_value="patched")
    patcher.start()
    recording = record()
    recording.__enter__()
    patcher.stop()
    recording.__exit__(None, None, None)
    left = vars(Fallback)["exists"]
    Fallback.exists = own  # type: ignore[method-assign]  # for the next tests, whatever happened
    assert left is own
    assert stack.exists("missing.txt") is False


def test_a_class_patched_around_a_recording_answers_with_the_patch(stack: Fallback) -> None:
    # The recording version wraps the method found at install time (main's
    # wrapped the class's own, and a patch made before the recording was lost
    # inside it): a mock set by a test holds in a request its client records.
    with mock.patch.object(Fallback, "exists", return_value="patched"), record() as recording:
        assert stack.exists("missing.txt") == "patched"
    assert recording.call_count == 1
    assert stack.exists("missing.txt") is False


def test_a_wrapper_class_defined_while_something_records_is_recorded(fs: Any) -> None:
    # main recorded a class from its definition on (a view module that
    # Django imports during the first, recorded, request defines one).
    with record(detail=True) as recording:

        class Mine(Caching):
            def exists(self, name: str) -> bool:
                return bool(super().exists(name))

        Mine(fs, key_prefix="mine").exists("a.txt")
    assert [call.method for call in recording.calls] == ["exists"]
    assert "exists" not in vars(Mine) or vars(Mine)["exists"].__name__ == "exists"
    with record(detail=True) as recording:
        Mine(fs, key_prefix="mine").exists("a.txt")
    assert [call.method for call in recording.calls] == ["exists"]


def test_a_recording_that_failed_to_start_leaves_the_next_one_working(
    stack: Fallback, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An error while the recording versions were installed left the count of
    # active blocks at one: no recording installed anything again.
    from storage_mixins.observability import instrumentation

    def broken() -> None:
        raise RuntimeError("boom")

    with monkeypatch.context() as patch:
        patch.setattr(instrumentation, "hook_shared_clients", broken)
        with pytest.raises(RuntimeError, match="boom"), record():
            pass
    assert not instrumentation.is_installed(Fallback, "exists")
    with record() as recording:
        stack.exists("local.txt")
    assert recording.call_count == 1


def test_a_recording_in_one_thread_ends_without_ending_another_s(stack: Fallback) -> None:
    # Nested recordings in two threads: the first to end must leave the
    # other's methods installed (counted process-wide).
    started, first_done = threading.Event(), threading.Event()
    counts: list[int] = []

    def other() -> None:
        with record() as recording:
            started.set()
            first_done.wait()
            stack.exists("local.txt")
        counts.append(recording.call_count)

    thread = threading.Thread(target=other)
    thread.start()
    started.wait()
    with record() as recording:
        stack.exists("local.txt")
    first_done.set()
    thread.join()
    assert (recording.call_count, counts) == (1, [1])


def test_the_instances_of_decorated_classes_are_recorded(tmp_path: Path) -> None:
    @cached(key_prefix="decorated")
    @read_only
    class Production(FileSystemStorage):
        pass

    storage = Production(location=tmp_path)
    with record(detail=True) as recording:
        storage.exists("a.txt")
    assert [call.method for call in recording.calls] == ["exists"]


# -- Fallback.reading_through: a view that shares the stack's state ------------------


def test_a_listed_view_of_a_stack_shares_the_tombstones_it_gets_later(fs: Any, fs2: Any) -> None:
    # Caching's reads over a stack go through a view of it, a shallow copy
    # made once (main's view read every _self_ attribute off the stack): a
    # tombstone the stack gets afterwards must hide the file from the view.
    fs2.save("a.txt", ContentFile(b"production"))
    stack = Fallback(fs, ReadOnly(fs2), on_delete="hide")
    cached = Caching(stack, listings=True)
    assert not cached.exists("b.txt")  # the view is made, the directory listed
    stack.delete("a.txt")  # around the Caching, so nothing is invalidated
    assert not cached.exists("a.txt")
    with record(detail=True) as recording:
        assert not cached.exists("a.txt")
    assert recording.calls[0].answered_by() == "Caching"


def test_a_recording_names_the_layer_that_answered_through_listings(fs: Any) -> None:
    # The router reports the layer, never its listed reader, to the recording;
    # a layer that is down (on_error="skip") is passed over. (main named a
    # miss by the class of its internal view of the stack, "_ReadView".)
    class Down(InMemoryStorage):
        def exists(self, name: str) -> bool:
            raise ConnectionError("down")

        def listdir(self, path: str) -> tuple[list[str], list[str]]:
            raise ConnectionError("down")

    fs.save("x/a.txt", ContentFile(b"a"))
    stack = Fallback(ReadOnly(Down()), fs, on_error="skip", failures=1)
    answers = []
    for listings in (True, False):
        cached = Caching(stack, listings=listings, key_prefix=f"listed-{listings}")
        with record(detail=True) as recording:
            cached.exists("x/a.txt")
            cached.exists("x/none.txt")
            cached.listdir("x")
        answers.append([call.answered_by() for call in recording.calls])
    layer = f"[1] FileSystemStorage('{fs.location}')"
    assert answers[0] == answers[1]
    assert answers[0][0] == layer and answers[0][2] == "every layer"


# -- 0.1.0's module paths --------------------------------------------------------


def test_an_old_module_path_imports_the_same_module_every_time() -> None:
    first = importlib.import_module("storage_mixins.caching")
    import storage_mixins.caching as second

    assert first is second
    assert first.Caching is Caching


def test_importing_a_module_by_its_old_path_keeps_its_file_watched() -> None:
    # Importing an alias set the module's __spec__ to the alias's (no origin):
    # Django's autoreloader watches a module's spec.origin, so runserver no
    # longer reloaded when the file changed, and importlib.reload() of the
    # module did nothing.
    from django.utils import autoreload

    module = importlib.import_module("storage_mixins.caching")
    importlib.import_module("storage_mixins.base")
    watched = autoreload.iter_modules_and_files((module,), frozenset())
    assert Path(module.__file__).resolve() in watched  # type: ignore[arg-type]  # a module's file


# Pickled by main (the flat layout, 0.1.0) with protocol 4:
# - a ReadOnlyError and a FileChangedError (storage_mixins.errors);
# - Caching(FileSystemStorage("/srv/h22"), key_prefix="h22").exists, a bound
#   method that 0.1.0 pickled as getattr(getattr(caching, "_self_hot"), "exists").
PICKLED_BY_0_1_0 = {
    "ReadOnlyError": (
        "gASVYQAAAAAAAACMFXN0b3JhZ2VfbWl4aW5zLmVycm9yc5SMDVJlYWRPbmx5RXJyb3KUk5QojARzYXZllIwFYS50"
        "eHSUjA1SZWFkT25seSguLi4plIwPaXQgaXMgcmVhZC1vbmx5lHSUUpQu"
    ),
    "FileChangedError": (
        "gASVRwAAAAAAAACMFXN0b3JhZ2VfbWl4aW5zLmVycm9yc5SMEEZpbGVDaGFuZ2VkRXJyb3KUk5SMBWEudHh0lIwK"
        "aXQgY2hhbmdlZJSGlFKULg=="
    ),
    "Caching.exists": (
        "gASVeAEAAAAAAACMCGJ1aWx0aW5zlIwHZ2V0YXR0cpSTlGgCjBNzdG9yYWdlX21peGlucy5iYXNllIwIX3JlYnVp"
        "bGSUk5SMFnN0b3JhZ2VfbWl4aW5zLmNhY2hpbmeUjAdDYWNoaW5nlJOUjCRkamFuZ28uY29yZS5maWxlcy5zdG9y"
        "YWdlLmZpbGVzeXN0ZW2UjBFGaWxlU3lzdGVtU3RvcmFnZZSTlCmBlH2UKIwRX2NvbnN0cnVjdG9yX2FyZ3OUKX2U"
        "jAhsb2NhdGlvbpSMCC9zcnYvaDIylHOGlIwJX2xvY2F0aW9ulGgRjAlfYmFzZV91cmyUTowWX2ZpbGVfcGVybWlz"
        "c2lvbnNfbW9kZZROjBtfZGlyZWN0b3J5X3Blcm1pc3Npb25zX21vZGWUTowQX2FsbG93X292ZXJ3cml0ZZSJdWKF"
        "lH2UjAprZXlfcHJlZml4lIwDaDIylHOHlFKUjAlfc2VsZl9ob3SUhpRSlIwGZXhpc3RzlIaUUpQu"
    ),
}


@pytest.mark.parametrize("label", sorted(PICKLED_BY_0_1_0))
def test_what_0_1_0_pickled_loads_in_a_fresh_interpreter(label: str) -> None:
    # Nothing imports storage_mixins first: the pickle's own module paths
    # (storage_mixins.base, storage_mixins.errors) import the package, which
    # installs the aliases.
    script = (
        "import base64, pickle, sys\n"
        "from django.conf import settings\n"
        "settings.configure()\n"
        "assert 'storage_mixins' not in sys.modules\n"
        f"loaded = pickle.loads(base64.b64decode({PICKLED_BY_0_1_0[label]!r}))\n"
        "print(type(loaded).__name__, loaded('a.txt') if callable(loaded) else loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] in {"ReadOnlyError", "FileChangedError", "method"}


def test_a_wrapper_subclass_pickles_as_itself(fs: Any) -> None:
    for wrapper in (HidingCaching(fs, key_prefix="sub"), HidingReadOnly(fs)):
        loaded = pickle.loads(pickle.dumps(wrapper))
        assert type(loaded) is type(wrapper)
        assert loaded == wrapper
        path, _args, _kwargs = wrapper.deconstruct()
        assert path == f"{__name__}.{type(wrapper).__qualname__}"


def test_fallback_storage_pickles_as_itself(fs: Any, fs2: Any) -> None:
    storage = FallbackStorage(backends=[fs2, fs], writable=1)
    loaded = pickle.loads(pickle.dumps(storage))
    assert type(loaded) is FallbackStorage
    assert loaded == storage
    with pytest.raises(ReadOnlyError):
        loaded.layers[0].save("a.txt", ContentFile(b"a"))
