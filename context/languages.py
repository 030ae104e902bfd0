"""Tree-sitter grammars, one official wheel per language, loaded offline and only when needed."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

from tree_sitter import Language


@dataclass(frozen=True)
class Grammar:
    name: str
    module: str  # the grammar wheel's module
    function: str  # the function in it that returns the language pointer
    extensions: tuple[str, ...]


GRAMMARS: tuple[Grammar, ...] = (
    Grammar("python", "tree_sitter_python", "language", (".py", ".pyi")),
    Grammar("javascript", "tree_sitter_javascript", "language", (".js", ".mjs", ".cjs", ".jsx")),
    Grammar("typescript", "tree_sitter_typescript", "language_typescript", (".ts", ".mts", ".cts")),
    Grammar("tsx", "tree_sitter_typescript", "language_tsx", (".tsx",)),
    Grammar("go", "tree_sitter_go", "language", (".go",)),
    Grammar("rust", "tree_sitter_rust", "language", (".rs",)),
    Grammar("java", "tree_sitter_java", "language", (".java",)),
    Grammar("c", "tree_sitter_c", "language", (".c", ".h")),
    Grammar("cpp", "tree_sitter_cpp", "language",
            (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".c++", ".h++")),
)
BY_NAME = {g.name: g for g in GRAMMARS}


@cache
def load_language(name: str) -> Language:
    """The tree-sitter Language for `name`; ImportError if its wheel is missing."""
    grammar = BY_NAME[name]
    module = importlib.import_module(grammar.module)
    return Language(getattr(module, grammar.function)())
