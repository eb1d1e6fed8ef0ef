"""Which recording is active where: this context's, or the one that boto3's
transfer threads carry.

A recording follows the context: threads and tasks that copy it
(``asgiref.sync_to_async``, ``asyncio`` tasks, a ``ThreadPoolExecutor`` given
``contextvars.copy_context().run``) record into the same one.
"""

from __future__ import annotations

import copy
import sys
from contextvars import ContextVar
from typing import Any

__all__ = ["carry", "current", "current_state", "uncarry"]

#: ``None``, the active ``Recording``, or, inside an outermost call, its ``Call``.
current: ContextVar[Any] = ContextVar("storage_mixins_recording", default=None)


def current_state() -> Any:
    """The active recording or call here, or the one a transfer thread carries."""
    state = current.get()
    return _carried_state() if state is None else state


# boto3's transfer threads (s3transfer) do not run in the caller's context, but
# s3transfer hands them botocore's own context variable (botocore.context, which
# botocore copies for every API call). A subclass of its ClientContext carries
# the recording there; without it (older botocore), those requests go uncounted.


def _carrier_type() -> Any:
    # The module as sys.modules has it (Any): botocore may never be imported.
    botocore_context: Any = sys.modules.get("botocore.context")
    if botocore_context is None:
        if "botocore" not in sys.modules:
            return None
        try:
            import botocore.context as botocore_context
        except ImportError:
            return None
    carrier = getattr(botocore_context, "_storage_mixins_carrier", None)
    if carrier is None:

        class Carrier(botocore_context.ClientContext):  # type: ignore[misc]  # looked up: Any
            recording_state: Any = None

            def __deepcopy__(self, memo: dict[int, Any]) -> Any:
                copied = Carrier(features=copy.deepcopy(self.features, memo))
                copied.recording_state = self.recording_state
                return copied

        carrier = botocore_context._storage_mixins_carrier = Carrier
    return botocore_context, carrier


def carry(state: Any) -> Any:
    found = _carrier_type()
    if found is None:
        return None
    botocore_context, carrier_type = found
    outer = botocore_context.get_context()
    carrier = carrier_type(features=set(outer.features) if outer is not None else set())
    carrier.recording_state = state
    return botocore_context, botocore_context.set_context(carrier)


def uncarry(carried: Any) -> None:
    botocore_context, token = carried
    botocore_context.reset_context(token)


def _carried_state() -> Any:
    botocore_context = sys.modules.get("botocore.context")
    if botocore_context is None:
        return None
    return getattr(botocore_context.get_context(), "recording_state", None)
