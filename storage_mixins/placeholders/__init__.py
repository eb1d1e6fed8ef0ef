"""Placeholders: media that exist nowhere, made up per name, so that every
image the database refers to renders, at its real size.

* ``storage``: the :class:`Placeholders` storage, which goes last in a stack;
* ``kinds``: what a name stands for (an image format, a PDF, an empty file);
* ``images``: drawing an image with Pillow (an extra);
* ``sizes``: the rows that refer to a name, and the size they record;
* ``views``, ``urls``: serving placeholders over HTTP in development.

It reads the database (what the models' ``FileField`` columns hold), so it
sits with the Django integration, on top of the layers
(docs/architecture.rst).
"""

from .storage import Placeholders

__all__ = ["Placeholders"]
