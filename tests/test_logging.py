"""Logging: one record per call, with the attributes filters need."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage

from storage_mixins import Fallback, Logging, ReadOnly, ReadOnlyError
from tests.conformance import read

LOGGER = "storage_mixins.test"


@pytest.fixture
def fs(tmp_path: Path) -> FileSystemStorage:
    storage = FileSystemStorage(location=tmp_path, base_url="/media/")
    storage.save("photos/a.jpg", ContentFile(b"12345"))
    return storage


@pytest.fixture
def logged(fs: Any) -> Logging:
    return Logging(fs, logger=LOGGER)


class Log:
    """The records of LOGGER only (the S3 server logs its requests too)."""

    def __init__(self, caplog: Log) -> None:
        self.caplog = caplog

    @property
    def records(self) -> list[logging.LogRecord]:
        return [r for r in self.caplog.records if r.name == LOGGER]


@pytest.fixture
def log(caplog: Log) -> Log:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return Log(caplog)


CALLS = {
    "exists": (lambda s: s.exists("photos/a.jpg"), "photos/a.jpg", "exists('photos/a.jpg') -> True"),
    "size": (lambda s: s.size("photos/a.jpg"), "photos/a.jpg", "size('photos/a.jpg') -> 5"),
    "url": (lambda s: s.url("photos/a.jpg"), "photos/a.jpg", "-> '/media/photos/a.jpg'"),
    "path": (lambda s: s.path("photos/a.jpg"), "photos/a.jpg", "path('photos/a.jpg') -> '/"),
    "listdir": (lambda s: s.listdir("photos"), "photos", "-> 0 directories, 1 files"),
    "open": (lambda s: read(s, "photos/a.jpg"), "photos/a.jpg", "open('photos/a.jpg', 'rb') -> File"),
    "get_modified_time": (lambda s: s.get_modified_time("photos/a.jpg"), "photos/a.jpg", "-> 20"),
    "get_created_time": (lambda s: s.get_created_time("photos/a.jpg"), "photos/a.jpg", "-> 20"),
    "get_accessed_time": (lambda s: s.get_accessed_time("photos/a.jpg"), "photos/a.jpg", "-> 20"),
    "get_available_name": (
        lambda s: s.get_available_name("photos/b.jpg"), "photos/b.jpg", "-> 'photos/b.jpg'"
    ),
    "delete": (lambda s: s.delete("photos/a.jpg"), "photos/a.jpg", "delete('photos/a.jpg') -> done"),
    "save": (
        lambda s: s.save("new.txt", ContentFile(b"abc")), "new.txt", "save('new.txt') -> 'new.txt' (3 bytes)"
    ),
}  # fmt: skip


@pytest.mark.parametrize(("call", "name", "message"), CALLS.values(), ids=CALLS.keys())
def test_one_record_per_call(logged: Any, log: Log, call: Any, name: str, message: str) -> None:
    call(logged)
    [record] = log.records
    assert record.levelno == logging.DEBUG
    assert record.name == LOGGER
    assert message in record.getMessage()
    assert record.getMessage().endswith(f" ms [FileSystemStorage('{logged.location}')]")
    assert record.storage_call in CALLS
    assert record.storage_file == name
    assert record.storage_backend == f"FileSystemStorage('{logged.location}')"
    assert isinstance(record.duration_ms, float) and record.duration_ms >= 0
    assert record.outcome == "ok"


def test_a_missing_answer(logged: Any, log: Log) -> None:
    assert logged.exists("nowhere.jpg") is False
    [record] = log.records
    assert (record.levelno, record.outcome) == (logging.DEBUG, "missing")


@pytest.mark.parametrize(
    ("call", "error", "outcome", "traceback"),
    [
        (lambda s: s.open("nowhere.jpg"), FileNotFoundError, "missing", False),
        (lambda s: s.size("nowhere.jpg"), FileNotFoundError, "missing", False),
        (lambda s: s.delete("photos/a.jpg"), ReadOnlyError, "error", False),
        (lambda s: s.path("../../etc/passwd"), SuspiciousFileOperation, "error", False),
    ],
    ids=["open", "size", "read-only", "suspicious"],
)
def test_failures_are_warnings_and_reraised(
    fs: Any, log: Log, call: Any, error: type, outcome: str,
    traceback: bool,
) -> None:  # fmt: skip
    logged = Logging(fs, logger=LOGGER)
    guarded = Logging(ReadOnly(fs), logger=LOGGER)
    with pytest.raises(error):
        call(guarded if error is ReadOnlyError else logged)
    record = log.records[-1]
    assert record.levelno == logging.WARNING
    assert record.outcome == outcome
    assert f"raised {error.__name__}: " in record.getMessage()
    assert (record.exc_info is not None) is traceback


def test_unexpected_errors_carry_their_traceback(log: Log) -> None:
    class Broken(InMemoryStorage):
        def size(self, name: str) -> int:
            raise ConnectionResetError("reset by peer")

    with pytest.raises(ConnectionResetError) as caught:
        Logging(Broken(), logger=LOGGER).size("a.jpg")
    [record] = log.records
    assert record.levelno == logging.WARNING
    assert record.outcome == "error"
    assert record.exc_info is not None and record.exc_info[1] is caught.value


def test_slow_calls_are_warnings(fs: Any, caplog: Log) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    Logging(fs, logger=LOGGER, slow=0).exists("photos/a.jpg")
    Logging(fs, logger=LOGGER, slow=60).exists("photos/a.jpg")
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "(slower than 0 s)" in record.getMessage()


def test_disabled_logger_formats_nothing(fs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    logger = logging.getLogger(LOGGER)
    monkeypatch.setattr(logger, "level", logging.WARNING)
    logged = Logging(fs, logger=LOGGER)
    formatted = []
    monkeypatch.setattr(
        type(logged._self_log), "_log_result", lambda *args: formatted.append(args), raising=True
    )
    monkeypatch.setattr(logger, "isEnabledFor", _counting(logger.isEnabledFor, calls := []))
    for _ in range(3):
        logged.exists("photos/a.jpg")
    assert formatted == []
    assert len(calls) == 3  # one check per call


def _counting(function: Any, calls: list[Any]) -> Any:
    def counted(*args: Any) -> Any:
        calls.append(args)
        return function(*args)

    return counted


def test_level_by_name_and_logger_by_name(fs: Any, caplog: Log) -> None:
    caplog.set_level(logging.DEBUG, logger="myproject.media")
    logged = Logging(fs, logger="myproject.media", level="info")
    logged.exists("photos/a.jpg")
    [record] = caplog.records
    assert (record.name, record.levelno) == ("myproject.media", logging.INFO)
    assert repr(logged) == (
        f"Logging(FileSystemStorage('{fs.location}'), logger='myproject.media', level='INFO')"
    )
    with pytest.raises(ValueError, match="Unknown logging level 'loud'"):
        Logging(fs, level="loud")


def test_signed_url_query_strings_are_not_logged(s3: Any, log: Log) -> None:
    url = Logging(s3.storage(querystring_auth=True), logger=LOGGER).url("a.jpg")
    assert "Signature=" in url
    [record] = log.records
    assert "Signature" not in record.getMessage()
    assert "/production-media/a.jpg?…'" in record.getMessage()


def test_contents_are_never_logged(logged: Any, log: Log) -> None:
    secret = b"s3cr3t-contents"
    logged.save("secret.txt", ContentFile(secret))
    read(logged, "secret.txt")
    assert not any("s3cr3t" in r.getMessage() for r in log.records)
    assert "(15 bytes)" in log.records[0].getMessage()


def test_layers_logged_individually_inside_a_fallback(fs: Any, s3: Any, log: Log) -> None:
    s3.put("photos/b.jpg", b"production")
    stack = Fallback(Logging(fs, logger=LOGGER), Logging(ReadOnly(s3.storage()), logger=LOGGER))
    assert read(stack, "photos/b.jpg") == b"production"
    local, remote = log.records
    # The local miss is routine while the stack tries the next layer: no warning.
    assert (local.levelno, local.outcome, local.storage_call) == (logging.DEBUG, "missing", "open")
    assert local.storage_backend.startswith("FileSystemStorage(")
    assert (remote.levelno, remote.outcome) == (logging.DEBUG, "ok")
    assert remote.storage_backend == "ReadOnly(S3Storage('production-media'))"
    assert "open('photos/b.jpg', 'rb') -> S3File in" in remote.getMessage()


def test_the_whole_stack_logged_once(fs: Any, s3: Any, log: Log) -> None:
    s3.put("photos/b.jpg", b"production")
    stack = Logging(Fallback(fs, ReadOnly(s3.storage())), logger=LOGGER)
    read(stack, "photos/b.jpg")
    with pytest.raises(FileNotFoundError):
        stack.open("photos/nowhere.jpg")
    found, missing = log.records
    assert found.storage_backend == (
        f"Fallback(FileSystemStorage('{fs.location}'), ReadOnly(S3Storage('production-media')))"
    )
    assert (missing.levelno, missing.outcome) == (logging.WARNING, "missing")
    assert "Not found in any layer" in missing.getMessage()


def test_configured_in_storages(settings: Any, use_storages: Any, caplog: Any) -> None:
    from django.core.files.storage import storages

    use_storages(
        {
            **settings.STORAGES,
            "logged": {
                "BACKEND": "storage_mixins.Logging",
                "OPTIONS": {"storage": "production", "logger": LOGGER, "level": "INFO", "slow": 1},
            },
        }
    )
    caplog.set_level(logging.INFO, logger=LOGGER)
    storages["logged"].exists("a.txt")
    assert caplog.records[0].levelno == logging.INFO


class _Pipe:
    """A stream whose size cannot be known, as from ``urlopen()`` or a pipe:
    ``File.size`` raises ``UnsupportedOperation`` when it tries to seek."""

    def __init__(self, data: bytes) -> None:
        import io

        self._stream = io.BytesIO(data)
        self.name = "pipe"

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def tell(self) -> int:
        import io

        raise io.UnsupportedOperation("seek")

    def seek(self, *args: Any) -> int:
        import io

        raise io.UnsupportedOperation("seek")


@pytest.mark.parametrize("enabled", [True, False], ids=["logger-enabled", "logger-disabled"])
@pytest.mark.parametrize("method", ["save", "_save"])
def test_a_content_whose_size_raises_is_saved_as_without_logging(
    tmp_path: Path, caplog: Any, enabled: bool, method: str
) -> None:
    from django.core.files import File

    caplog.set_level(logging.DEBUG if enabled else logging.CRITICAL, logger=LOGGER)
    raw = FileSystemStorage(location=tmp_path / "raw")
    logged = Logging(FileSystemStorage(location=tmp_path / "logged"), logger=LOGGER)
    with pytest.raises(OSError, match="seek"):
        File(_Pipe(b"abc")).size  # noqa: B018 - what the wrapper must survive
    expected = getattr(raw, method)("piped.txt", File(_Pipe(b"streamed bytes")))
    assert getattr(logged, method)("piped.txt", File(_Pipe(b"streamed bytes"))) == expected
    assert read(logged, "piped.txt") == b"streamed bytes"
    records = [r for r in caplog.records if r.name == LOGGER and r.storage_call == method]
    if enabled:
        [record] = records
        assert record.outcome == "ok"
        assert f"{method}('piped.txt') -> 'piped.txt' in" in record.getMessage()  # no size
    else:
        assert records == []


def test_a_log_record_that_cannot_be_made_does_not_change_the_answer(
    tmp_path: Path, log: Log, capsys: pytest.CaptureFixture[str]
) -> None:
    class Odd(FileSystemStorage):
        def listdir(self, path: str) -> Any:
            return "not a pair"  # an answer the record cannot describe

    logged = Logging(Odd(location=tmp_path), logger=LOGGER)
    assert logged.listdir("") == "not a pair"
    # Reported as logging reports a failing handler: on stderr, not to the caller.
    assert "ValueError" in capsys.readouterr().err
