"""storage_mixins.listings: one request per 1,000 entries, counted at the S3 server."""

from __future__ import annotations

import datetime
import os
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage

from storage_mixins import Caching, Fallback, Logging, ReadOnly
from storage_mixins.backends.listers import lister_for
from storage_mixins.backends.listing import Entry, ListdirLister
from storage_mixins.backends.local import FileSystemLister
from storage_mixins.backends.s3.listing import S3Lister
from tests.conftest import PRODUCTION_BUCKET
from tests.seeding import put_many


def list_requests(s3: Any) -> list[Any]:
    return [r for r in s3.server.requests() if r.method == "GET" and "list-type=2" in r.query]


def seed(s3: Any, keys: list[str]) -> None:
    put_many(s3, ((key, key.encode()) for key in keys), PRODUCTION_BUCKET)
    s3.server.clear_requests()


# -- choosing a lister -----------------------------------------------------------


def test_lister_for_each_kind_of_backend(s3: Any, fs: Any, mem: Any) -> None:
    production = s3.storage()
    assert type(lister_for(production)) is S3Lister
    assert type(lister_for(fs)) is FileSystemLister
    assert type(lister_for(mem)) is ListdirLister
    # Wrappers of one storage are looked through: listing is a read.
    assert lister_for(Caching(Logging(ReadOnly(production)))).backend is production
    assert lister_for(ReadOnly(fs)).backend is fs
    # A Fallback's directories are the union of its layers': its own listdir().
    stack = Fallback(fs, ReadOnly(production))
    assert type(lister_for(stack)) is ListdirLister
    assert lister_for(stack).backend is stack
    assert repr(lister_for(fs)) == f"FileSystemLister(FileSystemStorage('{fs.location}'))"


# -- S3 -----------------------------------------------------------------------------


def test_s3_list_one_directory_with_sizes_times_and_etags(s3: Any) -> None:
    seed(s3, ["photos/a.jpg", "photos/b.jpg", "photos/2024/c.jpg", "photos/", "other.txt"])
    listing = lister_for(s3.storage()).list("photos")
    assert listing.complete
    assert sorted(listing.files) == ["a.jpg", "b.jpg"]  # not the "photos/" marker
    assert listing.directories == ["2024"]
    entry = listing.files["a.jpg"]
    assert entry.name == "photos/a.jpg"
    assert entry.size == len(b"photos/a.jpg")
    assert isinstance(entry.modified, datetime.datetime) and entry.modified.tzinfo is not None
    head = s3.client.head_object(Bucket="production-media", Key="photos/a.jpg")
    assert entry.etag == head["ETag"].strip('"')
    assert len(list_requests(s3)) == 1
    assert s3.server.counts() == {"GET": 1}


def test_s3_list_takes_one_request_per_thousand_entries(s3: Any) -> None:
    keys = [f"big/{index:04d}.jpg" for index in range(2_300)]
    seed(s3, keys)
    lister = lister_for(s3.storage())
    listing = lister.list("big/")
    assert len(listing.files) == 2_300 and listing.complete
    assert len(list_requests(s3)) == 3
    assert {r.method for r in s3.server.requests()} == {"GET"}


def test_s3_list_stops_at_the_cap_and_says_so(s3: Any) -> None:
    seed(s3, [f"big/{index:04d}.jpg" for index in range(1_500)] + ["big/sub/x"])
    lister = lister_for(s3.storage())
    capped = lister.list("big", limit=1_200)
    assert len(capped) == 1_200 and not capped.complete
    assert len(list_requests(s3)) == 2  # 1,000, then the 200 that remain under the cap
    s3.server.clear_requests()
    exact = lister.list("big", limit=1_501)
    assert len(exact) == 1_501 and exact.complete  # 1,500 files and "sub"
    assert exact.directories == ["sub"]
    assert len(list_requests(s3)) == 2


def test_s3_honours_location_and_name_normalisation(s3: Any) -> None:
    seed(
        s3,
        [
            "media/photos/a.jpg",
            "media/photos//double.jpg",
            "media/photos/./dot.jpg",
            "elsewhere/photos/b.jpg",
            "media/top.txt",
        ],
    )
    lister = lister_for(s3.storage(location="media"))
    listing = lister.list("photos")
    # "photos//double.jpg" and "photos/./dot.jpg" are keys no name reaches
    # through S3Storage (it normalises the name "photos/./dot.jpg" to another key).
    assert list(listing.files) == ["a.jpg"]
    assert listing.files["a.jpg"].name == "photos/a.jpg"
    root = lister.list("")
    assert list(root.files) == ["top.txt"] and root.directories == ["photos"]
    assert sorted(entry.name for entry in lister.walk()) == ["photos/a.jpg", "top.txt"]
    assert lister.find(["photos/a.jpg", "photos/b.jpg"]) == {
        "photos/a.jpg": listing.files["a.jpg"],
        "photos/b.jpg": None,
    }


def test_s3_walk_is_one_request_per_thousand_keys_whatever_the_depth(s3: Any) -> None:
    keys = [f"tree/{d}/{e}/{index}.txt" for d in range(10) for e in range(15) for index in range(8)]
    seed(s3, [*keys, "tree/", "treeish.txt"])
    entries = list(lister_for(s3.storage()).walk("tree"))
    assert sorted(entry.name for entry in entries) == sorted(keys)
    assert all(entry.size is not None and entry.etag for entry in entries)
    assert len(list_requests(s3)) == 2  # 1,200 keys (and the marker): two pages


def test_s3_find_starts_at_the_names_it_looks_for(s3: Any) -> None:
    seed(s3, [f"flat/{index:06d}.jpg" for index in range(5_000)] + ["flat/sub/x.jpg"])
    lister = lister_for(s3.storage())
    wanted = ["flat/000007.jpg", "flat/002500.jpg", "flat/004999.jpg", "flat/nope.jpg"]
    found = lister.find([*wanted, "flat/sub/x.jpg", "flat/sub/y.jpg", "missing/a.jpg"])
    assert {name for name, entry in found.items() if entry} == {
        "flat/000007.jpg",
        "flat/002500.jpg",
        "flat/004999.jpg",
        "flat/sub/x.jpg",
    }
    assert found["flat/002500.jpg"] == Entry(
        "flat/002500.jpg",
        len(b"flat/002500.jpg"),
        found["flat/002500.jpg"].modified,
        found["flat/002500.jpg"].etag,
    )
    # A request per name at most (5,000 entries would take 5), one per other directory.
    assert len(list_requests(s3)) <= 4 + 1 + 1
    s3.server.clear_requests()
    # Many names in one directory: one request per 1,000 entries, not one per name.
    many = [f"flat/{index:06d}.jpg" for index in range(0, 5_000, 2)]
    assert all(lister.find(many).values())
    assert len(list_requests(s3)) == 5


def test_s3_find_takes_the_next_page_of_a_listing_it_has_started(s3: Any) -> None:
    # "next/0999x" is past the first page (up to "next/0999") but its jump
    # ("next/0999") is not: the listing goes on (ContinuationToken) rather
    # than starting again.
    seed(s3, [f"next/{index:04d}" for index in range(1_000)] + ["next/0999x", "next/1000"])
    found = lister_for(s3.storage()).find(["next/0000", "next/0999x", "next/0999z", "next/1000"])
    assert {name for name, entry in found.items() if entry} == {
        "next/0000",
        "next/0999x",
        "next/1000",
    }
    requests = list_requests(s3)
    assert len(requests) == 2
    assert "continuation-token=" in requests[1].query


def test_s3_find_names_that_normalise_to_one_key(s3: Any) -> None:
    seed(s3, ["a/b.txt"])
    found = lister_for(s3.storage()).find(["a/b.txt", "a/./b.txt"])
    assert found["a/b.txt"] is not None and found["a/./b.txt"] is not None
    assert found["a/./b.txt"].name == "a/./b.txt"
    assert len(list_requests(s3)) == 1


def test_s3_listing_a_missing_directory_is_empty(s3: Any) -> None:
    lister = lister_for(s3.storage())
    assert len(lister.list("nowhere")) == 0 and lister.list("nowhere").complete
    assert list(lister.walk("nowhere")) == []
    assert lister.find(["nowhere/x"]) == {"nowhere/x": None}


def test_s3_lister_sends_no_mutating_request(s3: Any) -> None:
    seed(s3, ["a/b.txt", "a/c/d.txt"])
    lister = lister_for(ReadOnly(s3.storage()))
    lister.list("a")
    list(lister.walk())
    lister.find(["a/b.txt", "a/zz"])
    assert s3.server.mutations("production-media") == []


# -- filesystem -----------------------------------------------------------------------


def test_filesystem_list_walk_and_find(fs: Any, tmp_path: Any) -> None:
    fs.save("photos/a.jpg", ContentFile(b"aaa"))
    fs.save("photos/2024/b.jpg", ContentFile(b"bb"))
    fs.save("top.txt", ContentFile(b"t"))
    os.utime(fs.path("top.txt"), (1_700_000_000, 1_700_000_000))
    lister = lister_for(fs)
    listing = lister.list("photos")
    assert listing.complete and list(listing.files) == ["a.jpg"]
    assert listing.directories == ["2024"]
    assert listing.files["a.jpg"].size == 3
    top = lister.list("").files["top.txt"]
    assert top.modified == datetime.datetime.fromtimestamp(1_700_000_000, tz=datetime.UTC)
    assert top.modified == fs.get_modified_time("top.txt")
    assert sorted(e.name for e in lister.walk()) == ["photos/2024/b.jpg", "photos/a.jpg", "top.txt"]
    found = lister.find(["photos/a.jpg", "photos", "photos/none", "top.txt/x"])
    assert found["photos/a.jpg"] is not None and found["photos/a.jpg"].size == 3
    assert found["photos"] is None  # a directory is not a file
    assert found["photos/none"] is None and found["top.txt/x"] is None
    assert len(lister.list("nowhere")) == 0
    capped = lister.list("", limit=1)
    assert len(capped) == 1 and not capped.complete
    assert lister.list("", limit=2).complete


def test_filesystem_walk_follows_links_but_not_round_a_loop(fs: Any, tmp_path: Any) -> None:
    fs.save("real/a.txt", ContentFile(b"a"))
    os.symlink(fs.path("real"), fs.path("linked"))
    os.symlink(fs.path(""), fs.path("real/loop"))
    os.symlink(fs.path("gone"), fs.path("dangling"))
    lister = lister_for(fs)
    names = sorted(entry.name for entry in lister.walk())
    # Every name the storage serves; "real/loop" leads back to the root.
    assert names == ["dangling", "linked/a.txt", "real/a.txt"]
    assert lister.list("").files["dangling"] == Entry("dangling")  # listed, size unknown
    assert "linked" in lister.list("").directories


# -- any other backend ------------------------------------------------------------------


def test_listdir_lister_gives_names_only(mem: InMemoryStorage) -> None:
    mem.save("a/b.txt", ContentFile(b"b"))
    mem.save("a/c/d.txt", ContentFile(b"d"))
    lister = lister_for(mem)
    listing = lister.list("a")
    assert listing.files == {"b.txt": Entry("a/b.txt")}
    assert listing.directories == ["c"]
    assert sorted(e.name for e in lister.walk()) == ["a/b.txt", "a/c/d.txt"]
    assert lister.find(["a/b.txt", "a/x", "zz/y"]) == {
        "a/b.txt": Entry("a/b.txt"),
        "a/x": None,
        "zz/y": None,
    }
    assert len(lister.list("missing")) == 0
    assert not lister.list("a", limit=1).complete


def test_a_fallback_lists_as_the_union_of_its_layers(fs: Any, mem: Any) -> None:
    fs.save("d/local.txt", ContentFile(b"l"))
    mem.save("d/remote.txt", ContentFile(b"r"))
    lister = lister_for(Fallback(fs, ReadOnly(mem)))
    assert sorted(lister.list("d").files) == ["local.txt", "remote.txt"]


@pytest.mark.parametrize("kind", ["fs", "mem"])
def test_listers_agree_with_listdir(kind: str, fs: Any, mem: Any) -> None:
    storage = {"fs": fs, "mem": mem}[kind]
    for name in ["x/1", "x/2", "x/y/3", "z"]:
        storage.save(name, ContentFile(b"."))
    for directory in ["", "x", "x/y"]:
        listing = lister_for(storage).list(directory)
        directories, files = storage.listdir(directory)
        assert sorted(listing.directories) == sorted(directories)
        assert sorted(listing.files) == sorted(files)


def test_filesystem_storage_subclass(tmp_path: Any) -> None:
    class Custom(FileSystemStorage):
        pass

    assert type(lister_for(Custom(location=tmp_path))) is FileSystemLister
