"""storage_audit and storage_pull --referenced: the files the database refers to.

Rows of real models (tests/testapp) refer to files that are in production
only, local only, in both, or nowhere. Every S3 request is counted: the audit
sends listings only (no HEAD a file), the pull one GET a copied file, and
neither ever a mutating request.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage, storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models.signals import post_init

from storage_mixins import Fallback, ReadOnly
from tests.conftest import local_over_production
from tests.testapp.models import Gallery, Scan

pytestmark = pytest.mark.django_db

COVERS_BUCKET = "covers-media"

PRODUCTION = {  # the default stack's bucket
    "attachments/prod.pdf": b"%PDF production only",
    "attachments/both.pdf": b"%PDF in both",
    "scans/s.tif": b"TIFF scan",
    "attachments/unreferenced.pdf": b"nobody refers to me",
}
COVERS = {  # the covers field's own bucket
    "covers/prod-only.jpg": b"JPEG production cover",
    "covers/both.jpg": b"JPEG cover in both",
    "covers/unreferenced.jpg": b"JPEG unreferenced",
}
LOCAL = {"attachments/both.pdf": b"%PDF in both", "attachments/local.txt": b"local only"}
LOCAL_COVERS = {"covers/local.jpg": b"JPEG local cover", "covers/both.jpg": b"JPEG cover in both"}


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


def read_tree(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def dump(
    s3: Any, settings: Any, use_storages: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """A production dump loaded into a development machine."""
    for key, body in PRODUCTION.items():
        s3.put(key, body)
    for key, body in COVERS.items():
        s3.put(key, body, bucket=COVERS_BUCKET)
    write_tree(tmp_path / "local", LOCAL)
    write_tree(tmp_path / "local-covers", LOCAL_COVERS)
    use_storages({**settings.STORAGES, **local_over_production(s3, tmp_path / "local")})
    # The covers have a stack of their own, production first (the design's order).
    covers = Fallback(
        ReadOnly(s3.storage(COVERS_BUCKET)),
        FileSystemStorage(location=tmp_path / "local-covers"),
    )
    monkeypatch.setattr(Gallery._meta.get_field("cover"), "storage", covers)
    Gallery.objects.create(cover="covers/prod-only.jpg", attachment="attachments/prod.pdf")
    Gallery.objects.create(cover="covers/local.jpg", attachment="attachments/both.pdf")
    Gallery.objects.create(cover="covers/both.jpg", attachment="attachments/missing.pdf")
    Gallery.objects.create(cover="covers/missing.jpg", attachment="")
    Gallery.objects.create(cover="covers/prod-only.jpg", attachment=None)
    Scan.objects.create(scan="scans/s.tif")
    Scan.objects.create(scan="")
    s3.server.clear_requests()
    return covers


def audit(*args: str) -> tuple[dict[str, Any], CommandError | None]:
    out = StringIO()
    error = None
    try:
        call_command(
            "storage_audit", "--model", "testapp.Gallery", "--model", "testapp.Scan",
            "--format", "json", *args, stdout=out, stderr=StringIO(),
        )  # fmt: skip
    except CommandError as exc:
        error = exc
    return json.loads(out.getvalue()), error


def by_field(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{f['model']}.{f['field']}": f for f in report["fields"]}


def no_head_and_no_mutation(s3: Any) -> None:
    for bucket in ("production-media", COVERS_BUCKET):
        assert s3.server.mutations(bucket) == []
    assert "HEAD" not in s3.server.counts()


# -- storage_audit --------------------------------------------------------------


def test_audit_counts_per_field_and_layer(dump: Any, s3: Any, tmp_path: Path) -> None:
    report, error = audit()
    assert str(error) == "2 broken reference(s): name(s) no layer serves, in 2 row(s)"
    fields = by_field(report)
    assert set(fields) == {
        "testapp.Gallery.cover",
        "testapp.Gallery.attachment",
        "testapp.Scan.scan",
    }
    local = f"[0] FileSystemStorage('{tmp_path / 'local'}')"
    production = "[1] ReadOnly(S3Storage('production-media'))"
    attachment = fields["testapp.Gallery.attachment"]
    assert (attachment["rows"], attachment["names"]) == (3, 3)  # "" and NULL are no reference
    assert attachment["layers"] == {local: 1, production: 1}  # local first: both.pdf is local
    row = Gallery.objects.get(attachment="attachments/missing.pdf")
    assert attachment["broken"] == [
        {"name": "attachments/missing.pdf", "rows": 1, "why": "in no layer", "ids": [row.pk]}
    ]
    cover = fields["testapp.Gallery.cover"]
    assert (cover["rows"], cover["names"]) == (5, 4)
    assert cover["storage"] == (
        f"Fallback(ReadOnly(S3Storage('covers-media')), FileSystemStorage('{tmp_path / 'local-covers'}'))"
    )
    assert cover["layers"] == {
        "[0] ReadOnly(S3Storage('covers-media'))": 2,  # production first: both.jpg too
        f"[1] FileSystemStorage('{tmp_path / 'local-covers'}')": 1,
    }
    assert [b["name"] for b in cover["broken"]] == ["covers/missing.jpg"]
    assert fields["testapp.Scan.scan"]["layers"] == {production: 1}
    assert report["layers"][production] == 2 and report["broken"] == 2
    no_head_and_no_mutation(s3)


def test_audit_agrees_with_which(dump: Any) -> None:
    report, _error = audit("--verbosity", "2")
    served = by_field(report)["testapp.Gallery.cover"]["served"]
    for name, layer in served.items():
        index = int(layer[1])
        assert dump.which(name) is dump.layers[index]
    assert dump.which("covers/missing.jpg") is None


def test_audit_text_output(dump: Any, tmp_path: Path) -> None:
    out = StringIO()
    with pytest.raises(CommandError, match="1 broken reference"):
        call_command("storage_audit", "--field", "testapp.Gallery.attachment", stdout=out)
    text = out.getvalue()
    assert "testapp.Gallery.attachment  FallbackStorage(" in text
    assert "3 row(s), 3 distinct name(s)" in text
    assert "       1  [1] ReadOnly(S3Storage('production-media'))" in text
    row = Gallery.objects.get(attachment="attachments/missing.pdf")
    assert f"    attachments/missing.pdf: in no layer (1 row(s): id {row.pk})" in text
    assert "1 broken reference(s) in 1 row(s), 1 field(s)" in text


def test_audit_exits_zero_when_nothing_is_broken(dump: Any) -> None:
    out = StringIO()
    call_command("storage_audit", "--model", "testapp.scan", stdout=out)
    assert "No broken reference in 1 field(s)" in out.getvalue()


def test_audit_narrowing(dump: Any) -> None:
    report, _error = audit("--field", "cover", "--limit", "2")
    (cover,) = report["fields"]
    assert cover["field"] == "cover" and cover["names"] == 2  # both.jpg, local.jpg
    for bad in (["--model", "testapp.Nope"], ["--field", "nope"], ["--model", "nodots"]):
        with pytest.raises(CommandError, match=r"No (model|file field)"):
            call_command("storage_audit", *bad, stdout=StringIO())


def test_audit_walks_every_file_field_of_every_model(dump: Any) -> None:
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("storage_audit", "--format", "json", stdout=out)
    fields = {f"{f['model']}.{f['field']}" for f in json.loads(out.getvalue())["fields"]}
    assert {
        "testapp.Document.file",
        "testapp.Photo.original",
        "testapp.Photo.archived",
        "testapp.Photo.layered",
        "testapp.Gallery.cover",  # an ImageField
        "testapp.Scan.scan",  # a FileField subclass; ScanProxy is the same table
    } <= fields
    assert not any("ScanProxy" in label for label in fields)


def test_audit_streams_rows_and_builds_no_model_instance(dump: Any, s3: Any) -> None:
    built: list[Any] = []

    def count(sender: Any, **kwargs: Any) -> None:
        built.append(sender)

    post_init.connect(count)
    try:
        audit()
    finally:
        post_init.disconnect(count)
    assert built == []


def test_audit_batches_its_existence_checks(
    dump: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage_mixins.management.commands import storage_audit
    from tests.seeding import put_many

    put_many(s3, ((f"scans/{i:05d}.tif", b"t") for i in range(3000)), "production-media")
    Scan.objects.bulk_create(Scan(scan=f"scans/{i:05d}.tif") for i in range(0, 3000, 3))
    monkeypatch.setattr(storage_audit, "BATCH", 400)
    s3.server.clear_requests()
    report, error = audit("--field", "scan")
    assert error is None
    (scan,) = report["fields"]
    assert scan["names"] == 1001 and sum(scan["layers"].values()) == 1001
    # 1,001 names in one directory of 3,001 files: a few listings, no request a name.
    assert s3.server.counts() == {"GET": s3.server.counts()["GET"]}
    assert s3.server.counts()["GET"] <= 3 + 3  # pages, and a batch boundary each
    no_head_and_no_mutation(s3)


def test_audit_refuses_hostile_names_without_asking_any_layer(dump: Any, s3: Any) -> None:
    Scan.objects.create(scan="../../etc/passwd")
    Scan.objects.create(scan="scans/\x00evil")
    report, error = audit("--field", "scan")
    assert error is not None
    broken = {b["name"]: b["why"] for b in report["fields"][0]["broken"]}
    assert broken["../../etc/passwd"].startswith("unsafe name:")
    assert broken["scans/\x00evil"].startswith("unsafe name:")
    assert not any(
        "passwd" in r.key or "evil" in r.key or "passwd" in r.query for r in s3.server.requests()
    )


def test_audit_never_writes(dump: Any, s3: Any, tmp_path: Path) -> None:
    before = (read_tree(tmp_path / "local"), read_tree(tmp_path / "local-covers"))
    audit()
    assert (read_tree(tmp_path / "local"), read_tree(tmp_path / "local-covers")) == before
    assert s3.snapshot() == PRODUCTION and s3.snapshot(COVERS_BUCKET) == COVERS
    no_head_and_no_mutation(s3)


def test_audit_reports_hidden_names(
    s3: Any, settings: Any, use_storages: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put("covers/gone.jpg", b"deleted in development")
    stack = Fallback(
        FileSystemStorage(location=tmp_path / "local"), ReadOnly(s3.storage()), on_delete="hide"
    )
    stack.delete("covers/gone.jpg")
    monkeypatch.setattr(Gallery._meta.get_field("cover"), "storage", stack)
    row = Gallery.objects.create(cover="covers/gone.jpg")
    report, error = audit("--field", "cover")
    assert error is not None
    assert report["fields"][0]["broken"] == [
        {"name": "covers/gone.jpg", "rows": 1, "why": "hidden by a tombstone", "ids": [row.pk]}
    ]


def test_audit_gives_the_ids_of_the_rows_of_a_broken_reference(dump: Any) -> None:
    """Issue 23: the audit named a broken file, and not the rows to fix."""
    first = Gallery.objects.get(attachment="attachments/missing.pdf")
    more = [Gallery.objects.create(attachment="attachments/missing.pdf") for _ in range(11)]
    ids = [first.pk, *(row.pk for row in more)]
    report, _error = audit("--field", "attachment")
    (broken,) = by_field(report)["testapp.Gallery.attachment"]["broken"]
    assert broken == {
        "name": "attachments/missing.pdf",
        "rows": 12,
        "why": "in no layer",
        "ids": ids[:10],  # the first ten, in key order
    }
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("storage_audit", "--field", "attachment", stdout=out)
    listed = ", ".join(map(str, ids[:10]))
    assert f"    attachments/missing.pdf: in no layer (12 row(s): id {listed}, …)" in out.getvalue()


# -- storage_pull --referenced ------------------------------------------------------


def pull(*args: str) -> tuple[str, str, CommandError | None]:
    out, err = StringIO(), StringIO()
    error = None
    try:
        call_command("storage_pull", "--referenced", *args, stdout=out, stderr=err)
    except CommandError as exc:
        error = exc
    return out.getvalue(), err.getvalue(), error


def test_referenced_pull_copies_exactly_the_referenced_set(
    dump: Any, s3: Any, tmp_path: Path
) -> None:
    out, err, error = pull("--model", "testapp.Gallery", "--model", "testapp.Scan")
    assert error is None, err
    assert read_tree(tmp_path / "local") == {
        **LOCAL,
        "attachments/prod.pdf": PRODUCTION["attachments/prod.pdf"],
        "scans/s.tif": PRODUCTION["scans/s.tif"],
    }
    assert read_tree(tmp_path / "local-covers") == {
        **LOCAL_COVERS,
        "covers/prod-only.jpg": COVERS["covers/prod-only.jpg"],
    }
    # One GET a copied file (3), listings besides; both.* are identical: no GET.
    gets = [r for r in s3.server.requests() if r.method == "GET" and r.key]
    assert sorted(r.key for r in gets) == [
        "attachments/prod.pdf",
        "covers/prod-only.jpg",
        "scans/s.tif",
    ]
    no_head_and_no_mutation(s3)
    assert s3.snapshot() == PRODUCTION and s3.snapshot(COVERS_BUCKET) == COVERS
    assert "Copied 2 file(s)" in out and "Copied 1 file(s)" in out

    s3.server.clear_requests()
    out, err, error = pull("--model", "testapp.Gallery", "--model", "testapp.Scan")
    assert error is None
    assert "Copied 0 file(s), 0 bytes; 3 already present" in out
    assert [r for r in s3.server.requests() if r.method == "GET" and r.key] == []


def test_referenced_pull_never_overwrites_a_local_edit(dump: Any, s3: Any, tmp_path: Path) -> None:
    edited = tmp_path / "local" / "attachments" / "both.pdf"
    edited.write_bytes(b"%PDF edited locally")
    _out, err, error = pull("--field", "attachment")
    assert error is not None and "1 file(s) not copied because of a conflict" in str(error)
    assert "attachments/both.pdf (12 bytes): conflict, not copied: the local copy differs" in err
    assert edited.read_bytes() == b"%PDF edited locally"
    assert (tmp_path / "local" / "attachments" / "prod.pdf").exists()  # the rest went on
    _out, _err, error = pull("--field", "attachment", "--force")
    assert error is None
    assert edited.read_bytes() == PRODUCTION["attachments/both.pdf"]
    no_head_and_no_mutation(s3)


def test_referenced_pull_skips_hostile_names(dump: Any, s3: Any, tmp_path: Path) -> None:
    Scan.objects.create(scan="../outside.txt")
    out, err, _error = pull("--field", "scan")
    assert "'../outside.txt': skipped, unsafe name" in err
    assert "1 unsafe name(s) skipped" in out
    assert not (tmp_path / "outside.txt").exists()


def test_referenced_pull_reports_references_in_no_layer(dump: Any, s3: Any, tmp_path: Path) -> None:
    """Issue 23: a referenced file that no layer has was passed over in
    silence ("0 failed"); it is named, and counted in the summary."""
    for dry_run in ([], ["--dry-run"]):
        out, err, error = pull("--field", "attachment", *dry_run)
        assert error is None  # nothing to copy is not a failed copy: storage_audit fails
        assert "'attachments/missing.pdf': referenced, but in no layer" in err
        assert "; 1 referenced but in no layer (storage_audit lists their rows); " in out
    # A name only the write layer has is not missing: it is there already.
    out, err, error = pull("--field", "cover")
    assert err.count("referenced, but in no layer") == 1
    assert "'covers/missing.jpg': referenced, but in no layer" in err  # not covers/local.jpg


def test_referenced_pull_dry_run(dump: Any, s3: Any, tmp_path: Path) -> None:
    out, _err, error = pull("--field", "cover", "--dry-run")
    assert error is None
    assert (
        "covers/prod-only.jpg (21 bytes): would copy from ReadOnly(S3Storage('covers-media'))"
        in out
    )
    assert "Would copy 1 file(s), 21 bytes; 1 already present" in out
    assert read_tree(tmp_path / "local-covers") == LOCAL_COVERS


def test_referenced_pull_refuses_prefixes_and_storage(dump: Any) -> None:
    for extra in (["photos"], ["--storage", "default"]):
        with pytest.raises(CommandError, match="--referenced copies what each FileField"):
            call_command("storage_pull", "--referenced", *extra)
    with pytest.raises(CommandError, match="go with --referenced"):
        call_command("storage_pull", "photos", "--model", "testapp.Gallery")
    with pytest.raises(CommandError, match="at least one PREFIX"):
        call_command("storage_pull")


def test_referenced_pull_skips_fields_without_a_stack(
    dump: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Gallery._meta.get_field("cover"), "storage", storages["production"])
    _out, err, _error = pull("--field", "cover")
    assert "testapp.Gallery.cover: skipped, its storage S3Storage('production-media') is not" in err


def test_referenced_pull_copies_a_file_once_whatever_its_spellings(
    dump: Any, s3: Any, tmp_path: Path
) -> None:
    # Issue 21: rows spelling one name in several ways ("scans//s.tif",
    # "./scans/s.tif") had the file copied once per spelling.
    for spelling in ("scans//s.tif", "./scans/s.tif", "scans/./s.tif"):
        Scan.objects.create(scan=spelling)
    # S3 can hold a key "scans//s.tif" beside "scans/s.tif"; the stack reads
    # every spelling above as "scans/s.tif" (django-storages cleans names),
    # so that is the object pulled, once.
    s3.put("scans//s.tif", b"another object, which the stack never reads")
    Scan.objects.create(scan="scans/S.tif")  # another name: another object
    s3.put("scans/S.tif", b"TIFF capital")
    s3.server.clear_requests()
    out, err, error = pull("--field", "scan")
    assert error is None, err
    assert "Copied 2 file(s)" in out
    assert read_tree(tmp_path / "local") == {
        **LOCAL,
        "scans/s.tif": PRODUCTION["scans/s.tif"],
        "scans/S.tif": b"TIFF capital",
    }
    gets = sorted(r.key for r in s3.server.requests() if r.method == "GET" and r.key)
    assert gets == ["scans/S.tif", "scans/s.tif"]
    no_head_and_no_mutation(s3)
    _out, _err, error = pull("--field", "scan")
    assert error is None


def test_a_spelling_that_is_hidden_is_counted_once(
    s3: Any, settings: Any, use_storages: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put("covers/gone.jpg", b"deleted in development")
    stack = Fallback(
        FileSystemStorage(location=tmp_path / "local"), ReadOnly(s3.storage()), on_delete="hide"
    )
    stack.delete("covers/gone.jpg")
    monkeypatch.setattr(Gallery._meta.get_field("cover"), "storage", stack)
    Gallery.objects.create(cover="covers/gone.jpg")
    Gallery.objects.create(cover="covers//gone.jpg")
    out, _err, error = pull("--field", "cover")
    assert error is None
    assert "Copied 0 file(s), 0 bytes; 0 already present; 0 conflict(s); 0 failed; " in out
    assert "1 hidden by a tombstone;" in out


# -- a dangling symlink in the local layer --------------------------------------


def test_a_dangling_local_symlink_serves_nothing(dump: Any, s3: Any, tmp_path: Path) -> None:
    # Issue 21: with a dangling link "attachments/prod.pdf" in the local layer,
    # storage_audit said production serves the file while which() and url()
    # named the link (and open() read production's bytes).
    link = tmp_path / "local" / "attachments" / "prod.pdf"
    link.symlink_to(tmp_path / "nowhere.pdf")
    stack = storages["default"]
    report, _error = audit("--field", "attachment", "--verbosity", "2")
    served = by_field(report)["testapp.Gallery.attachment"]["served"]
    assert served["attachments/prod.pdf"] == "[1] ReadOnly(S3Storage('production-media'))"
    assert stack.which("attachments/prod.pdf") is stack.layers[1]
    assert stack.url("attachments/prod.pdf").startswith(s3.server.endpoint_url)
    with stack.open("attachments/prod.pdf") as handle:
        assert handle.read() == PRODUCTION["attachments/prod.pdf"]
    with pytest.raises(NotImplementedError, match="only in layers without local paths"):
        stack.path("attachments/prod.pdf")
    assert stack.exists("attachments/prod.pdf")
    # Where only the link has the name, the name is taken (a save picks
    # another, as FileSystemStorage's own exists() says) but no layer serves it.
    (tmp_path / "local" / "attachments" / "only-a-link.pdf").symlink_to(tmp_path / "nowhere")
    assert stack.exists("attachments/only-a-link.pdf")
    assert stack.which("attachments/only-a-link.pdf") is None
    row = Gallery.objects.create(attachment="attachments/only-a-link.pdf")
    report, _error = audit("--field", "attachment")
    broken = by_field(report)["testapp.Gallery.attachment"]["broken"]
    assert {
        "name": "attachments/only-a-link.pdf",
        "rows": 1,
        "why": "in no layer",
        "ids": [row.pk],
    } in broken


def test_a_pull_leaves_a_dangling_local_symlink_as_a_conflict(
    dump: Any, s3: Any, tmp_path: Path
) -> None:
    link = tmp_path / "local" / "attachments" / "prod.pdf"
    link.symlink_to(tmp_path / "nowhere.pdf")
    for args in (["--referenced", "--field", "attachment"], ["attachments"]):
        for force in ([], ["--force"]):
            err = StringIO()
            with pytest.raises(CommandError, match="1 file\\(s\\) not copied"):
                call_command("storage_pull", *args, *force, stdout=StringIO(), stderr=err)
            assert (
                "attachments/prod.pdf (20 bytes): conflict, not copied: "
                "'attachments/prod.pdf' is a dangling symlink locally"
            ) in err.getvalue(), (args, force)
            assert link.is_symlink() and not (tmp_path / "nowhere.pdf").exists()
