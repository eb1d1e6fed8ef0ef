"""Property: answers from listings are the answers without them.

Random trees in S3 (moto, over HTTP) and on the local disk, with files and
prefixes that share a name (``a`` and ``a/b``, which S3 holds side by side),
Unicode (NFC and NFD spellings of one word are two files), deep paths, empty
directories and S3's directory markers; every stack shape with listings, both
layer orders. Every read method is asked about every name of the tree, its
directories, and names next to them, with writes through the stack in between,
and must answer what the same stack without Caching answers, over the same
backends: the same value, or the same type of error.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage_mixins import Caching, Fallback, ReadOnly
from tests.seeding import put_many

PARTS = ["a", "b", "a.txt", "é", "e\u0301", "日本", "x y"]
READS = ("exists", "size", "get_modified_time", "get_created_time", "url", "path", "read",
         "listdir", "which")  # fmt: skip

paths = st.lists(st.sampled_from(PARTS), min_size=1, max_size=5).map("/".join)
trees = st.fixed_dictionaries(
    {
        "s3": st.dictionaries(paths, st.binary(max_size=8), max_size=10),
        "local": st.dictionaries(paths, st.binary(max_size=8), max_size=6),
        "empty": st.lists(paths, max_size=3),  # directories: local, and S3 markers
    }
)
steps = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(READS), st.integers(0, 10_000)),
        st.tuples(st.sampled_from(["save", "delete"]), paths),
    ),
    min_size=1,
    max_size=10,
)

# Stack shapes: (stack over production and local) -> the same shape, with listings.
SHAPES = {
    "Caching(Fallback(ReadOnly(s3), fs))": lambda s3, fs, **o: Caching(
        Fallback(ReadOnly(s3), fs), **o
    ),
    "Caching(Fallback(fs, ReadOnly(s3)))": lambda s3, fs, **o: Caching(
        Fallback(fs, ReadOnly(s3)), **o
    ),
    "Fallback(Caching(ReadOnly(s3)), fs)": lambda s3, fs, **o: Fallback(
        Caching(ReadOnly(s3), **o), fs
    ),
    "Fallback(fs, Caching(ReadOnly(s3)))": lambda s3, fs, **o: Fallback(
        fs, Caching(ReadOnly(s3), **o)
    ),
    "Caching(S3Storage)": lambda s3, fs, **o: Caching(s3, **o),
}
PLAIN = {
    "Caching(Fallback(ReadOnly(s3), fs))": lambda s3, fs: Fallback(ReadOnly(s3), fs),
    "Caching(Fallback(fs, ReadOnly(s3)))": lambda s3, fs: Fallback(fs, ReadOnly(s3)),
    "Fallback(Caching(ReadOnly(s3)), fs)": lambda s3, fs: Fallback(ReadOnly(s3), fs),
    "Fallback(fs, Caching(ReadOnly(s3)))": lambda s3, fs: Fallback(fs, ReadOnly(s3)),
    "Caching(S3Storage)": lambda s3, fs: s3,
}


def plant(s3: Any, root: Path, tree: dict[str, Any]) -> tuple[Any, FileSystemStorage, set[str]]:
    """A fresh bucket and directory holding ``tree``; the names to ask about."""
    bucket = f"p-{uuid.uuid4().hex[:12]}"
    markers = {f"{directory}/": b"" for directory in tree["empty"]}
    put_many(s3, {**tree["s3"], **markers}.items(), bucket)
    local_root = root / uuid.uuid4().hex
    local_root.mkdir()
    for name, body in tree["local"].items():
        path = local_root / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            pass  # a file where a directory is, or the other way round: not both
    for directory in tree["empty"]:
        with contextlib.suppress(FileExistsError, NotADirectoryError):
            (local_root / directory).mkdir(parents=True, exist_ok=True)
    production = s3.storage(bucket, querystring_auth=False)
    local = FileSystemStorage(location=local_root, base_url="/media/")
    names = {"a", "a/b", "日本/x"}  # asked about even in an empty tree
    for name in [*tree["s3"], *tree["local"], *tree["empty"]]:
        parts = name.split("/")
        names.update("/".join(parts[:end]) for end in range(1, len(parts) + 1))
        names.update({f"{name}/b", f"{name}.missing", f"{name}/a/b"})
    return production, local, names


def ask(stack: Any, method: str, name: str) -> Any:
    """The answer of one read, or the type of the error it raised."""
    try:
        if method == "read":
            with stack.open(name, "rb") as handle:
                return handle.read()
        if method == "listdir":
            directories, files = stack.listdir(name)
            return sorted(directories), sorted(files)
        if method == "which":  # the position of the layer that serves it
            which = getattr(stack, "which", None)
            return None if which is None else stack.layers.index(which(name))
        if method == "path":
            return Path(stack.path(name)).name
        return getattr(stack, method)(name)
    except Exception as exc:  # noqa: BLE001 - the type is the answer compared
        return type(exc).__name__


@pytest.mark.parametrize("shape", SHAPES)
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=trees, script=steps)
def test_listings_change_no_answer(
    shape: str, tree: dict[str, Any], script: list[tuple[str, Any]], s3: Any, tmp_path: Path
) -> None:
    production, local, names = plant(s3, tmp_path, tree)
    listed = SHAPES[shape](production, local, listings=True, key_prefix=uuid.uuid4().hex)
    plain = PLAIN[shape](production, local)
    ordered = sorted(names)
    for step, (action, target) in enumerate(script):
        if action in ("save", "delete"):
            written = ask_write(listed, action, target)
            names.update(name for name in (target, written) if isinstance(name, str))
            ordered = sorted(names)
            continue
        for name in ordered[target % len(ordered) :][:4]:
            got, expected = ask(listed, action, name), ask(plain, action, name)
            assert got == expected, (step, action, name, shape)


def ask_write(stack: Any, action: str, name: str) -> Any:
    try:
        if action == "save":
            return stack.save(name, ContentFile(b"written"))
        return stack.delete(name)
    except Exception as exc:  # noqa: BLE001 - the write may be refused (a file in the way)
        return type(exc).__name__
