"""Imports of one file, from the matches of its grammar's query (`extract.py` runs the query).

`@import` captures one statement; the captures inside it (documented in `languages.py`) name
the modules and the names taken from them. The imports found in one statement are grouped by
module, in the order written, and become `Import`s once the whole file is read."""

from __future__ import annotations

from tree_sitter import Node

from deskmate.context.symbols import Import

__all__ = ["ImportGroups", "collect_import", "grouped_imports", "nested_import_starts"]

# (statement start byte, module) -> (line, [(name, local name)], [alias])
ImportGroups = dict[tuple[int, str], tuple[int, list[tuple[str, str]], list[str]]]


def _text(source: bytes, node: Node) -> str:
    return source[node.start_byte:node.end_byte].decode("utf-8", "replace")


def nested_import_starts(source: bytes, keywords: tuple[bytes, ...]) -> list[int]:
    """Byte offsets where indented lines start with one of `keywords` (each ends with its
    space), found from the occurrences of the last keyword, which every such line contains."""
    anchor = keywords[-1].strip()
    starts = []
    at = source.find(anchor)
    while at >= 0:
        line_start = source.rfind(b"\n", 0, at) + 1
        code = source[line_start:at + len(anchor) + 1].lstrip(b" \t")
        start = at + len(anchor) + 1 - len(code)
        if start > line_start and code.startswith(keywords):
            starts.append(start)
        at = source.find(anchor, at + len(anchor))
    return starts


def _add_import(groups: ImportGroups, statement: int, line: int, module: str,
                name: tuple[str, str] | None = None, alias: str = "") -> None:
    group = groups.get((statement, module))
    if group is None:
        group = groups[(statement, module)] = (line, [], [])
    if name is not None and name not in group[1]:
        group[1].append(name)
    if alias and not group[2]:
        group[2].append(alias)


def collect_import(source: bytes, captures: dict[str, list[Node]], separator: str,
                   groups: ImportGroups) -> None:
    """Add the imports of one `@import` match to `groups`. `separator` splits an
    `@import.path` into module and name ('.' in Java, '::' otherwise)."""
    statement = captures["import"][0]
    key = statement.start_byte
    line = statement.start_point[0] + 1
    if "import.rust" in captures:
        _rust_use(source, captures["import.rust"][0], "", key, line, groups)
        return
    if "import.path" in captures:
        path = _text(source, captures["import.path"][0])
        if "import.star" in captures:
            _add_import(groups, key, line, path, ("*", "*"))
        else:
            module, _, name = path.rpartition(separator)
            _add_import(groups, key, line, module or name, (name, name) if module else None)
        return
    if "import.system" in captures:
        _add_import(groups, key, line, _text(source, captures["import.system"][0]).strip("<>"))
        return
    modules = captures.get("import.module")
    if not modules:
        return
    module = _text(source, modules[0])
    aliases = captures.get("import.alias")
    alias = _text(source, aliases[0]) if aliases else ""
    if "import.name" in captures:
        name = _text(source, captures["import.name"][0])
        _add_import(groups, key, line, module, (name, alias or name))
    elif "import.default" in captures:
        local = _text(source, captures["import.default"][0])
        _add_import(groups, key, line, module, ("default", local))
    elif "import.star" in captures:
        _add_import(groups, key, line, module, ("*", "*"))
    else:
        _add_import(groups, key, line, module, None, alias)


def _rust_use(source: bytes, node: Node, prefix: str, key: int, line: int,
              groups: ImportGroups) -> None:
    """Unfold a Rust use tree: `a::b::{c, d as e, f::*}` gives module `a::b` with names c and
    d→e, and module `a::b::f` with `*`. A path is split at its last `::` into module and name;
    a single segment with nothing before it imports a whole crate or module."""
    kind = node.type
    if kind == "use_list":
        for child in node.named_children:
            _rust_use(source, child, prefix, key, line, groups)
    elif kind == "scoped_use_list":
        path_node = node.child_by_field_name("path")
        path = _join(prefix, _text(source, path_node)) if path_node is not None else prefix
        body = node.child_by_field_name("list")
        if body is not None:
            _rust_use(source, body, path, key, line, groups)
    elif kind == "use_wildcard":
        path = _text(source, node).removesuffix("*").rstrip(":").strip()
        _add_import(groups, key, line, _join(prefix, path), ("*", "*"))
    elif kind == "use_as_clause":
        path_node = node.child_by_field_name("path")
        alias_node = node.child_by_field_name("alias")
        if path_node is not None:
            alias = _text(source, alias_node) if alias_node is not None else ""
            _rust_path(_join(prefix, _text(source, path_node)), alias, key, line, groups)
    elif kind in ("identifier", "scoped_identifier", "crate", "super", "self", "metavariable"):
        _rust_path(_join(prefix, _text(source, node)), "", key, line, groups)


def _join(prefix: str, path: str) -> str:
    return f"{prefix}::{path}" if prefix and path else prefix or path


def _rust_path(path: str, alias: str, key: int, line: int, groups: ImportGroups) -> None:
    module, _, name = path.rpartition("::")
    if not module:
        _add_import(groups, key, line, name, None, alias)
    elif name == "self":  # `use a::b::{self}` binds `b`
        _add_import(groups, key, line, module, ("self", alias or module.rpartition("::")[2]))
    else:
        _add_import(groups, key, line, module, (name, alias or name))


def grouped_imports(groups: ImportGroups) -> tuple[Import, ...]:
    """The collected imports in the order their statements start in the file."""
    ordered = sorted(groups.items(), key=lambda item: item[0][0])
    return tuple(Import(module, tuple(names), alias[0] if alias else "", line)
                 for (_, module), (line, names, alias) in ordered if module)
