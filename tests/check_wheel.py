"""Run by tox with ``python -I``: the installed package, not the checkout, has
everything a project needs (a wheel that left out a subpackage or a data file
would pass the tests, which import the checkout)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import pathlib
import pkgutil
import sys

import storage_mixins

root = pathlib.Path(storage_mixins.__file__).parent
checkout = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "storage_mixins")
assert root.resolve() != checkout.resolve(), f"{root} is the checkout, not the installed wheel"

expected = {
    str(path.relative_to(checkout))
    for path in checkout.rglob("*")
    if path.is_file()
    and path.suffix in {".py", ".html", ".typed"}
    and "__pycache__" not in path.parts
}
installed = {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}
missing = sorted(expected - installed)
assert not missing, f"the wheel lacks {missing}"

for module in pkgutil.walk_packages([str(root)], prefix="storage_mixins."):
    if module.name.split(".")[-1] in {"panels"}:
        continue  # needs the optional django-debug-toolbar; imported by its tests
    if module.name.startswith("storage_mixins.management.commands."):
        continue  # need configured settings; their files are checked above
    if module.name.startswith("storage_mixins.contrib."):
        continue  # integrations need their app and settings; the apps suite imports them
    if module.name == "storage_mixins.testing.pytest_plugin" and not importlib.util.find_spec(
        "pytest"
    ):
        continue  # pytest loads it, so pytest is there; tests/test_testing.py imports it
    importlib.import_module(module.name)

# The Django the tox environment is named after, not one that a package of the
# test group upgraded it to (an environment for Django 4.2 ran Django 5.2 so).
series = os.environ.get("EXPECTED_DJANGO")
if series:
    import django

    assert django.get_version().startswith(f"{series}."), (
        f"Django {django.get_version()} is installed where this environment tests Django "
        f"{series}: a dependency upgraded it (install a version of it that supports "
        f"Django {series} with Django, in tox.ini's deps)"
    )

print(f"installed package complete: {len(installed)} files")
