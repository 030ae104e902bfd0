"""Evidence 2: outlines — the members of the class (struct, trait…) around the cursor, and the
other top-level definitions of the cursor's file, one line each. (`evidence_definitions`
adds the outline of an imported module with `add_file_outline`.)"""

from __future__ import annotations

from deskmate.context.evidence import Candidate, Request, first_line
from deskmate.context.symbols import Definition

CLASS_OUTLINE = 0.4
MODULE_OUTLINE = 0.3
MAX_OUTLINE_LINES = 60

_CONTAINERS = frozenset({"class", "struct", "interface", "trait", "enum"})


def outline(request: Request) -> None:
    """The enclosing container's members, and what else this file defines."""
    cursor, definitions = request.cursor, request.definitions
    enclosing = [d for d in definitions
                 if d.kind in _CONTAINERS and d.start_line <= request.line <= d.end_line]
    if enclosing:
        owner = max(enclosing, key=lambda d: d.start_line)
        owned = [d for d in definitions if d.parent == owner.name]
        _add_members(request, cursor.path, owner, owned, CLASS_OUTLINE,
                     f"members of {owner.name}")
    top_level = [d for d in definitions if not d.parent]
    if len(top_level) > 1:
        _add_lines(request, cursor.path, top_level, MODULE_OUTLINE, "what else this file defines")


def add_file_outline(request: Request, path: str, score: float, reason: str) -> None:
    """The top-level definitions of an indexed file."""
    symbols = request.index.file(path) if request.index else None
    if symbols is not None:
        _add_lines(request, path, [d for d in symbols.definitions if not d.parent], score,
                   reason)


def _add_members(request: Request, path: str, owner: Definition, members: list[Definition],
                 score: float, reason: str) -> None:
    if not members:
        return
    lines = [owner.signature.splitlines()[0] if owner.signature else owner.name]
    lines += ["    " + first_line(m.signature) for m in members]
    request.found.add(Candidate("outline", path, owner.start_line, owner.end_line,
                                "\n".join(lines) + "\n", score, reason))


def _add_lines(request: Request, path: str, definitions: list[Definition], score: float,
               reason: str) -> None:
    if not definitions:
        return
    text = "\n".join(first_line(d.signature) for d in definitions[:MAX_OUTLINE_LINES]) + "\n"
    request.found.add(Candidate("outline", path, min(d.start_line for d in definitions),
                                max(d.end_line for d in definitions), text, score, reason))
