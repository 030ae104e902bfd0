"""The privacy gate: whether a document may reach a model at all, decided once, before any
context is gathered, for every job and both faces.

The verdict is the context package's (`context/privacy.py`), and every rule that can speak
does: inside the workspace, the workspace's rules (built-in secret and binary rules, ignore
files, `[privacy] exclude`) on the path relative to the root; and wherever the document is,
the built-in rules by name on its whole path, as given and as it resolves (`path_reason`) —
a folder of secrets above the workspace root (`~/.ssh` opened as the workspace), a document
with no workspace at all (Neovim's single-file mode), or one reached through a folder link
inside the workspace (`ws/link-to-home/.ssh/config`). An editor's view of a file (a `git:`
URI) arrives here as the path of the file it shows, with no workspace path of its own; when
that file lies in the workspace, the workspace's rules judge it too. The context engine
refuses an excluded cursor document as well, as a second line of defence."""

from __future__ import annotations

from deskmate.context.engine import ContextEngine
from deskmate.context.privacy import path_reason
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
    relative = snapshot.relative
    if relative is None and snapshot.path.is_absolute():
        # Never a relative path: that would be resolved against the server's working folder.
        relative = engine.relative(snapshot.path)
    if relative is not None and engine.workspace is not None and \
            (reason := engine.exclusion_reason(relative)) is not None:
        return reason
    return path_reason(snapshot.path)


def check(snapshot: DocumentSnapshot, engine: ContextEngine) -> None:
    """Raise Excluded when the document may not reach a model."""
    if (reason := exclusion(snapshot, engine)) is not None:
        raise Excluded(snapshot.shown_path, reason)
