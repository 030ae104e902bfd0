"""(d) The recall cases, with a ground truth that owes nothing to Deskmate: Python's own `ast`
reads each file's imports, maps module names to files of the workspace (`X.py`,
`X/__init__.py`), finds the imported name's top-level `def`/`class` there, and picks lines that
call it.

A case is a line of file A whose statement calls a function or class defined at the top level
of file B, reached either through `from B import name [as alias]` → `alias(...)` (kind
FROM_IMPORT) or through a module binding (`import B [as m]`, `from pkg import B`) →
`m.name(...)` (kind MODULE_ATTRIBUTE)."""

from __future__ import annotations

import ast
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

FROM_IMPORT = "from X import name"
MODULE_ATTRIBUTE = "X.name"
KINDS = (FROM_IMPORT, MODULE_ATTRIBUTE)

FIRST_LINES = 5  # calls in a file's first lines are left out (nothing above to go on)
PER_FILE, PER_CALLEE = 2, 2  # caps that spread the sample over many files and callees

_COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For,
             ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.TryStar, ast.Match)
_IMPORTS = (ast.Import, ast.ImportFrom)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_EVERYWHERE = (1, 1 << 30)

Range = tuple[int, int]


@dataclass(frozen=True)
class Case:
    path: str  # the file whose line is removed
    line: int  # 1-based
    kind: str  # FROM_IMPORT or MODULE_ATTRIBUTE
    call: str  # the callee as written at the call: "alias" or "module.name"
    callee: str  # its name where it is defined
    callee_path: str
    ranges: tuple[Range, ...]  # its top-level definitions in callee_path, decorators included

    def overlaps(self, start: int, end: int) -> bool:
        return any(start <= last and first <= end for first, last in self.ranges)


@dataclass(frozen=True)
class _Binding:
    target: str  # the file the import reaches
    name: str  # the definition it names in `target`; "" for a module
    scope: Range  # the lines where it is visible


class PythonFiles:
    """The Python modules among the workspace's files, and what `ast` sees in them."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self.texts = texts
        self.modules: dict[str, str] = {}
        for path in sorted(texts):  # X/__init__.py sorts after X.py and wins, as in Python
            if (module := module_name(path)) is not None:
                self.modules[module] = path

        self._top_level: dict[str, dict[str, tuple[Range, ...]]] = {}

    def tree(self, path: str) -> ast.Module | None:
        """The file's syntax tree (not kept: a whole workspace's trees would make the garbage
        collector crawl), its top-level definitions noted on the way."""
        try:
            tree = ast.parse(self.texts[path], filename=path)
        except (SyntaxError, ValueError):
            tree = None
        self._top_level[path] = _top_level(tree)
        return tree

    def top_level(self, path: str) -> dict[str, tuple[Range, ...]]:
        """Top-level `def` and `class` statements by name: their line ranges."""
        if path not in self._top_level:
            self.tree(path)
        return self._top_level[path]


def _top_level(tree: ast.Module | None) -> dict[str, tuple[Range, ...]]:
    found: dict[str, tuple[Range, ...]] = {}
    for node in tree.body if tree else ():
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            found[node.name] = (*found.get(node.name, ()), (first, node.end_lineno or node.lineno))
    return found


def module_name(path: str) -> str | None:
    """'a/b.py' → 'a.b', 'a/__init__.py' → 'a'; None for what no import can name."""
    if not path.endswith(".py"):
        return None
    parts = path[:-3].split("/")
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts) if all(p.isidentifier() for p in parts) else None


def _absolute(path: str, module: str | None, level: int) -> str | None:
    """The absolute module name of an import written in `path`."""
    if level == 0:
        return module
    package = (module_name(path) or "").split(".")
    if not path.endswith("/__init__.py"):
        package = package[:-1]
    if level - 1 > len(package) or (level - 1 == len(package) and not module):
        return None
    base = package[:len(package) - (level - 1)]
    return ".".join([*base, module] if module else base) or None


# --------------------------------------------------------------------------- bindings


def _imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, Range]]:
    """Every import statement with the lines its names are visible in: the whole file for
    module-level ones (inside `if`/`try` too), the function for local ones. Imports in a class
    body bind class attributes and are left out."""
    stack: list[tuple[ast.AST, Range | None]] = [(tree, _EVERYWHERE)]
    while stack:
        node, scope = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _IMPORTS):
                if scope is not None:
                    yield child, scope
            elif isinstance(child, _FUNCTIONS):
                stack.append((child, (child.lineno, child.end_lineno or child.lineno)))
            elif isinstance(child, ast.ClassDef):
                stack.append((child, None))
            elif isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                stack.append((child, scope))


def bindings(workspace: PythonFiles, path: str, tree: ast.Module
             ) -> tuple[dict[str, list[_Binding]], dict[str, list[_Binding]]]:
    """(names bound to definitions of other files, dotted expressions bound to modules)."""
    names: dict[str, list[_Binding]] = {}
    modules: dict[str, list[_Binding]] = {}
    for statement, scope in _imports(tree):
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                _bind_module(workspace, modules, alias, scope)
            continue
        source = _absolute(path, statement.module, statement.level)
        for alias in statement.names if source else ():
            local = alias.asname or alias.name
            target = workspace.modules.get(source or "")
            if target is not None and alias.name in workspace.top_level(target):
                names.setdefault(local, []).append(_Binding(target, alias.name, scope))
            elif (submodule := workspace.modules.get(f"{source}.{alias.name}")) is not None:
                modules.setdefault(local, []).append(_Binding(submodule, "", scope))
    return names, modules


def _bind_module(workspace: PythonFiles, modules: dict[str, list[_Binding]], alias: ast.alias,
                 scope: Range) -> None:
    """`import a.b.c as m` binds m; `import a.b.c` makes a, a.b and a.b.c reachable."""
    if alias.asname:
        if (target := workspace.modules.get(alias.name)) is not None:
            modules.setdefault(alias.asname, []).append(_Binding(target, "", scope))
        return
    parts = alias.name.split(".")
    for end in range(1, len(parts) + 1):
        dotted = ".".join(parts[:end])
        if (target := workspace.modules.get(dotted)) is not None:
            modules.setdefault(dotted, []).append(_Binding(target, "", scope))


def _defined_here(tree: ast.Module) -> set[str]:
    """Names the file itself binds at the top level (they would shadow an import)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


# --------------------------------------------------------------------------- calls


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _statements(tree: ast.Module) -> Iterator[ast.stmt]:
    """Every statement, nested ones included (expressions are not entered)."""
    stack: list[ast.AST] = [tree]
    while stack:
        for child in ast.iter_child_nodes(stack.pop()):
            if isinstance(child, ast.stmt):
                yield child
            if isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                stack.append(child)


def _one_line(statement: ast.stmt, lines: list[str]) -> bool:
    """A simple statement alone on its line (the line starts with it), past the first lines."""
    return (not isinstance(statement, (*_COMPOUND, *_IMPORTS))
            and statement.lineno == statement.end_lineno and statement.lineno > FIRST_LINES
            and not lines[statement.lineno - 1][:statement.col_offset].strip())


def cases_in(workspace: PythonFiles, path: str) -> list[Case]:
    """Every line of `path` that calls an imported definition (the first such call per line)."""
    tree = workspace.tree(path)
    if tree is None:
        return []
    names, modules = bindings(workspace, path, tree)
    if not names and not modules:
        return []
    shadowed = _defined_here(tree)
    lines = workspace.texts[path].split("\n")
    found: dict[int, Case] = {}
    statements = list(_statements(tree))
    import_lines = {s.lineno for s in statements if isinstance(s, _IMPORTS)}
    for statement in statements:
        if (statement.lineno in found or statement.lineno in import_lines
                or not _one_line(statement, lines)):
            continue
        calls = sorted((n for n in ast.walk(statement) if isinstance(n, ast.Call)),
                       key=lambda n: n.col_offset)
        for call in calls:
            case = _case(workspace, path, statement.lineno, call, names, modules, shadowed)
            if case is not None:
                found[statement.lineno] = case
                break
    return list(found.values())


def _case(workspace: PythonFiles, path: str, line: int, call: ast.Call,
          names: Mapping[str, list[_Binding]], modules: Mapping[str, list[_Binding]],
          shadowed: set[str]) -> Case | None:
    written = _dotted(call.func)
    if written is None:
        return None
    if "." not in written:
        kind, bound, member = FROM_IMPORT, names.get(written, ()), ""
        if written in shadowed:
            return None
    else:
        prefix, member = written.rsplit(".", 1)
        kind, bound = MODULE_ATTRIBUTE, modules.get(prefix, ())
        if prefix.split(".")[0] in shadowed:
            return None
    for binding in bound:
        if not binding.scope[0] <= line <= binding.scope[1] or binding.target == path:
            continue
        callee = binding.name or member
        ranges = workspace.top_level(binding.target).get(callee)
        if ranges:
            return Case(path, line, kind, written, callee, binding.target, ranges)
    return None


def build_cases(texts: Mapping[str, str], count: int, seed: int) -> tuple[list[Case], int]:
    """`count` cases drawn at random (seeded) from every call line of the workspace's Python
    files, at most PER_FILE per file and PER_CALLEE per callee while enough remain; and how
    many there were to draw from."""
    workspace = PythonFiles(texts)
    every = [case for path in sorted(workspace.modules.values())
             for case in cases_in(workspace, path)]
    pool = random.Random(seed).sample(every, len(every))
    per_file: Counter[str] = Counter()
    per_callee: Counter[tuple[str, str]] = Counter()
    chosen: list[Case] = []
    for case in pool:
        if per_file[case.path] >= PER_FILE or per_callee[case.callee_path, case.callee] >= \
                PER_CALLEE:
            continue
        chosen.append(case)
        per_file[case.path] += 1
        per_callee[case.callee_path, case.callee] += 1
        if len(chosen) == count:
            break
    if len(chosen) < count:  # a small workspace: fill up without the caps
        rest = [case for case in pool if case not in set(chosen)]
        chosen += rest[:count - len(chosen)]
    return chosen, len(every)
