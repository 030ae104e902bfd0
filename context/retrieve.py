"""Candidate snippets for the window, each with a score and the reason it is there.

Order of value (DESIGN.md): definitions the code at the cursor uses — resolved through the
file's imports to other files, or by name through the symbol index — then the enclosing
class/module outline, then what the user is working on (recent edits, open documents), then
lexically similar windows. The packer (`pack.py`) chooses among them by value per token."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from deskmate.context.extract import extract
from deskmate.context.index import WorkspaceIndex
from deskmate.context.lexical import CountedFile, best_windows, counted_file, terms
from deskmate.context.live import LiveTrees
from deskmate.context.symbols import Definition, Import

# Scores: what each kind of evidence is worth before distance and ambiguity discounts.
IMPORTED_AND_USED_NEAR = 1.0
MODULE_MEMBER_USED_NEAR = 0.95
IMPORTED_NOT_YET_USED = 0.85  # an import nothing uses yet is about to be used
DEFINED_HERE_USED_NEAR = 0.6
IMPORTED_USED_ELSEWHERE = 0.5
MODULE_MEMBER_USED_ELSEWHERE = 0.45
SAME_NAME_ELSEWHERE = 0.5  # divided among the definitions sharing the name
CLASS_OUTLINE = 0.4
MODULE_OUTLINE = 0.3
RECENT_EDIT = 0.3
OPEN_DOCUMENT = 0.25
SIMILAR = 0.2
BODY_FACTOR = 0.6  # a body is worth this much of its signature's score, on top of it
BODY_WORTHY = 0.3  # weaker evidence is not worth reading the file for a body
FILE_CACHE_FILES = 64
WINDOW_CACHE_FILES = 64

NEAR_BEFORE, NEAR_AFTER = 40, 10  # lines around the cursor whose identifiers count
MAX_BODY_LINES = 80
OUTLINE_WIDTH = 100  # characters of each outline line
MAX_SAME_NAME = 4  # a name defined in more places than this is too ambiguous to chase
MAX_MEMBERS_ELSEWHERE = 12  # per module, the most used first
MAX_NEIGHBOUR_FILES = 4

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words too common to chase by name: the definitions they find are noise.
_COMMON = frozenset({
    "self", "cls", "this", "super", "none", "true", "false", "null", "nil", "return",
    "import", "from", "def", "class", "func", "fn", "let", "var", "const", "int", "str",
    "float", "bool", "list", "dict", "set", "tuple", "len", "print", "range", "type",
    "object", "string", "error", "err", "ctx", "args", "kwargs", "value", "values", "key",
    "keys", "item", "items", "result", "data", "name", "new", "make", "append",
})


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

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.path}:{self.start_line}-{self.end_line}:{self.supersedes != ''}"


@dataclass(frozen=True, slots=True)
class Cursor:
    path: str
    language: str
    text: str
    offset: int

    @property
    def line(self) -> int:
        return self.text.count("\n", 0, self.offset) + 1


@dataclass(frozen=True, slots=True)
class RecentEdit:
    path: str
    line: int  # 1-based
    age_s: float


class Retriever:
    def __init__(self, index: WorkspaceIndex | None, *, live: LiveTrees | None = None,
                 read_file: Callable[[str], str | None] | None = None) -> None:
        self.index = index
        self.live = live or LiveTrees()
        self.read_file = read_file or (lambda path: None)
        self._file_cache: dict[tuple[str, int], tuple[str, list[str]]] = {}
        self._window_cache: dict[tuple[str, int, int], CountedFile] = {}

    def candidates(
        self,
        cursor: Cursor,
        *,
        open_documents: Mapping[str, str] | None = None,
        recent_edits: Sequence[RecentEdit] = (),
    ) -> list[Candidate]:
        found = _Collector()
        definitions, imports = self._current_symbols(cursor)
        near = _near_words(cursor)
        uses = Counter(_WORD.findall(_without_import_lines(cursor.text, imports)))
        imported_files: set[str] = set()
        documents = dict(open_documents or {})

        chains = _member_chains(_without_import_lines(cursor.text, imports))
        modules: dict[str, tuple[Import, list[str]]] = {}
        for local, (imported, original) in _named_imports(imports).items():
            files, _ = self._resolve(cursor, imported)
            targets = self._definitions_in(files, original)
            if not targets:
                # `from pkg import module`, Java's `import a.b.C`, Rust's `use a::b::C`: the
                # name may be a module (or a file's own item) rather than something in `pkg`.
                separator = "::" if cursor.language == "rust" else "."
                if imported.module.endswith("."):  # `from . import module`: ".module"
                    separator = ""
                inner, _ = self._resolve(cursor, Import(imported.module + separator + original))
                if inner and not self._definitions_in(inner, original):
                    modules[local] = (imported, inner)
                    continue
                files = inner or files
                targets = self._definitions_in(files, original) or self._by_name(original, cursor)
            imported_files.update(files)
            if local in near:
                score, why = IMPORTED_AND_USED_NEAR * near[local], "used near the cursor"
            elif uses[local] == 0:
                score, why = IMPORTED_NOT_YET_USED, "imported, not used yet"
            else:
                score, why = IMPORTED_USED_ELSEWHERE, "used in this file"
            for definition in targets[:MAX_SAME_NAME]:
                self._add_definition(found, definition, score / max(len(targets), 1) ** 0.5,
                                     f"{original} from {imported.module}: {why}", documents)
            # `Imported.member(...)`: a class's method or a namespace's function.
            holders = sorted({d.path for d in targets[:MAX_SAME_NAME]})
            for member, weight in _members_used(cursor, local, near).items():
                for definition in self._definitions_in(holders, member,
                                                       parent=original)[:MAX_SAME_NAME]:
                    self._add_definition(found, definition, MODULE_MEMBER_USED_NEAR * weight,
                                         f"{local}.{member} used near the cursor", documents)

        for local, imported in _module_imports(cursor.language, imports).items():
            files, _ = self._resolve(cursor, imported)
            modules[local] = (imported, files)
            if cursor.language == "python" and not imported.alias and "." in imported.module:
                # `import a.b` also binds `a`: `a.f()` reaches a/__init__.py.
                top = imported.module.split(".")[0]
                modules.setdefault(top, (Import(top), self._resolve(cursor, Import(top))[0]))
        for local, (imported, files) in modules.items():
            imported_files.update(files)
            self._add_module_members(found, local, imported, files, near, chains, documents)
        local_names = {d.name for d in definitions}
        imported_names = set(_named_imports(imports)) | set(_module_imports(cursor.language,
                                                                            imports))
        for word, weight in near.items():
            if word in imported_names or word in _COMMON or len(word) < 3:
                continue
            if word in local_names:
                for definition in definitions:
                    if definition.name == word and not _covers(definition, cursor.line):
                        self._add_definition(found, definition,
                                             DEFINED_HERE_USED_NEAR * weight,
                                             f"{word} used near the cursor", documents)
                continue
            targets = [d for d in self._by_name(word, cursor) if d.path != cursor.path]
            if 0 < len(targets) <= MAX_SAME_NAME:
                for definition in targets:
                    boost = 1.5 if definition.path in imported_files else 1.0
                    self._add_definition(found, definition,
                                         min(SAME_NAME_ELSEWHERE * weight * boost, 0.9)
                                         / len(targets),
                                         f"{word} used near the cursor (found by name)",
                                         documents)

        enclosing = [d for d in definitions if d.kind in _CONTAINERS and _covers(d, cursor.line)]
        if enclosing:
            owner = max(enclosing, key=lambda d: d.start_line)
            owned = [d for d in definitions if d.parent == owner.name]
            self._add_outline_of(found, cursor.path, owner, owned, CLASS_OUTLINE,
                                 f"members of {owner.name}", cursor.language)
        top_level = [d for d in definitions if not d.parent]
        if len(top_level) > 1:
            self._add_outline_lines(found, cursor.path, top_level, MODULE_OUTLINE,
                                    "what else this file defines", cursor.language)

        for edit in recent_edits:
            text = documents.get(edit.path) if edit.path != cursor.path else cursor.text
            if text is None:
                text = self.read_file(edit.path)
            if text is None or (edit.path == cursor.path and abs(edit.line - cursor.line) < 20):
                continue
            self._add_window(found, "recent", edit.path, text, edit.line,
                             RECENT_EDIT / (1 + edit.age_s / 60), "recently edited")

        query = [t for word in near for t in terms(word)]
        if query:
            others = [self._counted(p, t) for p, t in documents.items() if p != cursor.path]
            for score, window in best_windows(query, others, top=2):
                found.add(Candidate("open", window.path, window.start_line, window.end_line,
                                    window.text, OPEN_DOCUMENT * _squash(score),
                                    "open in the editor, similar to the code at the cursor"))
            neighbours = [self._counted(p, t) for p, t in
                          self._neighbour_texts(cursor, imported_files, documents).items()]
            for score, window in best_windows(query, neighbours, top=3):
                found.add(Candidate("similar", window.path, window.start_line, window.end_line,
                                    window.text, SIMILAR * _squash(score),
                                    "similar to the code at the cursor"))
        return found.sorted()

    # -- helpers -----------------------------------------------------------------------------

    def _add_module_members(self, found: _Collector, local: str, imported: Import,
                            files: list[str], near: Mapping[str, float],
                            chains: Counter[tuple[str, str]],
                            documents: Mapping[str, str]) -> None:
        """Definitions behind `local.member` uses: near the cursor first, then the rest of the
        file's; with no member used anywhere, the module's outline."""
        if not files:
            return
        near_members = _members_used_near(near, local, chains)
        elsewhere = [(member, count) for (qualifier, member), count in chains.most_common()
                     if qualifier == local and member not in near_members]
        for member, weight in near_members.items():
            for definition in self._definitions_in(files, member)[:MAX_SAME_NAME]:
                self._add_definition(found, definition, MODULE_MEMBER_USED_NEAR * weight,
                                     f"{local}.{member} used near the cursor", documents)
        for member, _count in elsewhere[:MAX_MEMBERS_ELSEWHERE]:
            for definition in self._definitions_in(files, member)[:MAX_SAME_NAME]:
                self._add_definition(found, definition, MODULE_MEMBER_USED_ELSEWHERE,
                                     f"{local}.{member} used in this file", documents)
        # What else the module offers: the member about to be used may be none of those
        # used so far.
        score = MODULE_OUTLINE * (0.8 if near_members or elsewhere else 1.5)
        for path in files[:2]:
            self._add_outline(found, path, score, f"module {imported.module}, imported here",
                              documents)

    def _current_symbols(self, cursor: Cursor) -> tuple[tuple[Definition, ...], tuple[Import, ...]]:
        if not cursor.language:
            return (), ()
        source = cursor.text.encode("utf-8", "surrogatepass")
        tree = self.live.parse(cursor.path, cursor.language, source)
        return extract(cursor.language, source, cursor.path, tree)

    def _resolve(self, cursor: Cursor, imported: Import) -> tuple[list[str], str]:
        if self.index is None:
            return [], ""
        files, inner = self.index.resolve(cursor.path, cursor.language, imported)
        return [f for f in files if f != cursor.path], inner

    def _definitions_in(self, files: Iterable[str], name: str, *, parent: str | None = None
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

    def _by_name(self, name: str, cursor: Cursor) -> list[Definition]:
        """Definitions of `name` in other files, methods left out (they share names too
        often: every class has a `get`)."""
        if self.index is None:
            return []
        return [d for d in self.index.definitions_named(name)
                if d.path != cursor.path and d.kind != "method"]

    def _add_definition(self, found: _Collector, definition: Definition, score: float,
                        reason: str, documents: Mapping[str, str]) -> None:
        symbols = self.index.file(definition.path) if self.index else None
        summary = definition_summary(definition, symbols.language if symbols else "")
        found.add(Candidate("definition", definition.path, definition.start_line,
                            definition.end_line, summary, score, reason))
        if score < BODY_WORTHY:
            return
        lines = self._lines(definition.path, documents)
        if lines is None:
            return
        body = "".join(lines[definition.start_line - 1:definition.end_line][:MAX_BODY_LINES])
        if body.strip() and len(body) > len(summary):
            signature_key = Candidate("definition", definition.path, definition.start_line,
                                      definition.end_line, "", 0, "").key
            found.add(Candidate("definition", definition.path, definition.start_line,
                                definition.end_line, _dedent(body), score * BODY_FACTOR,
                                reason + " (with its body)", supersedes=signature_key))

    def _add_outline(self, found: _Collector, path: str, score: float, reason: str,
                     documents: Mapping[str, str]) -> None:
        symbols = self.index.file(path) if self.index else None
        if symbols is None:
            return
        top = [d for d in symbols.definitions if not d.parent]
        self._add_outline_lines(found, path, top, score, reason, symbols.language)

    def _add_outline_of(self, found: _Collector, path: str, owner: Definition,
                        members: list[Definition], score: float, reason: str,
                        language: str) -> None:
        if not members:
            return
        lines = [owner.signature.splitlines()[0] if owner.signature else owner.name]
        lines += ["    " + first_line(m.signature) for m in members]
        found.add(Candidate("outline", path, owner.start_line, owner.end_line,
                            "\n".join(lines) + "\n", score, reason))

    def _add_outline_lines(self, found: _Collector, path: str, definitions: list[Definition],
                           score: float, reason: str, language: str) -> None:
        if not definitions:
            return
        text = "\n".join(first_line(d.signature) for d in definitions[:60]) + "\n"
        found.add(Candidate("outline", path, min(d.start_line for d in definitions),
                            max(d.end_line for d in definitions), text, score, reason))

    def _add_window(self, found: _Collector, kind: str, path: str, text: str, line: int,
                    score: float, reason: str) -> None:
        lines = text.splitlines(keepends=True)
        start = max(line - 8, 1)
        end = min(line + 8, len(lines))
        if start <= end:
            found.add(Candidate(kind, path, start, end, "".join(lines[start - 1:end]), score,
                                reason))

    def _counted(self, path: str, text: str) -> CountedFile:
        """A file's term-counted windows, reused while its text is the same."""
        key = (path, len(text), hash(text))
        if (known := self._window_cache.get(key)) is None:
            known = self._window_cache[key] = counted_file(path, text)
            while len(self._window_cache) > WINDOW_CACHE_FILES:
                self._window_cache.pop(next(iter(self._window_cache)))
        return known

    def _lines(self, path: str, documents: Mapping[str, str]) -> list[str] | None:
        """The lines of a file, from the editor when it is open, else from disk (cached while
        the index says the file is unchanged)."""
        if (text := documents.get(path)) is not None:
            return text.splitlines(keepends=True)
        cached = self._file(path)
        return cached[1] if cached else None

    def _text(self, path: str, documents: Mapping[str, str]) -> str | None:
        if (text := documents.get(path)) is not None:
            return text
        cached = self._file(path)
        return cached[0] if cached else None

    def _file(self, path: str) -> tuple[str, list[str]] | None:
        symbols = self.index.file(path) if self.index else None
        stamp = (path, symbols.mtime_ns if symbols else 0)
        if (cached := self._file_cache.get(stamp)) is not None:
            return cached
        text = self.read_file(path)
        if text is None:
            return None
        cached = self._file_cache[stamp] = (text, text.splitlines(keepends=True))
        while len(self._file_cache) > FILE_CACHE_FILES:
            self._file_cache.pop(next(iter(self._file_cache)))
        return cached

    def _neighbour_texts(self, cursor: Cursor, imported: set[str],
                         documents: Mapping[str, str]) -> dict[str, str]:
        """Files worth a lexical look: imported ones, then the cursor file's directory, most
        alike in name first (test_parser.py ↔ parser.py)."""
        paths = sorted(imported)
        if self.index is not None:
            directory = cursor.path.rsplit("/", 1)[0] if "/" in cursor.path else ""
            mine = _name_words(cursor.path)
            paths += sorted(self.index.files_in(directory),
                            key=lambda p: (-len(mine & _name_words(p)), p))
        texts: dict[str, str] = {}
        for path in paths:
            if path == cursor.path or path in texts:
                continue
            if (text := self._text(path, documents)) is not None:
                texts[path] = text
            if len(texts) >= MAX_NEIGHBOUR_FILES:
                break
        return texts


def _name_words(path: str) -> set[str]:
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return {w for w in re.split(r"[_\-.]+", stem.lower()) if w and w != "test"}


_CONTAINERS = frozenset({"class", "struct", "interface", "trait", "enum"})


class _Collector:
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
    return named if len(named) <= OUTLINE_WIDTH else named[:OUTLINE_WIDTH - 3] + "..."


def _near_words(cursor: Cursor) -> dict[str, float]:
    """Identifiers near the cursor, weighted by closeness (1.0 on the cursor line)."""
    lines = cursor.text.split("\n")
    line = cursor.line - 1
    weights: dict[str, float] = {}
    for number in range(max(line - NEAR_BEFORE, 0), min(line + NEAR_AFTER + 1, len(lines))):
        weight = 1.0 / (1.0 + abs(number - line) / 8)
        if number == line:
            text = lines[number][: cursor.offset - (cursor.text.rfind("\n", 0, cursor.offset) + 1)]
        else:
            text = lines[number]
        for word in _WORD.findall(text):
            if weights.get(word, 0.0) < weight:
                weights[word] = weight
    return weights


def _members_used(cursor: Cursor, local: str, near: Mapping[str, float]) -> dict[str, float]:
    """`local.member` uses near the cursor, with the member's weight."""
    if local not in near:
        return {}
    lines = cursor.text.split("\n")
    line = cursor.line - 1
    pattern = re.compile(rf"\b{re.escape(local)}\.([A-Za-z_]\w*)")
    members: dict[str, float] = {}
    for number in range(max(line - NEAR_BEFORE, 0), min(line + NEAR_AFTER + 1, len(lines))):
        weight = 1.0 / (1.0 + abs(number - line) / 8)
        for member in pattern.findall(lines[number]):
            members[member] = max(members.get(member, 0.0), weight)
    return members


# Starts only at a word's start, and never gives back what `\w*+` took: linear even on a
# megabyte-long run of word characters (base64 blobs), where the plain form is quadratic.
_CHAIN = re.compile(r"(?<!\w)[A-Za-z_]\w*+(?:\.[A-Za-z_]\w*+)+")


def _member_chains(text: str) -> Counter[tuple[str, str]]:
    """Every `a.b.c` in the text as (qualifier, member) pairs: ('a', 'b') and ('a.b', 'c')."""
    pairs: Counter[tuple[str, str]] = Counter()
    for chain in _CHAIN.findall(text):
        parts = chain.split(".")
        for end in range(1, len(parts)):
            pairs[(".".join(parts[:end]), parts[end])] += 1
    return pairs


def _members_used_near(near: Mapping[str, float], local: str,
                       chains: Counter[tuple[str, str]]) -> dict[str, float]:
    """Members of `local` whose names are near the cursor (and used as `local.member`)."""
    if local.split(".")[0] not in near:
        return {}
    return {member: near[member] for (qualifier, member) in chains
            if qualifier == local and member in near}


def _named_imports(imports: Iterable[Import]) -> dict[str, tuple[Import, str]]:
    named: dict[str, tuple[Import, str]] = {}
    for imported in imports:
        for original, local in imported.names:
            if original != "*":
                named[local] = (imported, original)
    return named


def _module_imports(language: str, imports: Iterable[Import]) -> dict[str, Import]:
    modules: dict[str, Import] = {}
    for imported in imports:
        if imported.names:
            continue
        local = imported.alias or _default_binding(language, imported.module)
        if local:
            modules[local] = imported
    return modules


def _default_binding(language: str, module: str) -> str:
    if language == "python":
        return module.lstrip(".").split(".")[0]
    if language in ("go",):
        return module.rstrip("/").split("/")[-1].replace("-", "_")
    if language in ("java",):
        return module.split(".")[-1]
    if language == "rust":
        return module.split("::")[-1]
    return ""


def _without_import_lines(text: str, imports: Sequence[Import]) -> str:
    skip = {i.line for i in imports}
    if not skip:
        return text
    return "\n".join(line for number, line in enumerate(text.split("\n"), start=1)
                     if number not in skip)


def _covers(definition: Definition, line: int) -> bool:
    return definition.start_line <= line <= definition.end_line


def _squash(score: float) -> float:
    """BM25 scores are unbounded; map them to (0, 1)."""
    return 1 - math.exp(-score / 10)


def _dedent(text: str) -> str:
    lines = text.splitlines(keepends=True)
    indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    return "".join(line[cut:] if line.strip() else line.lstrip(" \t") for line in lines)
