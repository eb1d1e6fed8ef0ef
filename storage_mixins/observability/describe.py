"""``describe()``: a stack drawn as a tree."""

from __future__ import annotations

from django.core.files.storage import Storage

from ..core.labels import storage_label
from ..core.stack import is_read_only, is_wrapper

__all__ = ["describe"]


def describe(storage: Storage) -> str:
    """Draw ``storage`` as a tree: wrappers and their options, layers in order,
    which layer takes writes and which refuse them. For example::

        FallbackStorage  (writes go to [0])
        ├── [0] FileSystemStorage('/srv/media')  ← writes
        └── [1] ReadOnly  (refuses writes)
            └── S3Storage('production-media')
    """
    lines: list[str] = []
    _draw(storage, "", "", "", "", lines)
    return "\n".join(lines)


def _draw(
    storage: Storage, prefix: str, suffix: str, indent: str, child_indent: str, lines: list[str]
) -> None:
    if is_wrapper(storage):
        title, children = storage.describe_node()  # type: ignore[attr-defined]  # a wrapper's
    else:
        title, children = storage_label(storage), []
        if is_read_only(storage):  # a backend that cannot write (HTTPStorage)
            title += "  (read-only by construction)"
    lines.append(f"{indent}{prefix}{title}{suffix}")
    for index, (child_prefix, child, child_suffix) in enumerate(children):
        last = index == len(children) - 1
        _draw(
            child,
            child_prefix,
            child_suffix,
            child_indent + ("└── " if last else "├── "),
            child_indent + ("    " if last else "│   "),
            lines,
        )
