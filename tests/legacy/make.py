"""Write the fixtures: ``python -m tests.legacy.make VERSION`` (run once, by the
version whose output they keep; never again for that version).

``VERSION.pickle`` holds a dict of the stacks and errors of ``stacks``;
``VERSION-deconstruct.json`` the ``deconstruct()`` output of each stack, and
the source and imports that ``makemigrations`` writes for it.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import django
from django.conf import settings
from django.db.migrations.writer import MigrationWriter

HERE = Path(__file__).parent


def main(version: str) -> None:
    from tests.legacy import stacks

    built = stacks.stacks()
    objects = {**built, **stacks.errors(), "InMemoryStorage stack": stacks.in_memory()}
    (HERE / f"{version}.pickle").write_bytes(pickle.dumps(objects, protocol=4))
    deconstructed = {}
    for label, stack in built.items():
        source, imports = MigrationWriter.serialize(stack)
        deconstructed[label] = {
            "deconstruct": stack.deconstruct(),
            "migration": {"source": source, "imports": sorted(imports)},
        }
    text = json.dumps(deconstructed, indent=1, sort_keys=True)
    (HERE / f"{version}-deconstruct.json").write_text(text + "\n")


if __name__ == "__main__":
    settings.configure(
        **{
            name: getattr(__import__("tests.settings", fromlist=["x"]), name)
            for name in ("INSTALLED_APPS", "DATABASES", "STORAGES", "CACHES", "USE_TZ")
        },
        MEDIA_ROOT="/srv/storage-mixins-legacy/media",
    )
    django.setup()
    main(sys.argv[1])
