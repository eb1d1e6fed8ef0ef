"""The storage_stack, storage_which and storage_pull management commands."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError

from storage_mixins import Caching

PRODUCTION = {
    "photos/a.jpg": b"a" * 100,
    "photos/2024/b.jpg": b"b" * 200,
    "photos/2024/c.jpg": b"c" * 300,
    "docs/menu.pdf": b"%PDF",
}


@pytest.fixture
def stack(s3: Any, settings: Any, use_storages: Any, tmp_path: Path) -> Any:
    """STORAGES["default"]: local disk over a production bucket, as in the README."""
    for key, body in PRODUCTION.items():
        s3.put(key, body)
    use_storages(
        {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["local", "production"]},
            },
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "local"), "base_url": "/media/"},
            },
            "production": s3.settings(querystring_auth=False),
            "dead": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["local", "unreachable"]},
            },
            "unreachable": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": "production-media",
                    "endpoint_url": "http://127.0.0.1:9",
                    "access_key": "testing",
                    "secret_key": "testing",
                    "region_name": "us-east-1",
                    "client_config": _one_attempt(),
                },
            },
        }
    )
    storages["local"].save("uploads/mine.txt", ContentFile(b"mine"))
    s3.server.clear_requests()
    return storages["default"]


def _one_attempt() -> Any:
    from botocore.config import Config

    return Config(retries={"max_attempts": 1}, connect_timeout=1)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


# -- storage_stack -------------------------------------------------------------


def test_storage_stack(stack: Any, tmp_path: Path) -> None:
    output = run("storage_stack")
    assert output.startswith(
        "FallbackStorage  (writes go to [0])\n"
        f"├── [0] FileSystemStorage('{tmp_path / 'local'}')  ← writes\n"
        "└── [1] ReadOnly  (refuses writes)\n"
        "    └── S3Storage('production-media')\n"
    )
    assert f"[0] FileSystemStorage('{tmp_path / 'local'}')  reachable  writable  exists()" in output
    assert "[1] S3Storage('production-media')  reachable  read-only  ListObjectsV2" in output
    assert output.endswith("No problem found in 'default'\n")


def test_storage_stack_reports_an_unreachable_backend(stack: Any) -> None:
    out = StringIO()
    with pytest.raises(CommandError, match="1 problem\\(s\\) in 'dead'"):
        call_command("storage_stack", "--storage", "dead", stdout=out)
    assert "[1] S3Storage('production-media')  UNREACHABLE  read-only\n" in out.getvalue()
    assert (
        "[1] S3Storage('production-media'): the backend cannot be reached "
        "(EndpointConnectionError). Fix: check its endpoint"
    ) in out.getvalue()


def test_unknown_alias(stack: Any) -> None:
    for command in (["storage_stack"], ["storage_which", "a"], ["storage_pull", "a"]):
        with pytest.raises(CommandError, match=r"Unknown storage alias 'nope'.*has: "):
            call_command(*command, "--storage", "nope")


def test_commands_need_a_stack(stack: Any) -> None:
    for command in (["storage_which", "a"], ["storage_pull", "a"]):
        with pytest.raises(CommandError, match="not a stack of layers"):
            call_command(*command, "--storage", "production")


def test_help() -> None:
    for command in ("storage_stack", "storage_which", "storage_pull", "storage_forget"):
        out = StringIO()
        with pytest.raises(SystemExit):
            call_command(command, "--help", stdout=out)


# -- storage_which -------------------------------------------------------------


def test_storage_which(stack: Any, tmp_path: Path) -> None:
    out = StringIO()
    with pytest.raises(CommandError, match="1 of 3 name\\(s\\) not found in any layer"):
        call_command(
            "storage_which", "uploads/mine.txt", "photos/a.jpg", "photos/nowhere.jpg", stdout=out
        )
    assert out.getvalue() == (
        "uploads/mine.txt\n"
        f"  layer: [0] FileSystemStorage('{tmp_path / 'local'}')\n"
        "  size:  4 bytes\n"
        "  url:   /media/uploads/mine.txt\n"
        "photos/a.jpg\n"
        "  layer: [1] ReadOnly(S3Storage('production-media'))\n"
        "  size:  100 bytes\n"
        f"  url:   {storages['production'].endpoint_url}/production-media/photos/a.jpg\n"
        "photos/nowhere.jpg: not found in any layer\n"
    )


def test_storage_which_refuses_unsafe_names(stack: Any) -> None:
    with pytest.raises(CommandError, match="path traversal"):
        call_command("storage_which", "../etc/passwd")


# -- storage_pull --------------------------------------------------------------


def local_files(tmp_path: Path) -> dict[str, bytes]:
    root = tmp_path / "local"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_dry_run_copies_nothing(stack: Any, s3: Any, tmp_path: Path) -> None:
    output = run("storage_pull", "photos", "--dry-run")
    assert "photos/a.jpg (100 bytes): would copy from ReadOnly(S3Storage(" in output
    assert "Would copy 3 file(s)" in output
    assert local_files(tmp_path) == {"uploads/mine.txt": b"mine"}


def test_pull_copies_then_resumes_with_nothing_to_do(stack: Any, s3: Any, tmp_path: Path) -> None:
    output = run("storage_pull", "photos", "docs/menu.pdf", "--verbosity", "2")
    assert "docs/menu.pdf (4 bytes): copied from ReadOnly(S3Storage('production-media'))" in output
    assert "Copied 4 file(s), 604 bytes; 0 already present; 0 conflict(s); 0 failed" in output
    assert local_files(tmp_path) == {"uploads/mine.txt": b"mine", **PRODUCTION}
    assert [r for r in s3.server.requests() if r.mutates] == []
    assert s3.snapshot() == PRODUCTION
    again = run("storage_pull", "photos", "docs")
    assert "Copied 0 file(s), 0 bytes; 4 already present" in again


def test_everything(stack: Any, tmp_path: Path) -> None:
    run("storage_pull", "")
    assert local_files(tmp_path) == {"uploads/mine.txt": b"mine", **PRODUCTION}


def test_interrupted_pull_resumes_without_partial_files_or_duplicates(
    stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage_mixins.services import streaming

    written: list[str] = []
    original = streaming.write_atomically

    def interrupted(path: str, chunks: Any, modified: Any = None, **options: Any) -> None:
        if len(written) == 2:

            def half() -> Any:
                yield next(iter(chunks))
                raise KeyboardInterrupt

            return original(path, half(), modified, **options)
        written.append(path)
        return original(path, chunks, modified, **options)

    monkeypatch.setattr(streaming, "write_atomically", interrupted)
    with pytest.raises(CommandError, match="Interrupted: 2 of 4 file\\(s\\) copied") as caught:
        run("storage_pull", "photos", "docs", "--jobs", "1")
    assert caught.value.returncode == 130
    assert "no partial file is left behind. Run the same command again to resume." in str(
        caught.value
    )
    assert len(local_files(tmp_path)) == 1 + 2
    assert not any(".partial-" in name for name in local_files(tmp_path))
    monkeypatch.undo()
    output = run("storage_pull", "photos", "docs")
    assert "Copied 2 file(s), 400 bytes; 2 already present" in output
    assert local_files(tmp_path) == {"uploads/mine.txt": b"mine", **PRODUCTION}


def test_pull_serves_files_offline_afterwards(stack: Any, s3: Any) -> None:
    run("storage_pull", "photos")
    s3.server.clear_requests()
    assert stack.which("photos/2024/b.jpg") is stack.layers[0]
    with stack.open("photos/2024/b.jpg") as handle:
        assert handle.read() == PRODUCTION["photos/2024/b.jpg"]
    assert s3.server.requests() == []


def test_pull_keeps_caches_coherent(stack: Any, settings: Any, use_storages: Any) -> None:
    use_storages(
        {
            **settings.STORAGES,
            "cached": {"BACKEND": "storage_mixins.Caching", "OPTIONS": {"storage": "default"}},
        }
    )
    cached = storages["cached"]
    assert isinstance(cached, Caching)
    assert cached.url("photos/a.jpg").startswith("http://")  # served by S3
    run("storage_pull", "photos", "--storage", "cached")
    assert cached.url("photos/a.jpg") == "/media/photos/a.jpg"


def test_pull_refuses_unsafe_prefixes(stack: Any) -> None:
    with pytest.raises(CommandError, match="path traversal"):
        call_command("storage_pull", "../outside")


def test_pull_never_replaces_a_local_edit(stack: Any, s3: Any, tmp_path: Path) -> None:
    # Issue 12: a local file whose size differed from production's was replaced.
    edited = tmp_path / "local" / "photos" / "a.jpg"
    edited.parent.mkdir(parents=True)
    edited.write_bytes(b"edited locally")
    same_size = tmp_path / "local" / "docs" / "menu.pdf"
    same_size.parent.mkdir(parents=True)
    same_size.write_bytes(b"%FDP")  # as long as production's, other bytes
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="2 file\\(s\\) not copied because of a conflict"):
        call_command("storage_pull", "photos", "docs", stdout=out, stderr=err)
    assert "photos/a.jpg (100 bytes): conflict, not copied: the local copy differs" in (
        err.getvalue()
    )
    assert "docs/menu.pdf (4 bytes): conflict, not copied: the local copy differs" in (
        err.getvalue()
    )
    assert "Copied 2 file(s), 500 bytes; 0 already present; 2 conflict(s)" in out.getvalue()
    assert edited.read_bytes() == b"edited locally"
    assert same_size.read_bytes() == b"%FDP"
    assert local_files(tmp_path)["photos/2024/c.jpg"] == PRODUCTION["photos/2024/c.jpg"]
    assert s3.server.mutations("production-media") == []

    run("storage_pull", "photos", "docs", "--force")
    assert local_files(tmp_path) == {"uploads/mine.txt": b"mine", **PRODUCTION}


def test_pull_reports_a_file_and_a_directory_of_one_name_and_copies_the_rest(
    stack: Any, s3: Any, tmp_path: Path
) -> None:
    # Issue 12: production holding both "a" and "a/b" ended the pull with a
    # FileExistsError traceback; a local directory where production has a file too.
    s3.put("clash/a", b"file a")
    s3.put("clash/a/b", b"file a/b")
    s3.put("clash/z.txt", b"z")
    s3.put("clash/dir", b"production file")
    (tmp_path / "local" / "clash" / "dir").mkdir(parents=True)
    (tmp_path / "local" / "clash" / "dir" / "mine.txt").write_bytes(b"local")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="2 file\\(s\\) not copied because of a conflict"):
        call_command("storage_pull", "clash", stdout=out, stderr=err)
    assert (
        "clash/a/b (8 bytes): conflict, not copied: the source also has a file 'clash/a', "
        "which a filesystem cannot hold together with 'clash/a/b'; 'clash/a' is copied"
    ) in err.getvalue()
    assert "clash/dir (15 bytes): conflict, not copied: 'clash/dir' is a directory locally" in (
        err.getvalue()
    )
    files = local_files(tmp_path)
    assert files["clash/a"] == b"file a"
    assert files["clash/z.txt"] == b"z"
    assert files["clash/dir/mine.txt"] == b"local"
    assert not any(".partial-" in name for name in files)
    assert s3.server.mutations("production-media") == []


@pytest.mark.parametrize(
    "command", ["storage_pull", "storage_stack", "storage_tombstones", "storage_which"]
)
def test_storage_help_names_the_default_alias(command: str) -> None:
    """Issue 23: storage_pull's help said "(default: None)" (its default is None
    only to tell --storage from --referenced); every command works on "default"."""
    from django.core.management import get_commands, load_command_class

    parser = load_command_class(get_commands()[command], command).create_parser(
        "manage.py", command
    )
    text = " ".join(parser.format_help().split())
    assert "--storage ALIAS The alias in settings.STORAGES to work on (default: 'default')." in text
