"""What every job receives: one document as it was when the job was asked for.

Both faces build one — the LSP side from the open document, the CLI from the file on disk —
and the job never looks at the live document again: a result is computed for exactly this
text and version, and the runner checks at the end that the document has not moved on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deskmate.server.errors import DeskmateError


@dataclass(frozen=True, kw_only=True)
class DocumentSnapshot:
    key: str  # identifies the document across requests: its URI, or its path on the CLI
    path: Path  # where the document lives on disk (absolute)
    relative: str | None  # workspace-relative path with '/', None when outside the workspace
    version: int | None  # the editor's version; None for a file read from disk
    text: str
    language: str  # the editor's language id, or the file's extension
    offset: int  # the cursor, or the start of the selection (index into `text`)
    end: int | None = None  # the end of the selection; None for a cursor
    # `text` is the document from offset `base` (line `first_line`, 1-based) on: all of it,
    # but for an editor's document too large to copy per request, of which it is the part
    # around the cursor that the context engine reads (`Document.part`).
    base: int = 0
    first_line: int = 1

    @property
    def shown_path(self) -> str:
        """The path as the model (and the user's messages) see it."""
        return self.relative if self.relative is not None else self.path.name

    @property
    def selection(self) -> str:
        return self.text[self.offset:self.end] if self.end is not None else ""

    @classmethod
    def from_file(cls, file: Path, *, workspace: Path, line: int, column: int,
                  end: tuple[int, int] | None = None) -> DocumentSnapshot:
        """A file on disk at 1-based LINE:COL (COL counting characters), for the CLI.
        Raises DeskmateError with a message naming what to change."""
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DeskmateError(f"cannot read {file}: {exc}") from None
        text = text.removeprefix("\ufeff")
        offset = offset_of(text, line, column, name=str(file))
        end_offset = None
        if end is not None:
            end_offset = offset_of(text, *end, name=str(file))
            if end_offset < offset:
                raise DeskmateError(f"the selection ends ({end[0]}:{end[1]}) before it "
                                    f"starts ({line}:{column})")
        absolute = file.resolve()
        try:
            relative: str | None = absolute.relative_to(workspace.resolve()).as_posix()
        except ValueError:
            relative = None
        return cls(key=str(absolute), path=absolute, relative=relative, version=None,
                   text=text, language=file.suffix.lstrip("."), offset=offset, end=end_offset)


def offset_of(text: str, line: int, column: int, *, name: str) -> int:
    """Index into `text` of 1-based LINE:COL, COL counting characters; COL may be one past
    the line's last character (the end of the line)."""
    lines = text.split("\n")
    if line > len(lines):
        raise DeskmateError(f"{name} has {len(lines)} lines; line {line} does not exist")
    content = lines[line - 1].rstrip("\r")
    if column > len(content) + 1:
        raise DeskmateError(f"{name}:{line} has {len(content)} characters; column {column} is "
                            f"past its end (the end is column {len(content) + 1})")
    return sum(len(x) + 1 for x in lines[: line - 1]) + column - 1
