"""``manage.py storage_stack --check``: a health check that says what to fix
(issue 23, item 2).

Against moto's S3 server over HTTP: bad credentials, a missing bucket, a
stopped server, a denied s3:ListBucket; a stopped redis-server under Caching;
a write layer that cannot be written; a slow request. One line a problem,
each with its fix, and a non-zero exit on any.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests import iam_users
from tests.conftest import RedisServer, free_port


@pytest.fixture
def configure(s3: Any, settings: Any, use_storages: Any, tmp_path: Path) -> Any:
    """``configure(**production_options)``: the recommended stack, production
    first, cached and read-only by construction, its S3 options overridden;
    ``cache`` and ``location`` change Caching's cache and the local layer's
    directory."""

    def configure(
        cache: str = "default", location: Path | None = None, **production: Any
    ) -> dict[str, Any]:
        config = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["production", "local"], "writable": "local"},
            },
            "production": {
                "BACKEND": "storage_mixins.ReadOnly",
                "OPTIONS": {
                    "storage": {
                        "BACKEND": "storage_mixins.Caching",
                        "OPTIONS": {"storage": s3.settings(**production), "cache": cache},
                    }
                },
            },
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(location or tmp_path / "local")},
            },
        }
        use_storages(config)
        return config

    return configure


def check(*args: str) -> tuple[list[str], CommandError | None]:
    """The lines ``storage_stack --check`` wrote, and its error if it failed."""
    out = StringIO()
    try:
        call_command("storage_stack", "--check", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue().splitlines(), exc
    return out.getvalue().splitlines(), None


def problems(lines: list[str]) -> list[str]:
    found = [line for line in lines if ". Fix: " in line]
    assert all(line.endswith(".") for line in found)
    return found


def _one_attempt() -> Any:
    from botocore.config import Config

    return Config(retries={"max_attempts": 1}, connect_timeout=1)


def test_a_healthy_stack_passes(configure: Any, tmp_path: Path) -> None:
    configure()
    lines, error = check()
    assert error is None
    assert not lines[0].startswith("FallbackStorage")  # --check draws no tree
    assert lines[0].startswith("[0] S3Storage('production-media')  reachable  read-only  ")
    assert " ListObjectsV2 " in lines[0]
    assert lines[1].startswith(f"[1] FileSystemStorage('{tmp_path / 'local'}')  reachable  writ")
    assert lines[2].startswith("cache 'default' (LocMemCache)  reachable  get() ")
    assert lines[3] == "No problem found in 'default'"


def test_bad_credentials(configure: Any, s3: Any) -> None:
    configure(access_key="AKIANOSUCHKEY")
    with iam_users.enforced():
        lines, error = check()
    assert error is not None
    assert "[0] S3Storage('production-media')  FAILING  read-only" in lines
    assert problems(lines) == [
        "[0] S3Storage('production-media'): the credentials are invalid: the endpoint knows no "
        "such access key (InvalidAccessKeyId). Fix: set the key production uses (access_key, "
        "AWS_S3_ACCESS_KEY_ID or AWS_ACCESS_KEY_ID)."
    ]


def test_a_wrong_secret(configure: Any, s3: Any) -> None:
    reader = iam_users.user(s3, "reader", iam_users.READ, "production-media")
    configure(access_key=reader["access_key"], secret_key="not-the-secret")
    with iam_users.enforced():
        lines, error = check()
    assert error is not None
    [problem] = problems(lines)
    assert "secret key does not match the access key (SignatureDoesNotMatch). Fix: " in problem


def test_a_missing_bucket(configure: Any, use_storages: Any) -> None:
    config = configure()
    config["production"]["OPTIONS"]["storage"]["OPTIONS"]["storage"]["OPTIONS"]["bucket_name"] = (
        "no-such-bucket"
    )
    use_storages(config)
    lines, error = check()
    assert error is not None
    assert problems(lines) == [
        "[0] S3Storage('no-such-bucket'): the bucket does not exist at this endpoint "
        "(NoSuchBucket). Fix: check bucket_name (AWS_STORAGE_BUCKET_NAME) and endpoint_url "
        "(AWS_S3_ENDPOINT_URL)."
    ]


def test_a_stopped_server(configure: Any) -> None:
    configure(endpoint_url=f"http://127.0.0.1:{free_port()}", client_config=_one_attempt())
    lines, error = check()
    assert error is not None
    assert "[0] S3Storage('production-media')  UNREACHABLE  read-only" in lines
    [problem] = problems(lines)
    assert problem.startswith(
        "[0] S3Storage('production-media'): the backend cannot be reached "
        "(EndpointConnectionError). Fix: check its endpoint (endpoint_url) and the network"
    )


def test_a_denied_list_bucket(configure: Any, s3: Any) -> None:
    reader = iam_users.user(s3, "reader", iam_users.READ_OBJECTS, "production-media")
    configure(**reader)
    with iam_users.enforced():
        lines, error = check()
    assert error is not None
    assert problems(lines) == [
        "[0] S3Storage('production-media'): the credentials lack s3:ListBucket: listings are "
        "off, and S3 answers 403 instead of 404 for a missing file (AccessDenied). Fix: grant "
        "s3:ListBucket on the bucket."
    ]


def test_credentials_that_may_read_and_list_pass(configure: Any, s3: Any) -> None:
    reader = iam_users.user(s3, "reader", iam_users.READ, "production-media")
    configure(**reader)
    with iam_users.enforced():
        lines, error = check()
    assert error is None, lines


def test_a_stopped_redis_server(
    configure: Any, redis_binary: str, settings: Any, tmp_path: Path
) -> None:
    redis = RedisServer(redis_binary, tmp_path).start()
    redis.stop()
    settings.CACHES = {
        **settings.CACHES,
        "stopped": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": redis.url},
    }  # fmt: skip
    configure(cache="stopped")
    lines, error = check()
    assert error is not None
    assert "cache 'stopped' (RedisCache)  UNREACHABLE" in lines
    [problem] = problems(lines)
    assert problem.startswith("cache 'stopped' (RedisCache): cannot be reached (ConnectionError")
    assert problem.endswith("Fix: start it, or check CACHES['stopped']['LOCATION'].")


def test_a_running_redis_server_passes(configure: Any, redis_cache: str) -> None:
    configure(cache=redis_cache)
    _lines, error = check()
    assert error is None


def test_a_dummy_cache_keeps_nothing(configure: Any) -> None:
    configure(cache="dummy")
    lines, error = check()
    assert error is not None
    [problem] = problems(lines)
    assert problem.startswith("cache 'dummy' (DummyCache): keeps nothing")


def test_a_write_layer_that_cannot_be_written(configure: Any, tmp_path: Path) -> None:
    (tmp_path / "media").write_bytes(b"a file where MEDIA_ROOT's parent would be")
    location = tmp_path / "media" / "uploads"
    configure(location=location)
    lines, error = check()
    assert error is not None
    [problem] = problems(lines)
    assert problem == (
        f"[1] FileSystemStorage('{location}'): not writable: {tmp_path / 'media'} is not a "
        f"directory, so {location} cannot be made. Fix: point location (MEDIA_ROOT) at a "
        "directory this process can write to."
    )


def test_a_read_only_local_layer_need_not_be_writable(
    configure: Any, settings: Any, use_storages: Any, tmp_path: Path
) -> None:
    (tmp_path / "media").write_bytes(b"a file")
    config = configure()
    config["default"]["OPTIONS"] = {"backends": ["local", "elsewhere"]}
    config["elsewhere"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "media" / "old")},
    }
    use_storages(config)
    _lines, error = check()
    assert error is None


def test_a_slow_request(configure: Any) -> None:
    configure()
    lines, error = check("--slow", "0")
    assert error is not None
    found = problems(lines)
    assert found[0].startswith("[0] S3Storage('production-media'): slow: one ListObjectsV2 took ")
    assert "Fix: check the network" in found[0]


def test_without_check_the_tree_comes_first(configure: Any) -> None:
    configure(endpoint_url=f"http://127.0.0.1:{free_port()}", client_config=_one_attempt())
    out = StringIO()
    with pytest.raises(CommandError, match=r"1 problem\(s\) in 'default'"):
        call_command("storage_stack", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "FallbackStorage  (writes go to [1])"
    assert len(problems(lines)) == 1


def test_the_exit_status_and_no_traceback(configure: Any, tmp_path: Path) -> None:
    """Run as a user does: one line on stderr, exit status 1, no traceback."""
    config = configure()
    config["production"]["OPTIONS"]["storage"]["OPTIONS"]["storage"]["OPTIONS"]["bucket_name"] = (
        "no-such-bucket"
    )
    settings_module = tmp_path / "missing_bucket_settings.py"
    settings_module.write_text(
        textwrap.dedent(
            f"""
            from tests.settings import *  # noqa: F403
            STORAGES = {config!r}
            MEDIA_ROOT = {str(tmp_path / "media")!r}
            """
        )
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "missing_bucket_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()]),
    }
    for command in (["storage_stack", "--check"], ["storage_pull", "photos"]):
        finished = subprocess.run(
            [sys.executable, "-m", "django", *command],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert finished.returncode == 1, finished.stderr
        assert "Traceback" not in finished.stderr
        [error] = finished.stderr.splitlines()
        assert error.startswith("CommandError: ")
        assert "NoSuchBucket" in finished.stdout + error
