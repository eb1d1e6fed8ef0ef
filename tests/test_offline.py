"""A laptop keeps working when production is unreachable (issue 23, item 4).

With ``on_error="skip"`` (the development recipe), pages render without
production, and an upload is saved locally under a name that no production
file can have (``photos/dog_offline_<24 hex digits>.jpg``): whether
production has ``photos/dog.jpg`` cannot be asked, and a local file of that
name would hide production's, or be hidden by it, once it is back. Nothing is
ever written to production, and no upload is lost. With the default
``on_error="raise"``, the upload fails with the backend's error, which names
the layer and the outage, and nothing is written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from storage_mixins import Caching, Fallback, ReadOnly
from tests.faultproxy import FaultProxy
from tests.s3server import S3Server
from tests.test_failover import s3_storage

OFFLINE = re.compile(r"photos/dog_offline_[0-9a-f]{24}\.jpg")


@pytest.fixture
def production(s3: Any) -> Iterator[S3Server]:
    """Production's S3, a server of this test's own, to stop and start again
    (moto keeps the buckets meanwhile); it has ``photos/dog.jpg``."""
    own = S3Server()
    own.start()
    s3.put("photos/dog.jpg", b"production's dog")
    yield own
    own.stop()


@pytest.fixture
def local(tmp_path: Path) -> FileSystemStorage:
    return FileSystemStorage(location=tmp_path / "local")


def laptop(endpoint: str, local: Any, **options: Any) -> Fallback:
    """The development stack: production first, read-only; the local disk takes writes."""
    return Fallback(ReadOnly(s3_storage(endpoint)), local, **options)


def test_an_upload_while_production_is_down_gets_a_name_no_production_file_has(
    production: S3Server, local: Any, caplog: pytest.LogCaptureFixture
) -> None:
    port = production.port
    stack = laptop(production.endpoint_url, local, on_error="skip")
    production.stop()
    with caplog.at_level(logging.WARNING, logger="storage_mixins"):
        saved = stack.save("photos/dog.jpg", ContentFile(b"my dog"))
    assert OFFLINE.fullmatch(saved)
    with local.open(saved) as mine:
        assert mine.read() == b"my dog"
    assert not local.exists("photos/dog.jpg")
    [warning] = [r.getMessage() for r in caplog.records if "new file is named" in r.getMessage()]
    assert "S3Storage('production-media')" in warning
    assert repr(saved) in warning
    production.start(port)
    # Back: both files are served, each by its name.
    with stack.open(saved) as mine, stack.open("photos/dog.jpg") as theirs:
        assert (mine.read(), theirs.read()) == (b"my dog", b"production's dog")
    assert production.mutations("production-media") == []


def test_a_name_production_does_not_have_is_offline_too(production: S3Server, local: Any) -> None:
    """No name is known to be free while production is down."""
    stack = laptop(production.endpoint_url, local, on_error="skip")
    production.stop()
    saved = stack.save("photos/cat.jpg", ContentFile(b"cat"))
    assert re.fullmatch(r"photos/cat_offline_[0-9a-f]{24}\.jpg", saved)


def test_by_default_the_upload_fails_with_an_error_that_names_the_outage(
    production: S3Server, local: Any
) -> None:
    from botocore.exceptions import EndpointConnectionError

    stack = laptop(production.endpoint_url, local)
    production.stop()
    with pytest.raises(EndpointConnectionError) as raised:
        stack.save("photos/dog.jpg", ContentFile(b"my dog"))
    [note] = [n for n in raised.value.__notes__ if n.startswith("storage_mixins")]
    assert "layer [0] ReadOnly(S3Storage('production-media'))" in note
    assert "cannot be reached" in note
    assert not Path(local.location).exists()  # nothing written


def test_a_write_layer_that_is_down_is_never_skipped(production: S3Server, tmp_path: Path) -> None:
    """A remote write layer: the write fails, with its error, under skip too."""
    from botocore.exceptions import EndpointConnectionError

    reference = FileSystemStorage(location=tmp_path / "reference")
    stack = Fallback(
        ReadOnly(reference), s3_storage(production.endpoint_url), on_error="skip", writable=1
    )
    production.stop()
    with pytest.raises(EndpointConnectionError):
        stack.save("photos/dog.jpg", ContentFile(b"my dog"))


def test_a_layer_whose_breaker_is_open_is_not_asked(production: S3Server, local: Any) -> None:
    with FaultProxy(production.endpoint_url) as proxy:
        stack = laptop(proxy.endpoint_url, local, on_error="skip", failures=1)
        proxy.set_mode("reset")
        assert not stack.exists("photos/dog.jpg")  # a miss; the breaker opens
        proxy.reset_counts()
        saved = stack.save("photos/dog.jpg", ContentFile(b"my dog"))
        assert OFFLINE.fullmatch(saved)
        assert proxy.counts() == {}  # the name was chosen without a request


def test_an_offline_name_fits_max_length(production: S3Server, local: Any) -> None:
    stack = laptop(production.endpoint_url, local, on_error="skip")
    production.stop()
    name = "photos/" + "d" * 60 + ".jpg"
    saved = stack.save(name, ContentFile(b"x"), max_length=60)
    assert len(saved) <= 60
    assert re.fullmatch(r"photos/d+_offline_[0-9a-f]{24}\.jpg", saved)


def test_pages_render_and_the_outage_is_logged_once(
    production: S3Server, local: Any, caplog: pytest.LogCaptureFixture
) -> None:
    local.save("photos/mine.jpg", ContentFile(b"mine"))
    stack = Fallback(ReadOnly(Caching(s3_storage(production.endpoint_url))), local, on_error="skip")
    production.stop()
    with caplog.at_level(logging.WARNING, logger="storage_mixins"):
        for _ in range(5):
            assert not stack.exists("photos/dog.jpg")  # shown as missing
            assert stack.exists("photos/mine.jpg")
            assert stack.url("photos/dog.jpg") == local.url("photos/dog.jpg")
    outages = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(outages) == 1


def test_caching_over_the_stack_remembers_nothing_of_the_outage(
    production: S3Server, local: Any
) -> None:
    port = production.port
    # retry_after=0: the next read asks production again, as one 30 s later would.
    stack = Caching(laptop(production.endpoint_url, local, on_error="skip", retry_after=0))
    production.stop()
    assert not stack.exists("photos/dog.jpg")
    saved = stack.save("photos/dog.jpg", ContentFile(b"my dog"))
    assert OFFLINE.fullmatch(saved)
    production.start(port)
    assert stack.exists("photos/dog.jpg")
    assert stack.exists(saved)
