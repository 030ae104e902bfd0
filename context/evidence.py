"""What every evidence source shares: the candidate type, the cursor (or selection), and the
`Request` a source reads — the cursor file's symbols and the identifiers near the cursor, the
workspace index, the texts of open documents and files — and adds its candidates to.

The sources themselves, one module each, in the order `retrieve.py` runs them:
`evidence_definitions.py` (through imports, module members, defined here, by name),
`evidence_outline.py`, `evidence_recent.py`, `evidence_open.py`, `evidence_similar.py`."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from deskmate.context.documents import Text, Texts
from deskmate.context.index import WorkspaceIndex
from deskmate.context.lexical import terms
from deskmate.context.redact import redact
from deskmate.context.symbols import Definition, Import

NEAR_BEFORE, NEAR_AFTER = 40, 10  # lines around the cursor whose identifiers count
BODY_FACTOR = 0.6  # a body is worth this much of its signature's score, on top of it
BODY_WORTHY = 0.3  # weaker evidence is not worth reading the file for a body
MAX_BODY_LINES = 80
OUTLINE_WIDTH = 100  # characters of each outline line

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Candidate:
    kind: str  # definition | outline | recent | open | similar
    path: str
    start_line: int
    end_line: int
    text: str
    score: float
    reason: str
    # A body candidate supersedes the signature candidate with this key once included.
    supersedes: str = ""
    # Secrets already replaced in `text` (it was cut from its file's redacted text).
    redactions: int = 0

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.path}:{self.start_line}-{self.end_line}:{self.supersedes != ''}"


@dataclass(frozen=True, slots=True)
class Cursor:
    """A cursor at `offset` in `text`, or with `end` the selection [offset, end). `text` may
    be a part of the file that starts at line `first_line` (a large document)."""

    path: str
    language: str
    text: str
    offset: int
    end: int | None = None
    first_line: int = 1

    @property
    def line(self) -> int:
        """The line of the cursor (the selection's first line), counted in `text`."""
        return self.text.count("\n", 0, self.offset) + 1

    @property
    def end_line(self) -> int:
        """The selection's last line (the cursor's line when there is no selection)."""
        if self.end is None or self.end <= self.offset:
            return self.line
        return self.text.count("\n", 0, self.end - 1) + 1


@dataclass(frozen=True, slots=True)
class RecentEdit:
    path: str
    line: int  # 1-based
    age_s: float


class Collector:
    """Candidates by key, keeping the best score when evidence repeats."""

    def __init__(self) -> None:
        self._by_key: dict[str, Candidate] = {}

    def add(self, candidate: Candidate) -> None:
        if not candidate.text.strip():
            return
        existing = self._by_key.get(candidate.key)
        if existing is None or candidate.score > existing.score:
            self._by_key[candidate.key] = candidate

    def sorted(self) -> list[Candidate]:
        return sorted(self._by_key.values(), key=lambda c: (-c.score, c.path, c.start_line))


@dataclass
class Request:
    """One window's retrieval: what the sources read, and `found`, where they add."""

    cursor: Cursor
    index: WorkspaceIndex | None
    texts: Texts
    recent_edits: Sequence[RecentEdit]
    definitions: tuple[Definition, ...]  # the cursor file's, as it is now
    imports: tuple[Import, ...]
    # The cursor's text as the other texts are, redacted when read (`text_of`); the store's
    # entry when the engine has one, so its secrets are found once for sources and packer.
    cursor_text: Text | None = None
    found: Collector = field(default_factory=Collector)
    # Files the cursor file's imports lead to, and module names bound by them (local name →
    # the import and its files): filled by the imports source, read by later ones.
    imported_files: set[str] = field(default_factory=set)
    modules: dict[str, tuple[Import, list[str]]] = field(default_factory=dict)
    # Derived once from the cursor, for every source:
    line: int = field(init=False)  # the cursor's line (a selection's first), in its text
    end_line: int = field(init=False)  # a selection's last line
    near_lines: list[tuple[int, str, float]] = field(init=False)  # see _near_lines
    near: dict[str, float] = field(init=False)  # identifier → closeness (1.0 at the cursor)
    code: str = field(init=False)  # the cursor's text without its import lines
    uses: Counter[str] = field(init=False)  # identifiers in `code`
    query: list[str] = field(init=False)  # the lexical query: terms of the near identifiers

    def __post_init__(self) -> None:
        if self.cursor_text is None or self.cursor_text.text is not self.cursor.text:
            self.cursor_text = Text(self.cursor.path, self.cursor.text, version=None,
                                    large=False)
        self.line, self.end_line = self.cursor.line, self.cursor.end_line
        self.near_lines = _near_lines(self.cursor, self.line, self.end_line)
        self.near = _near_words(self.cursor, self.near_lines, self.line)
        skip = {i.line for i in self.imports}
        self.code = self.cursor.text if not skip else "\n".join(
            line for number, line in enumerate(self.cursor.text.split("\n"), start=1)
            if number not in skip)
        self.uses = Counter(WORD.findall(self.code))
        self.query = [t for word in self.near for t in terms(word)]

    # -- texts -------------------------------------------------------------------------------

    def text_of(self, path: str) -> Text | None:
        """A file's text, to cut snippets from (`Text.between`, redacted): the cursor's text
        for the cursor's file (the definitions found in it are numbered in it), else the open
        document, else the file on disk."""
        if path == self.cursor.path:
            return self.cursor_text
        return self.texts.get(path)

    def edited_lines(self, path: str) -> list[int]:
        """Lines of `path` edited recently, the most recent first."""
        return [e.line for e in self.recent_edits if e.path == path]

    # -- the index ---------------------------------------------------------------------------

    def resolve(self, imported: Import) -> list[str]:
        """The files an import of the cursor file leads to, the cursor file left out."""
        if self.index is None:
            return []
        files, _ = self.index.resolve(self.cursor.path, self.cursor.language, imported)
        return [f for f in files if f != self.cursor.path]

    def definitions_in(self, files: Iterable[str], name: str, *, parent: str | None = None
                       ) -> list[Definition]:
        """Definitions of `name` in `files`: those not inside a class first, then (or, with
        `parent`, only) those of that class (Java's everything-in-a-class, `Mod.member`)."""
        if self.index is None:
            return []
        outside, inside = [], []
        for path in files:
            symbols = self.index.file(path)
            for definition in symbols.definitions if symbols is not None else ():
                if definition.name != name:
                    continue
                if parent is not None:
                    if definition.parent == parent:
                        inside.append(definition)
                elif definition.kind == "method":
                    inside.append(definition)
                else:
                    outside.append(definition)
        return outside or inside

    def by_name(self, name: str) -> list[Definition]:
        """Definitions of `name` in other files, methods left out (they share names too
        often: every class has a `get`)."""
        if self.index is None:
            return []
        return [d for d in self.index.definitions_named(name)
                if d.path != self.cursor.path and d.kind != "method"]

    # -- adding candidates -------------------------------------------------------------------

    def add_definition(self, definition: Definition, score: float, reason: str) -> None:
        """A definition's signature and documentation; with strong enough evidence, also its
        body (which replaces the signature if the packer has room for it)."""
        symbols = self.index.file(definition.path) if self.index else None
        language = symbols.language if symbols else (
            self.cursor.language if definition.path == self.cursor.path else "")
        summary = definition_summary(definition, language)
        self.found.add(Candidate("definition", definition.path, definition.start_line,
                                 definition.end_line, summary, score, reason))
        if score < BODY_WORTHY:
            return
        source = self.text_of(definition.path)
        if source is None:
            return
        body, redactions = source.between(
            definition.start_line,
            min(definition.end_line, definition.start_line + MAX_BODY_LINES - 1))
        if body.strip() and len(body) > len(summary):
            signature_key = Candidate("definition", definition.path, definition.start_line,
                                      definition.end_line, "", 0, "").key
            self.found.add(Candidate("definition", definition.path, definition.start_line,
                                     definition.end_line, _dedent(body), score * BODY_FACTOR,
                                     reason + " (with its body)", supersedes=signature_key,
                                     redactions=redactions))


def definition_summary(definition: Definition, language: str) -> str:
    """Signature and documentation, without the body: what a caller needs to know."""
    signature = definition.signature.rstrip()
    if language == "python":
        text = signature
        if definition.doc:
            doc = definition.doc.strip("\n")
            indented = "\n".join(("    " + line) if line.strip() else "" for line in
                                 doc.splitlines())
            text += f'\n    """{indented.lstrip()}"""' if "\n" not in doc else \
                f'\n    """\n{indented}\n    """'
        return text + "\n    ...\n"
    doc = definition.doc.rstrip()
    body = "" if signature.endswith(";") else (" { ... }" if language not in ("c", "cpp") or
                                               definition.kind != "macro" else "")
    return (doc + "\n" if doc else "") + signature + body + "\n"


def first_line(signature: str) -> str:
    """The line of a signature that names the definition (decorators, annotations and
    attributes skipped), cut to OUTLINE_WIDTH characters."""
    lines = [line.strip() for line in signature.splitlines() if line.strip()]
    named = next((line for line in lines if not line.startswith(("@", "#[", "#!["))),
                 lines[0] if lines else "")
    if len(named) <= OUTLINE_WIDTH:
        return named
    # Redacted before it is cut: a secret cut short is no longer recognizable as one.
    named = redact(named)[0]
    return named if len(named) <= OUTLINE_WIDTH else named[:OUTLINE_WIDTH - 3] + "..."


def _near_lines(cursor: Cursor, line: int, end_line: int) -> list[tuple[int, str, float]]:
    """(0-based number, text, weight) of the lines whose identifiers count as near: the
    cursor's line or the selection's lines (weight 1), NEAR_BEFORE lines above and NEAR_AFTER
    below (weighted by their distance)."""
    lines = cursor.text.split("\n")
    first, last = line - 1, end_line - 1
    near = []
    for number in range(max(first - NEAR_BEFORE, 0), min(last + NEAR_AFTER + 1, len(lines))):
        distance = first - number if number < first else max(number - last, 0)
        near.append((number, lines[number], 1.0 / (1.0 + distance / 8)))
    return near


def _near_words(cursor: Cursor, near_lines: Iterable[tuple[int, str, float]], line: int
                ) -> dict[str, float]:
    """Identifiers near the cursor, weighted by closeness (1.0 on the cursor's line, of which
    only the part before the cursor counts; 1.0 in a selection)."""
    cut_line, cut = -1, 0
    if cursor.end is None:
        cut_line = line - 1
        cut = cursor.offset - (cursor.text.rfind("\n", 0, cursor.offset) + 1)
    weights: dict[str, float] = {}
    for number, text, weight in near_lines:
        for word in WORD.findall(text[:cut] if number == cut_line else text):
            if weights.get(word, 0.0) < weight:
                weights[word] = weight
    return weights


def _dedent(text: str) -> str:
    lines = text.splitlines(keepends=True)
    indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    return "".join(line[cut:] if line.strip() else line.lstrip(" \t") for line in lines)
