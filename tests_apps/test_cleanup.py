"""django-cleanup over the stack: deleting rows, and replacing files, whose
files are only in production, under each ``on_delete`` policy."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.base import ContentFile

from storage_mixins import ReadOnlyError
from tests_apps.gallery.models import Attachment

pytestmark = [pytest.mark.apps("django_cleanup"), pytest.mark.django_db]

PRODUCTION_FILE = "attachments/report.pdf"
POLICIES = ["ignore", "raise", "hide"]


@pytest.fixture(params=POLICIES, ids=[f"on_delete={p}" for p in POLICIES])
def policy(request: pytest.FixtureRequest, media: Any, settings: Any) -> str:
    default = settings.STORAGES["default"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**default, "OPTIONS": {**default["OPTIONS"], "on_delete": request.param}},
    }
    media.production.put(PRODUCTION_FILE, b"%PDF production report")
    return request.param


@pytest.fixture
def outcomes() -> Iterator[list[dict[str, Any]]]:
    """What django-cleanup reports for each file it deletes."""
    from django_cleanup.signals import cleanup_post_delete

    reported: list[dict[str, Any]] = []

    def record(sender: Any, **event: Any) -> None:
        reported.append(event)

    cleanup_post_delete.connect(record)
    yield reported
    cleanup_post_delete.disconnect(record)


def assert_outcome(policy: str, media: Any, event: dict[str, Any], caplog: Any) -> None:
    """The production-only file after django-cleanup deleted it, per policy."""
    assert event["file_name"] == PRODUCTION_FILE
    if policy == "raise":
        assert event["success"] is False
        assert isinstance(event["error"], ReadOnlyError)
        assert "There was an exception deleting the file" in caplog.text  # logged by django-cleanup
    else:
        assert event["success"] is True
        assert event["error"] is None
    # "hide" hides the production copy from the stack; the others leave it shown.
    assert media.stack.exists(PRODUCTION_FILE) is (policy != "hide")
    media.production.assert_untouched()


def test_deleting_a_row_whose_file_only_production_has(
    media: Any,
    policy: str,
    outcomes: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    attachment = Attachment.objects.create(file=PRODUCTION_FILE)
    caplog.set_level(logging.INFO)
    with (
        media.production.operation(f"django-cleanup: delete row (on_delete={policy})", "1 HEAD"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        attachment.delete()
    (event,) = outcomes
    assert_outcome(policy, media, event, caplog)
    if policy == "ignore":
        assert "did nothing: the file is only in layers that are not written to" in caplog.text
    if policy == "hide":
        assert any(name.startswith(".storage-mixins/") for name in media.local_files())


def test_replacing_a_file_only_production_has(
    media: Any,
    policy: str,
    outcomes: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    attachment = Attachment.objects.create(file=PRODUCTION_FILE)
    attachment = Attachment.objects.get(pk=attachment.pk)  # as a request would load it
    attachment.file = ContentFile(b"%PDF dev report", name="report.pdf")
    with (
        media.production.operation(f"django-cleanup: replace file (on_delete={policy})", "3 HEAD"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        attachment.save()
    # The new file is local, under a name production does not have.
    assert attachment.file.name != PRODUCTION_FILE
    assert attachment.file.name.startswith("attachments/report")
    assert attachment.file.name in media.local_files()
    (event,) = outcomes
    assert_outcome(policy, media, event, caplog)


def test_replacing_a_local_file_deletes_it(
    media: Any, policy: str, outcomes: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    attachment = Attachment.objects.create(file=ContentFile(b"first", name="draft.txt"))
    first = attachment.file.name
    assert first in media.local_files()
    attachment.file = ContentFile(b"second", name="draft.txt")
    with (
        media.production.operation(
            f"django-cleanup: replace a local file (on_delete={policy})",
            "2 HEAD" if policy == "hide" else "1 HEAD",
            production_first="2 HEAD" if policy == "hide" else "1 HEAD",
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        attachment.save()
    assert [event["success"] for event in outcomes] == [True]
    assert first not in media.local_files()
    assert attachment.file.name in media.local_files()
    media.production.assert_untouched()
