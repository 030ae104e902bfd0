"""Tree-sitter grammars, one official wheel per language, loaded offline and only when needed.

Each grammar carries one tree-sitter query that finds what `extract.py` needs: definitions, the
scopes that give them a parent, doc comments, imports, and the containers to look into next.
The query is data, in `queries/*.scm` (a grammar's files are concatenated in order: JavaScript
and TypeScript share `ecmascript.scm`); `extract.py` interprets its capture names (with
`imports.py` for the import captures):

- `@container` a node whose direct children may hold definitions or imports (a module's
  top-level blocks, class bodies, namespace and impl bodies, `export`, decorators, `#if`). The
  query runs on the root with a start depth of 1 (patterns starting at the root or at its
  direct children), then again on each container it captured, and so on. Function bodies are
  not containers: what is defined in them is local, and not walking them is what makes
  extraction cheap next to parsing (most of a tree's nodes are inside function bodies). The
  exceptions are JS function bodies that are the module (an IIFE, an AMD `define` factory).
  `ERROR` nodes are containers, so definitions inside a broken region are still found.
- `@definition.KIND` the whole definition (KIND: function, method, class, struct, interface,
  trait, enum, type, macro). A `function` nested directly in a class-like definition (class,
  struct, interface, trait, enum, impl) becomes a `method`.
- `@scope.impl` / `@scope.namespace` a node that is not a definition itself but names the parent
  of the definitions inside (Rust `impl` and inline `mod`, C++ `namespace`, TS `namespace`);
  `impl` makes functions methods, `namespace` does not.
- `@name` the name of the definition or scope. A C++ name written `A::f` gives parent `A`.
- `@body` the signature ends where this node starts; `@colon` the signature ends after it
  (Python). With neither, the signature is the whole definition. A `@name` written after the
  body (C `typedef struct {...} T;`) keeps the text after the body: `typedef struct { … } T`.
  `@tag` marks a typedef's struct that has a name of its own.
- `@parent` the parent's name when the syntax states it (a Go method's receiver type).
- `@doc` the docstring literal (Python).
- `@wrapper` + `@wrapped` a node whose range extends the definition it wraps (Python
  decorators, JS/TS `export`, TS `declare`, C++ `template <...>`, a Go `type` keyword).
- `@attribute` (Rust `#[...]`) lines right above a definition extend its range and may sit
  between the definition and its doc comment. (Doc comments are not captured: `extract.py`
  reads the `//` and `/* */` lines above each definition it keeps, which is cheaper than a
  match per comment in comment-heavy code.)
- `@import` one import statement (or `require` call); the imports found in it by
  `@import.module` (module as written), `@import.name` + optional `@import.alias` (a name taken
  from the module and its local name), `@import.alias` alone (the module's local name),
  `@import.default` (JS default import), `@import.star` (wildcard), `@import.system`
  (C `<x.h>`), `@import.path` (Java `a.b.C`: module `a.b`, name `C`) and `@import.rust`
  (a Rust use tree, unfolded by `imports.py`).
- captures starting with `_` only feed predicates.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources

from tree_sitter import Language, Parser, Query


@dataclass(frozen=True)
class Grammar:
    name: str
    module: str  # the grammar wheel's module
    function: str  # the function in it that returns the language pointer
    extensions: tuple[str, ...]
    comment: str = "//"  # the line-comment prefix, for path/line headers in prompts
    # The `queries/*.scm` files (stems) of its query, concatenated in this order.
    queries: tuple[str, ...] = ()
    # How indented import statements begin (Python's lazy imports inside functions): the walk
    # over containers never enters function bodies, so these are found in the text. The last
    # one must occur in every such line.
    nested_imports: tuple[bytes, ...] = ()


# --- the registry ------------------------------------------------------------------------------

GRAMMARS: tuple[Grammar, ...] = (
    Grammar("python", "tree_sitter_python", "language", (".py", ".pyi"),
            comment="#", queries=("python",), nested_imports=(b"from ", b"import ")),
    Grammar("javascript", "tree_sitter_javascript", "language", (".js", ".mjs", ".cjs", ".jsx"),
            queries=("ecmascript", "javascript")),
    Grammar("typescript", "tree_sitter_typescript", "language_typescript", (".ts", ".mts", ".cts"),
            queries=("ecmascript", "typescript")),
    Grammar("tsx", "tree_sitter_typescript", "language_tsx", (".tsx",),
            queries=("ecmascript", "typescript")),
    Grammar("go", "tree_sitter_go", "language", (".go",), queries=("go",)),
    Grammar("rust", "tree_sitter_rust", "language", (".rs",),
            queries=("rust",), nested_imports=(b"use ",)),
    Grammar("java", "tree_sitter_java", "language", (".java",), queries=("java",)),
    Grammar("c", "tree_sitter_c", "language", (".c", ".h"), queries=("c",)),
    Grammar("cpp", "tree_sitter_cpp", "language",
            (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".c++", ".h++"), queries=("cpp",)),
)
BY_NAME = {g.name: g for g in GRAMMARS}
BY_EXTENSION = {ext: g.name for g in GRAMMARS for ext in g.extensions}


def language_for_path(path: str) -> str | None:
    """The grammar name for a file, by its extension (case-insensitive); None without one."""
    ext = os.path.splitext(path)[1].lower()
    return BY_EXTENSION.get(ext)


# Lines that only C++ has, to tell a C++ header named `.h` from a C one.
_CPP_HEADER = re.compile(
    rb"^[ \t]*(?:namespace[ \t]+\w+[ \t]*(?:\{|$)|template[ \t]*<|class[ \t]+\w+[^;\n]*\{"
    rb"|using[ \t]+namespace\b|(?:public|protected|private)[ \t]*:|#[ \t]*include[ \t]*<\w+>)",
    re.MULTILINE)


def language_for_source(path: str, source: bytes) -> str | None:
    """Like `language_for_path`, but a `.h` file whose first 64 KiB look like C++ is C++."""
    language = language_for_path(path)
    if language == "c" and path[-2:].lower() == ".h" and _CPP_HEADER.search(source, 0, 65536):
        return "cpp"
    return language


@cache
def load_language(name: str) -> Language:
    """The tree-sitter Language for `name`; ImportError if its wheel is missing."""
    grammar = BY_NAME[name]
    module = importlib.import_module(grammar.module)
    return Language(getattr(module, grammar.function)())


@cache
def query_source(name: str) -> str:
    """The extraction query of a grammar as written: its `queries/*.scm` files, in order. Read
    from the installed package (the files are package data), once per grammar."""
    folder = resources.files("deskmate.context") / "queries"
    return "\n".join((folder / f"{stem}.scm").read_text(encoding="utf-8")
                     for stem in BY_NAME[name].queries)


@cache
def query_for(name: str) -> Query:
    """The compiled extraction query of a grammar (compiled once; queries are immutable and
    may be shared between threads, each running its own QueryCursor)."""
    return Query(load_language(name), query_source(name))


_local = threading.local()


def parser_for(name: str) -> Parser:
    """A Parser for `name`, one per thread and grammar: a Parser holds mutable state, so
    threads never share one."""
    parsers: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(name)
    if parser is None:
        parser = parsers[name] = Parser(load_language(name))
    return parser
