"""The privacy gate: whether a document may reach a model at all, decided once, before any
context is gathered, for every job and both faces.

The verdict is the context package's (`context/privacy.py`): inside the workspace, the
workspace's rules (built-in secret and binary rules, ignore files, `[privacy] exclude`);
outside it, the same built-in rules by name (a `.env` or `~/.ssh/config` opened on its own).
The context engine refuses an excluded cursor document too, as a second line of defence."""

from __future__ import annotations

from deskmate.context.engine import ContextEngine
from deskmate.context.privacy import outside_reason
from deskmate.server.errors import DeskmateError
from deskmate.server.jobs.snapshot import DocumentSnapshot


class Excluded(DeskmateError):
    """The document may not reach a model; the message says which file and why."""

    def __init__(self, shown_path: str, reason: str) -> None:
        super().__init__(f"{shown_path} is excluded ({reason}); nothing from it is sent "
                         f"to a model")
        self.reason = reason


def exclusion(snapshot: DocumentSnapshot, engine: ContextEngine) -> str | None:
    """Why the snapshot's document must never reach a model, or None when it may."""
    if snapshot.relative is not None and engine.workspace is not None:
        return engine.exclusion_reason(snapshot.relative)
    return outside_reason(snapshot.path)


def check(snapshot: DocumentSnapshot, engine: ContextEngine) -> None:
    """Raise Excluded when the document may not reach a model."""
    if (reason := exclusion(snapshot, engine)) is not None:
        raise Excluded(snapshot.shown_path, reason)
