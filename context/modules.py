"""Module resolution: which workspace files an import statement refers to, per language.

Each file is known under every tail of its module path (`src/pkg/mod.py` answers `pkg.mod`
and `mod` as well as `src.pkg.mod`), because the import root is rarely the workspace root: a
`src/` layout, a Go module path, a JS alias, a package installed from a folder of another name.
An import's module is turned into the same kind of segments (relative imports resolved from
the importing file) and looked up in the index's map of those keys (`ModuleMap`), exact path
first, then as a module plus a name inside it, then by ever shorter tails.

The index (`index.py`) owns the map and keeps it current; this module only says what the keys
of a file are and how an import is looked up in them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Set

from deskmate.context.symbols import Import

__all__ = ["ModuleMap", "import_segments", "module_keys", "module_segments", "resolve_import"]

# "pkg/mod" (segments joined by '/') → the files whose module path ends with those segments.
ModuleMap = Mapping[str, Set[str]]


def resolve_import(modules: ModuleMap, importer: str, language: str, imported: Import
                   ) -> tuple[list[str], str]:
    """Files an import refers to, and the name it reaches inside them when the module
    path ends in one (`from pkg import mod` vs `import pkg.Class` / Rust `use a::Item`)."""
    segments = import_segments(language, importer, imported.module)
    if not segments:
        return [], ""
    if found := modules.get("/".join(segments)):
        # 'test' is test/__init__.py and also ctypes/test/__init__.py: a file whose whole
        # module path is the import wins over those it is only the tail of.
        exact = [p for p in found if module_segments(language, p) == segments]
        return sorted(exact or found), ""
    # The last segment may name something inside the module, not a module.
    if len(segments) > 1 and (found := modules.get("/".join(segments[:-1]))):
        return sorted(found), segments[-1]
    # Module paths often carry a prefix the workspace does not have (Go module paths, JS
    # aliases, a package installed from a folder of another name): try ever shorter tails.
    for start in range(1, len(segments)):
        if found := modules.get("/".join(segments[start:])):
            return sorted(found), ""
    return [], ""


_STRIP_EXTENSIONS = (".py", ".pyi", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts",
                     ".tsx", ".rs", ".java", ".go")


def module_segments(language: str, path: str) -> tuple[str, ...]:
    """The path as module segments: 'pkg/mod.py' → ('pkg', 'mod'); packages and index files
    name their directory; Go files name their directory (the package)."""
    if language == "go":
        return tuple(p for p in posixpath.dirname(path).split("/") if p)
    stem = path
    for extension in _STRIP_EXTENSIONS:
        if stem.endswith(extension):
            stem = stem[: -len(extension)]
            break
    parts = [p for p in stem.split("/") if p]
    if parts and parts[-1] in ("__init__", "index", "mod", "lib", "main") and len(parts) > 1:
        parts.pop()
    return tuple(parts)


def module_keys(language: str, path: str) -> Iterable[str]:
    """Every tail of the module path: a file is found whatever directory is the import root
    ('src/pkg/mod.py' answers 'pkg.mod' and 'mod' as well as 'src.pkg.mod')."""
    segments = module_segments(language, path)
    return ("/".join(segments[i:]) for i in range(len(segments)))


def import_segments(language: str, importer: str, module: str) -> tuple[str, ...]:
    """An import's module as path segments, relative ones resolved from the importer."""
    directory = posixpath.dirname(importer)
    if language == "python":
        if module.startswith("."):
            level = len(module) - len(module.lstrip("."))
            base = directory
            for _ in range(level - 1):
                base = posixpath.dirname(base)
            rest = [p for p in module.lstrip(".").split(".") if p]
            return tuple([p for p in base.split("/") if p] + rest)
        return tuple(p for p in module.split(".") if p)
    if language in ("javascript", "typescript", "tsx"):
        if module.startswith("."):
            joined = posixpath.normpath(posixpath.join(directory, module))
            return module_segments(language, joined) if not joined.startswith("..") else ()
        return tuple(p for p in module.lstrip("@~/").split("/") if p)
    if language == "rust":
        parts = [p for p in module.split("::") if p]
        if parts and parts[0] in ("crate", "self", "super"):
            anchor = parts.pop(0)
            here = [p for p in directory.split("/") if p]
            if anchor == "super" and here:
                here.pop()
            return tuple((here if anchor != "crate" else []) + parts)
        return tuple(parts)
    if language == "java":
        return tuple(p for p in module.split(".") if p and p != "*")
    if language in ("c", "cpp"):
        joined = posixpath.normpath(posixpath.join(directory, module))
        segments = [p for p in module.split("/") if p]
        if not joined.startswith(".."):
            segments = [p for p in joined.split("/") if p]
        return tuple(segments)
    if language == "go":
        return tuple(p for p in module.split("/") if p)
    return ()
