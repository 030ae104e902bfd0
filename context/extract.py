"""Symbols of one file: definitions, and imports (interpreted by `imports.py`).

The per-language queries live in `queries/*.scm` (their capture names are documented in
`languages.py`); this module interprets their matches. The query runs on the root and then on
each container it reports (class bodies, namespaces, `#if` blocks...), never inside function
bodies, which hold most of a tree's nodes and nothing another file can import. The work in
Python is per match (a definition, an import, a comment), never per node of the tree: names,
signatures and docs are byte slices of the source, lines come from the nodes' points, and
parents come from nesting the definitions' byte ranges rather than from walking up the tree.

What a Definition holds, in every language:
- `start_line`/`end_line`: 1-based, inclusive, the whole definition including what is written in
  front of it and belongs to it: Python decorators, Java/TS annotations and decorators, Rust
  attributes, `export`/`declare` (JS/TS), `template <...>` (C++) and the `type` keyword of a
  one-spec Go type declaration. A doc comment above is not part of the range.
- `signature`: the text from that start up to the body, multi-line as written, without the
  trailing whitespace, `{` or `;`; Python signatures end with their colon. A definition without
  a body (prototype, type alias, interface method, object-like macro) is its whole text.
- `doc`: Python: the docstring's text without quotes or string prefix, dedented like
  `inspect.cleandoc` (escapes are not processed). Other languages: the block of comments, each
  on its own line, that ends on the line right above the definition (Rust attributes may sit in
  between), as written with comment markers kept, the block's indentation removed.
- `parent`: the innermost enclosing class, struct, interface, trait, enum, impl type or
  namespace; for Go methods the receiver type; for C++ `A::f` the qualifier `A`.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from functools import cache

from tree_sitter import Node, QueryCursor, Tree

from deskmate.context.imports import (
    ImportGroups,
    collect_import,
    grouped_imports,
    nested_import_starts,
)
from deskmate.context.languages import (
    BY_NAME,
    language_for_source,
    parser_for,
    query_for,
    query_source,
)
from deskmate.context.symbols import Definition, FileSymbols, Import

__all__ = ["extract", "symbols_for"]

# Roles of a query pattern, from the capture that names its main node (a pattern that only
# captures containers has role _NONE).
_NONE, _DEFINITION, _SCOPE, _WRAPPER, _ATTRIBUTE, _IMPORT = range(6)
_ROLES = {"wrapper": _WRAPPER, "attribute": _ATTRIBUTE, "import": _IMPORT}

# What a definition or scope is to the definitions nested in it.
_LOCAL = 0  # a function body: what is inside is local, not extracted
_CLASS = 1  # class-like: parent for what is inside, and functions in it are methods
_NAMESPACE = 2  # parent for what is inside, functions stay functions
_TRANSPARENT = 3  # neither (type aliases, macros): what is inside sees the enclosing context

_CONTEXT = {"function": _LOCAL, "method": _LOCAL, "class": _CLASS, "struct": _CLASS,
            "interface": _CLASS, "trait": _CLASS, "enum": _CLASS, "impl": _CLASS,
            "namespace": _NAMESPACE, "type": _TRANSPARENT, "macro": _TRANSPARENT}

_CAPTURE = re.compile(r"@([A-Za-z_][\w.]*)")
_TEMPLATE_ARGS = re.compile(r"<.*>", re.S)


@dataclass(frozen=True, slots=True)
class _Pattern:
    role: int
    capture: str  # the capture holding the main node
    kind: str  # definition or scope kind


@cache
def _patterns(language: str) -> tuple[_Pattern, ...]:
    """The role of each pattern of the language's query, read from the query source."""
    query = query_for(language)
    source = query_source(language).encode()
    patterns = []
    for index in range(query.pattern_count):
        text = source[query.start_byte_for_pattern(index):query.end_byte_for_pattern(index)]
        pattern = _Pattern(_NONE, "", "")
        for capture in _CAPTURE.findall(text.decode()):
            head, _, kind = capture.partition(".")
            if head == "definition":
                pattern = _Pattern(_DEFINITION, capture, kind)
            elif head == "scope":
                pattern = _Pattern(_SCOPE, capture, kind)
            elif capture in _ROLES:
                pattern = _Pattern(_ROLES[capture], capture, "")
        patterns.append(pattern)
    return tuple(patterns)


def _unindent(line: str, column: int) -> str:
    indent = len(line) - len(line.lstrip(" \t"))
    return line[min(indent, column):]


def _text(source: bytes, node: Node) -> str:
    return source[node.start_byte:node.end_byte].decode("utf-8", "replace")


def _last_row(node: Node) -> int:
    """The 0-based row of a node's last character (a node ending with its newline ends at
    column 0 of the next row)."""
    row, column = node.end_point
    return row - 1 if column == 0 and row > node.start_point[0] else row


def _own_line(source: bytes, start: int) -> bool:
    """Whether only whitespace precedes byte `start` on its line."""
    line_start = source.rfind(b"\n", 0, start) + 1
    return not source[line_start:start].strip()


def _docstring(literal: str) -> str:
    body = literal.lstrip("rRuUbBfF")
    quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
    body = body[len(quote):]
    if quote and body.endswith(quote):
        body = body[:-len(quote)]
    return inspect.cleandoc(body) if "\n" in body else body.strip()


def extract(language: str, source: bytes, path: str, tree: Tree | None = None,
            ) -> tuple[tuple[Definition, ...], tuple[Import, ...]]:
    """Definitions and imports of one file. `tree` is the file's parsed tree when the caller
    has one (an incremental re-parse); otherwise the source is parsed here. Unknown languages
    give nothing; syntax errors give whatever tree-sitter's error recovery kept."""
    grammar = BY_NAME.get(language)
    if grammar is None:
        return (), ()
    if tree is None:
        tree = parser_for(language).parse(source)
    patterns = _patterns(language)
    separator = "." if language == "java" else "::"
    cursor = QueryCursor(query_for(language))
    cursor.set_max_start_depth(1)  # patterns start at the container or at its direct children

    wrappers: dict[int, tuple[int, int]] = {}  # wrapped start byte -> wrapper (byte, row)
    attributes: dict[int, tuple[int, int]] = {}  # last row -> (first row, start byte)
    definitions: list[tuple[_Pattern, dict[str, list[Node]]]] = []
    imports: ImportGroups = {}
    root = tree.root_node
    pending = [root]
    visited = {root.id}

    def consume(node: Node) -> None:
        for index, captures in cursor.matches(node):
            containers = captures.get("container")
            if containers is not None:
                for container in containers:
                    if container.id not in visited:
                        visited.add(container.id)
                        pending.append(container)
            pattern = patterns[index]
            role = pattern.role
            if role in (_DEFINITION, _SCOPE):
                definitions.append((pattern, captures))
            elif role == _WRAPPER:
                wrapper = captures["wrapper"][0]
                for wrapped in captures.get("wrapped", ()):
                    wrappers[wrapped.start_byte] = (wrapper.start_byte, wrapper.start_point[0])
            elif role == _ATTRIBUTE:
                attribute = captures["attribute"][0]
                if _own_line(source, attribute.start_byte):
                    attributes[_last_row(attribute)] = (attribute.start_point[0],
                                                        attribute.start_byte)
            elif role == _IMPORT:
                collect_import(source, captures, separator, imports)

    while pending:
        consume(pending.pop())
    if grammar.nested_imports:
        # Imports inside function bodies (Python's lazy imports), which the walk over containers
        # does not reach: found in the text, confirmed by the tree.
        known = {start for start, _ in imports}
        for start in nested_import_starts(source, grammar.nested_imports):
            if start not in known:
                known.add(start)
                node = root.named_descendant_for_byte_range(start, start)
                if node is not None and node.start_byte == start:
                    consume(node)

    return (_definitions(source, path, definitions, wrappers, attributes,
                         comments=language != "python"), grouped_imports(imports))


def _definitions(source: bytes, path: str, matches: list[tuple[_Pattern, dict[str, list[Node]]]],
                 wrappers: dict[int, tuple[int, int]], attributes: dict[int, tuple[int, int]],
                 *, comments: bool) -> tuple[Definition, ...]:
    """Nest the definitions and scopes by their byte ranges: each definition gets the parent
    enclosing it, functions directly in class-like ones become methods, and what is inside a
    function is dropped. Details are only worked out for what is kept."""
    ranges = []
    for number, (pattern, captures) in enumerate(matches):
        node = captures[pattern.capture][0]
        start = node.start_byte
        row = -1
        while start in wrappers:
            start, row = wrappers[start]
        ranges.append((start, -node.end_byte, number, row))
    ranges.sort()
    # Each entry: (end byte, context for what is inside, parent name for what is inside)
    stack: list[tuple[int, int, str]] = []
    out: list[Definition] = []
    seen: set[tuple[int, int, str, str]] = set()
    for start, negative_end, number, row in ranges:
        end = -negative_end
        while stack and (stack[-1][0] < end or stack[-1][0] <= start):
            stack.pop()
        context, parent = (stack[-1][1], stack[-1][2]) if stack else (_NAMESPACE, "")
        if context == _LOCAL:
            stack.append((end, _LOCAL, ""))
            continue
        pattern, captures = matches[number]
        if pattern.role == _SCOPE:
            names = captures.get("name")
            stack.append((end, _CONTEXT[pattern.kind], _text(source, names[0]) if names else ""))
            continue
        definition = _definition(source, path, pattern, captures, start, row, parent,
                                 context == _CLASS, attributes, comments)
        if definition is None:
            stack.append((end, context, parent))
            continue
        key = (start, end, definition.kind, definition.name)
        if key not in seen:
            seen.add(key)
            out.append(definition)
        inner = _CONTEXT.get(definition.kind, _TRANSPARENT)
        if inner == _TRANSPARENT:
            stack.append((end, context, parent))
        else:
            stack.append((end, inner, definition.name if inner != _LOCAL else ""))
    return tuple(out)


def _definition(source: bytes, path: str, pattern: _Pattern, captures: dict[str, list[Node]],
                start: int, start_row: int, parent: str, in_class: bool,
                attributes: dict[int, tuple[int, int]], comments: bool) -> Definition | None:
    names = captures.get("name")
    if not names:
        return None
    node = captures[pattern.capture][0]
    name_node = names[0]
    name = source[name_node.start_byte:name_node.end_byte].decode("utf-8", "replace")
    if not name:  # a name tree-sitter's error recovery inserted (MISSING)
        return None
    end = node.end_byte
    end_row, end_column = node.end_point
    if start_row < 0:
        start_row = node.start_point[0]
    if end_column == 0 and end_row > start_row:
        end_row -= 1

    doc = ""
    docs = captures.get("doc")
    if docs:
        doc = _docstring(_text(source, docs[0]))
    elif comments:
        doc, start, start_row = _comments_above(source, start, start_row, attributes)

    kind = pattern.kind
    colons = captures.get("colon")
    bodies = captures.get("body")
    if colons:
        signature = source[start:colons[0].end_byte].decode("utf-8", "replace")
    elif bodies:
        body = bodies[0]
        signature = source[start:body.start_byte].decode("utf-8", "replace").rstrip(" \t\r\n\\")
        if name_node.start_byte >= body.end_byte:  # typedef struct {...} T;
            tail = source[body.end_byte:end].decode("utf-8", "replace").strip(" \t\r\n;")
            signature = f"{signature} {{ … }} {tail}"
            if kind == "type" and "tag" not in captures:
                # the struct or enum is only known by the typedef's name
                kind = "enum" if body.type == "enumerator_list" else "struct"
    else:
        signature = source[start:end].decode("utf-8", "replace")
        signature = signature.rstrip() if kind == "macro" else signature.rstrip(" \t\r\n;")

    # Continuation lines (a decorator's def, wrapped parameters) lose the indentation of the
    # definition's own column, so a method reads as it would at the top level.
    column = start - (source.rfind(b"\n", 0, start) + 1)
    if column and "\n" in signature:
        first, *rest = signature.split("\n")
        signature = "\n".join([first, *(_unindent(line, column) for line in rest)])

    method = in_class
    parents = captures.get("parent")
    if parents:
        parent = _text(source, parents[0])
        method = True
    elif "::" in name:  # C++ `A::f`, `ns::A<T>::f`
        qualifier, _, name = name.rpartition("::")
        name = name.strip()
        parent = _TEMPLATE_ARGS.sub("", qualifier.rpartition("::")[2]).strip()
        method = True
        if not name:
            return None
    if "<" in name and not name.startswith("operator"):  # C++ `template <> struct S<int>`
        name = _TEMPLATE_ARGS.sub("", name).strip()
        if not name:
            return None
    if method and kind == "function":
        kind = "method"
    return Definition(name, kind, path, start_row + 1, end_row + 1, signature, doc, parent)


def _comments_above(source: bytes, start: int, row: int, attributes: dict[int, tuple[int, int]],
                    ) -> tuple[str, int, int]:
    """The doc comment of a definition starting at byte `start` on row `row`: the `//` lines
    and own-line `/* */` blocks right above it, dedented, markers kept. Rust attributes in
    between extend the definition; returns (doc, start byte, start row)."""
    line_start = source.rfind(b"\n", 0, start) + 1
    start_row = row
    first = last = -1
    while line_start > 0:
        attribute = attributes.get(row - 1)
        if attribute is not None:
            row, start = attribute
            start_row = row
            line_start = source.rfind(b"\n", 0, start) + 1
            continue
        above = source.rfind(b"\n", 0, line_start - 1) + 1
        line = source[above:line_start - 1].rstrip()
        code = line.lstrip()
        end = above + len(line)
        if code.startswith(b"//"):
            lines = 1
        elif code.endswith(b"*/"):
            opening = source.rfind(b"/*", 0, end - 2)
            if opening < 0:
                break
            above = source.rfind(b"\n", 0, opening) + 1
            if source[above:opening].strip():  # code before the comment on its line
                break
            lines = source.count(b"\n", above, line_start)
        else:
            break
        if last < 0:
            last = end
        first = above
        row -= lines
        line_start = above
    if first < 0:
        return "", start, start_row
    return _dedent(source[first:last].decode("utf-8", "replace")), start, start_row


def _dedent(text: str) -> str:
    """Remove the first line's indentation from every line that has it."""
    indent = len(text) - len(text.lstrip(" \t"))
    if not indent:
        return text
    prefix = text[:indent]
    return "\n".join(line[indent:] if line.startswith(prefix) else line.lstrip(" \t")
                     for line in text.split("\n"))


def symbols_for(path: str, source: bytes, *, mtime_ns: int = 0, size: int = 0,
                tree: Tree | None = None) -> FileSymbols:
    """Everything the index keeps about one file. Files without a grammar get language '' and
    nothing else; a `.h` file that looks like C++ is read as C++."""
    language = language_for_source(path, source) or ""
    definitions, imports = extract(language, source, path, tree) if language else ((), ())
    return FileSymbols(path, language, definitions, imports, mtime_ns=mtime_ns, size=size)
