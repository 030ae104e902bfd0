"""What the index knows about one file: its definitions and imports.

Plain data, shared by the extractor (`extract.py`), the index (`index.py`) and retrieval
(`retrieve.py`). Lines are 1-based and inclusive, paths relative to the workspace root."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    kind: str  # function | method | class | struct | interface | trait | enum | type | macro
    path: str
    start_line: int
    end_line: int
    # The declaration as written up to its body ("def f(a, b) -> int:", "func (s *S) Run()
    # error", "class A(B):"), without the body; several lines when the signature is.
    signature: str
    doc: str  # the docstring or the comment block right above, as written ('' if none)
    parent: str = ""  # the enclosing class/struct/impl/namespace name, '' at top level


@dataclass(frozen=True, slots=True)
class Import:
    """One imported module and, when the statement names them, the names taken from it.

    `module` is as written in the source ('os.path', '.models', './util', 'fmt',
    'crate::store::cache', 'java.util.List', 'util/strings.h'). `names` pairs each imported
    name with the local name it is bound to (alias or itself); empty for whole-module imports,
    whose local binding is `alias` (e.g. `import numpy as np` → alias 'np')."""

    module: str
    names: tuple[tuple[str, str], ...] = ()
    alias: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class FileSymbols:
    path: str
    language: str  # a name from languages.GRAMMARS, or '' for text files without a grammar
    definitions: tuple[Definition, ...]
    imports: tuple[Import, ...]
    mtime_ns: int = 0
    size: int = 0


# Plain tuples travel between processes and into the disk cache several times faster than
# the dataclasses (pickle handles tuples of strings in C).
FileTuple = tuple[str, str, tuple[tuple[str, str, str, int, int, str, str, str], ...],
                  tuple[tuple[str, tuple[tuple[str, str], ...], str, int], ...], int, int]


def to_tuple(symbols: FileSymbols) -> FileTuple:
    return (symbols.path, symbols.language,
            tuple((d.name, d.kind, d.path, d.start_line, d.end_line, d.signature, d.doc,
                   d.parent) for d in symbols.definitions),
            tuple((i.module, i.names, i.alias, i.line) for i in symbols.imports),
            symbols.mtime_ns, symbols.size)


def from_tuple(data: FileTuple) -> FileSymbols:
    path, language, definitions, imports, mtime_ns, size = data
    return FileSymbols(path, language, tuple(Definition(*d) for d in definitions),
                       tuple(Import(*i) for i in imports), mtime_ns, size)
