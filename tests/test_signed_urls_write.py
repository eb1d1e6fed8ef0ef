"""Signed URLs that would write: refused by ReadOnly, never routed to a read-only layer.

``S3Storage.url(name, http_method="PUT")`` signs an upload, Google Cloud's
``url(name, parameters={"method": "PUT"})`` and Azure's ``url(name, mode="w")``
likewise: whoever holds such a URL can write to the bucket without going
through the storage API. The control tests prove the danger against the S3
server: the raw backend's URLs really upload and delete.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage

from storage_mixins import Caching, Fallback, FallbackStorage, Logging, ReadOnly, ReadOnlyError

WRITE_SPELLINGS = {
    "PUT": {"http_method": "PUT"},
    "put": {"http_method": "put"},
    "Put": {"http_method": "Put"},
    "DELETE": {"http_method": "DELETE"},
    "POST": {"http_method": "POST"},
    "PATCH": {"http_method": "PATCH"},
    "padded": {"http_method": " GET"},  # not exactly GET: not known to be a read
    "bytes": {"http_method": b"GET"},
    "unknown-verb": {"http_method": "COPY"},
}
READ_SPELLINGS = {
    "default": {},
    "None": {"http_method": None},
    "GET": {"http_method": "GET"},
    "get": {"http_method": "get"},
    "HEAD": {"http_method": "HEAD"},
    "expire": {"expire": 60},
    "parameters": {"parameters": {"ResponseContentDisposition": "attachment"}},
}


def _send(url: str, method: str, body: bytes | None = None) -> int:
    headers = {"Content-Type": "application/octet-stream"}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.fixture
def production(s3: Any) -> Any:
    s3.put("photos/a.jpg", b"production bytes")
    return s3.storage(querystring_auth=True)


def test_control_the_raw_backend_signs_uploads_and_deletes(s3: Any, production: Any) -> None:
    put_url = production.url("planted.txt", http_method="PUT")
    assert _send(put_url, "PUT", b"planted") == 200
    delete_url = production.url("photos/a.jpg", http_method="DELETE")
    assert _send(delete_url, "DELETE") == 204
    assert s3.snapshot() == {"planted.txt": b"planted"}


@pytest.mark.parametrize("kwargs", WRITE_SPELLINGS.values(), ids=WRITE_SPELLINGS.keys())
def test_read_only_refuses_urls_that_could_write(s3: Any, production: Any, kwargs: Any) -> None:
    before = s3.snapshot()
    with pytest.raises(ReadOnlyError, match="url"):
        ReadOnly(production).url("photos/a.jpg", **kwargs)
    assert s3.snapshot() == before


def test_read_only_refuses_positional_write_arguments(s3: Any, production: Any) -> None:
    # S3Storage.url(name, parameters=None, expire=None, http_method=None)
    with pytest.raises(ReadOnlyError):
        ReadOnly(production).url("photos/a.jpg", None, 60, "PUT")
    with pytest.raises(ReadOnlyError):
        ReadOnly(production).url("photos/a.jpg", {"x": 1}, 60, "DELETE")


@pytest.mark.parametrize("kwargs", READ_SPELLINGS.values(), ids=READ_SPELLINGS.keys())
def test_read_only_signs_reads(s3: Any, production: Any, kwargs: Any) -> None:
    url = ReadOnly(production).url("photos/a.jpg", **kwargs)
    method = (kwargs.get("http_method") or "GET").upper()
    assert _send(url, method) == 200
    assert url == production.url("photos/a.jpg", **kwargs).split("?")[0] + url[url.index("?") :]


@pytest.mark.parametrize(
    "wrap",
    [
        lambda s: Caching(ReadOnly(s)),
        lambda s: Logging(ReadOnly(s)),
        lambda s: ReadOnly(Caching(s)),
        lambda s: ReadOnly(Logging(s)),
        lambda s: ReadOnly(ReadOnly(s)),
    ],
    ids=["Caching(ReadOnly)", "Logging(ReadOnly)", "ReadOnly(Caching)", "ReadOnly(Logging)",
         "ReadOnly(ReadOnly)"],
)  # fmt: skip
def test_refused_whatever_wraps_or_is_wrapped(s3: Any, production: Any, wrap: Any) -> None:
    with pytest.raises(ReadOnlyError):
        wrap(production).url("photos/a.jpg", http_method="PUT")
    with pytest.raises(ReadOnlyError):
        wrap(production).url("photos/a.jpg", None, None, "DELETE")
    assert s3.server.mutations("production-media") == []


def test_fallback_never_signs_a_write_for_a_read_only_layer(
    s3: Any, production: Any, tmp_path: Any
) -> None:
    local = FileSystemStorage(location=tmp_path / "local")
    orders = {
        "local-first": Fallback(local, ReadOnly(production)),
        "production-first": Fallback(ReadOnly(production), local),
    }
    for order, stack in orders.items():
        for name in ("photos/a.jpg", "missing/everywhere.jpg"):
            hidden = order == "production-first" and name == "photos/a.jpg"
            # The write layer takes it (FileSystemStorage.url() has no
            # http_method), unless production would hide what it wrote.
            with pytest.raises(ReadOnlyError if hidden else TypeError):
                stack.url(name, http_method="PUT")
    assert s3.server.mutations("production-media") == []


def test_fallback_routes_write_urls_to_the_write_layer(s3: Any, production: Any) -> None:
    development = s3.storage("development-media", querystring_auth=True)
    stack = Fallback(ReadOnly(production), development)
    url = stack.url("photos/new.jpg", http_method="PUT")
    assert "/development-media/photos/new.jpg?" in url
    assert _send(url, "PUT", b"dev upload") == 200
    assert s3.snapshot("development-media") == {"photos/new.jpg": b"dev upload"}
    assert s3.snapshot() == {"photos/a.jpg": b"production bytes"}
    # Reads still come from the layer that has the file.
    assert "/production-media/photos/a.jpg?" in stack.url("photos/a.jpg")
    assert "/development-media/photos/new.jpg?" in stack.url("photos/new.jpg")


def test_fallback_refuses_write_urls_that_production_first_would_hide(
    s3: Any, production: Any
) -> None:
    # As for open(name, "wb"): the upload would land under production's copy.
    stack = Fallback(ReadOnly(production), s3.storage("development-media"))
    with pytest.raises(ReadOnlyError, match="comes before the write layer"):
        stack.url("photos/a.jpg", http_method="PUT")
    assert s3.server.mutations("production-media") == []


def test_fallback_without_write_layer_refuses_write_urls(s3: Any, production: Any) -> None:
    stack = Fallback(ReadOnly(production), ReadOnly(InMemoryStorage()))
    with pytest.raises(ReadOnlyError, match="no writable layer"):
        stack.url("photos/a.jpg", http_method="DELETE")
    with pytest.raises(ReadOnlyError):
        stack.url("missing.jpg", http_method="PUT")


def test_fallback_storage_from_settings_refuses(s3: Any, use_storages: Any, settings: Any) -> None:
    s3.put("photos/a.jpg", b"production bytes")
    production = s3.settings(querystring_auth=True)
    use_storages({"default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
                  "production": production})  # fmt: skip
    stack = FallbackStorage(["production", "default"], writable=1)
    with pytest.raises(ReadOnlyError):
        stack.url("photos/a.jpg", http_method="PUT")
    with pytest.raises(TypeError):  # InMemoryStorage.url() takes no http_method
        stack.url("photos/new.jpg", http_method="PUT")
    assert s3.server.mutations("production-media") == []


# -- other backends' signing arguments (signatures as in django-storages) --------


class GoogleLike(InMemoryStorage):
    """``GoogleCloudStorage.url(name, parameters=None)``: ``parameters`` go to
    ``blob.generate_signed_url(**parameters)``, whose ``method`` is the verb."""

    def url(self, name: str, parameters: dict[str, Any] | None = None) -> str:  # type: ignore[override]
        return f"https://storage.example/{name}?{sorted(dict(parameters or {}).items())}"


class AzureLike(InMemoryStorage):
    """``AzureStorage.url(name, expire=None, parameters=None, mode="r")``: ``mode``
    is the SAS permission string; ``parameters`` go to ``generate_blob_sas``."""

    def url(  # type: ignore[override]
        self, name: str, expire: int | None = None, parameters: Any = None, mode: str = "r"
    ) -> str:
        return f"{self.base_url}{name}?sp={mode}"


class StarArgs(InMemoryStorage):
    """A backend whose ``url()`` takes anything: its arguments cannot be read."""

    def url(self, name: str, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        return f"https://star.example/{name}"


REFUSED_ELSEWHERE = {
    "google-method-PUT": (GoogleLike, (), {"parameters": {"method": "PUT"}}),
    "google-method-put": (GoogleLike, (), {"parameters": {"method": "put"}}),
    "google-method-positional": (GoogleLike, ({"method": "DELETE"},), {}),
    "google-resumable": (GoogleLike, (), {"parameters": {"method": "RESUMABLE"}}),
    "google-method-override": (
        GoogleLike, (), {"parameters": {"headers": {"X-HTTP-Method-Override": "DELETE"}}}
    ),
    "google-parameters-not-a-dict": (GoogleLike, (), {"parameters": [("method", "PUT")]}),
    "azure-mode-w": (AzureLike, (), {"mode": "w"}),
    "azure-mode-rw": (AzureLike, (), {"mode": "rw"}),
    "azure-mode-positional": (AzureLike, (60, None, "racwd"), {}),
    "azure-policy": (AzureLike, (), {"parameters": {"policy_id": "full-access"}}),
    "star-args-positional": (StarArgs, ("PUT",), {}),
    "star-args-unknown": (StarArgs, (), {"verb": "PUT"}),
}  # fmt: skip
ALLOWED_ELSEWHERE = {
    "google-GET": (GoogleLike, (), {"parameters": {"method": "GET"}}),
    "google-disposition": (GoogleLike, (), {"parameters": {"response_disposition": "inline"}}),
    "azure-read": (AzureLike, (), {"mode": "r", "expire": 60}),
    "azure-positional-read": (AzureLike, (60,), {}),
    "star-args-known-safe": (StarArgs, (), {"expire": 60}),
}  # fmt: skip


@pytest.mark.parametrize(
    ("backend", "args", "kwargs"), REFUSED_ELSEWHERE.values(), ids=REFUSED_ELSEWHERE.keys()
)
def test_other_backends_write_urls_are_refused(backend: Any, args: Any, kwargs: Any) -> None:
    storage = backend()
    storage.url("a.jpg", *args, **kwargs)  # the backend itself would sign it
    with pytest.raises(ReadOnlyError):
        ReadOnly(storage).url("a.jpg", *args, **kwargs)
    with pytest.raises(ReadOnlyError):
        Fallback(ReadOnly(storage), ReadOnly(InMemoryStorage())).url("a.jpg", *args, **kwargs)


@pytest.mark.parametrize(
    ("backend", "args", "kwargs"), ALLOWED_ELSEWHERE.values(), ids=ALLOWED_ELSEWHERE.keys()
)
def test_other_backends_read_urls_pass(backend: Any, args: Any, kwargs: Any) -> None:
    storage = backend()
    assert ReadOnly(storage).url("a.jpg", *args, **kwargs) == storage.url("a.jpg", *args, **kwargs)


def test_read_url_arguments_reach_the_layer_that_has_the_file(tmp_path: Any) -> None:
    production = AzureLike(base_url="https://production.example/")
    production.save("a.jpg", ContentFile(b"x"))
    local = AzureLike(base_url="https://local.example/")
    stack = Fallback(local, ReadOnly(production))
    assert stack.url("a.jpg", expire=60) == production.url("a.jpg", expire=60)
