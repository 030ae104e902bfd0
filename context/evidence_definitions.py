"""Evidence 1: definitions the code at the cursor uses, four sources in this order —

- `imports`: names the file imports (`from m import f`, `import { f } from './m'`), resolved
  to their definitions in other files, and `Name.member` uses of them;
- `module_members`: `module.member` uses of imported modules (`import m` … `m.f()`), the
  module's outline when no member is used yet;
- `defined_here`: names used near the cursor and defined elsewhere in the same file;
- `by_name`: other names used near the cursor, found by name in the symbol index.

`imports` fills `request.imported_files` and `request.modules`, which the later ones read."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

from deskmate.context.evidence import Request
from deskmate.context.evidence_outline import add_file_outline
from deskmate.context.symbols import Definition, Import

# Scores: what each kind of evidence is worth before distance and ambiguity discounts.
IMPORTED_AND_USED_NEAR = 1.0
MODULE_MEMBER_USED_NEAR = 0.95
IMPORTED_NOT_YET_USED = 0.85  # an import nothing uses yet is about to be used
DEFINED_HERE_USED_NEAR = 0.6
IMPORTED_USED_ELSEWHERE = 0.5
MODULE_MEMBER_USED_ELSEWHERE = 0.45
SAME_NAME_ELSEWHERE = 0.5  # divided among the definitions sharing the name
MODULE_OUTLINE = 0.3

MAX_SAME_NAME = 4  # a name defined in more places than this is too ambiguous to chase
MAX_MEMBERS_ELSEWHERE = 12  # per module, the most used first

# Words too common to chase by name: the definitions they find are noise.
_COMMON = frozenset({
    "self", "cls", "this", "super", "none", "true", "false", "null", "nil", "return",
    "import", "from", "def", "class", "func", "fn", "let", "var", "const", "int", "str",
    "float", "bool", "list", "dict", "set", "tuple", "len", "print", "range", "type",
    "object", "string", "error", "err", "ctx", "args", "kwargs", "value", "values", "key",
    "keys", "item", "items", "result", "data", "name", "new", "make", "append",
})


def imports(request: Request) -> None:
    """Named imports: each name's definition in the file it comes from."""
    for local, (imported, original) in named_imports(request.imports).items():
        files = request.resolve(imported)
        targets = request.definitions_in(files, original)
        if not targets:
            # `from pkg import module`, Java's `import a.b.C`, Rust's `use a::b::C`: the
            # name may be a module (or a file's own item) rather than something in `pkg`.
            separator = "::" if request.cursor.language == "rust" else "."
            if imported.module.endswith("."):  # `from . import module`: ".module"
                separator = ""
            inner = request.resolve(Import(imported.module + separator + original))
            if inner and not request.definitions_in(inner, original):
                request.modules[local] = (imported, inner)
                continue
            files = inner or files
            targets = request.definitions_in(files, original) or request.by_name(original)
        request.imported_files.update(files)
        if local in request.near:
            score, why = IMPORTED_AND_USED_NEAR * request.near[local], "used near the cursor"
        elif request.uses[local] == 0:
            score, why = IMPORTED_NOT_YET_USED, "imported, not used yet"
        else:
            score, why = IMPORTED_USED_ELSEWHERE, "used in this file"
        for definition in targets[:MAX_SAME_NAME]:
            request.add_definition(definition, score / max(len(targets), 1) ** 0.5,
                                   f"{original} from {imported.module}: {why}")
        # `Imported.member(...)`: a class's method or a namespace's function.
        holders = sorted({d.path for d in targets[:MAX_SAME_NAME]})
        for member, weight in _members_used(request, local).items():
            for definition in request.definitions_in(holders, member,
                                                     parent=original)[:MAX_SAME_NAME]:
                request.add_definition(definition, MODULE_MEMBER_USED_NEAR * weight,
                                       f"{local}.{member} used near the cursor")


def module_members(request: Request) -> None:
    """Modules bound by imports: the definitions behind `module.member` uses, near the
    cursor first, then the rest of the file's; with no member used anywhere, the outline."""
    language = request.cursor.language
    for local, imported in module_imports(language, request.imports).items():
        request.modules[local] = (imported, request.resolve(imported))
        if language == "python" and not imported.alias and "." in imported.module:
            # `import a.b` also binds `a`: `a.f()` reaches a/__init__.py.
            top = imported.module.split(".")[0]
            request.modules.setdefault(top, (Import(top), request.resolve(Import(top))))
    chains = _member_chains(request.code)
    for local, (imported, files) in request.modules.items():
        request.imported_files.update(files)
        if files:
            _add_module_members(request, local, imported, files, chains)


def defined_here(request: Request) -> None:
    """Names used near the cursor and defined elsewhere in this file."""
    local_names = {d.name for d in request.definitions}
    skipped = _imported_names(request)
    for word, weight in request.near.items():
        if word in skipped or word in _COMMON or len(word) < 3 or word not in local_names:
            continue
        for definition in request.definitions:
            if definition.name == word and not _covers(definition, request.line):
                request.add_definition(definition, DEFINED_HERE_USED_NEAR * weight,
                                       f"{word} used near the cursor")


def by_name(request: Request) -> None:
    """Other names used near the cursor, found by name in other files (a definition in a
    file the imports lead to counts more); a name defined in too many places is left."""
    local_names = {d.name for d in request.definitions}
    skipped = _imported_names(request)
    for word, weight in request.near.items():
        if word in skipped or word in _COMMON or len(word) < 3 or word in local_names:
            continue
        targets = request.by_name(word)
        if 0 < len(targets) <= MAX_SAME_NAME:
            for definition in targets:
                boost = 1.5 if definition.path in request.imported_files else 1.0
                request.add_definition(definition,
                                       min(SAME_NAME_ELSEWHERE * weight * boost, 0.9)
                                       / len(targets),
                                       f"{word} used near the cursor (found by name)")


# -- helpers -----------------------------------------------------------------------------------


def _add_module_members(request: Request, local: str, imported: Import, files: list[str],
                        chains: Counter[tuple[str, str]]) -> None:
    near_members = _members_used_near(request.near, local, chains)
    elsewhere = [(member, count) for (qualifier, member), count in chains.most_common()
                 if qualifier == local and member not in near_members]
    for member, weight in near_members.items():
        for definition in request.definitions_in(files, member)[:MAX_SAME_NAME]:
            request.add_definition(definition, MODULE_MEMBER_USED_NEAR * weight,
                                   f"{local}.{member} used near the cursor")
    for member, _count in elsewhere[:MAX_MEMBERS_ELSEWHERE]:
        for definition in request.definitions_in(files, member)[:MAX_SAME_NAME]:
            request.add_definition(definition, MODULE_MEMBER_USED_ELSEWHERE,
                                   f"{local}.{member} used in this file")
    # What else the module offers: the member about to be used may be none of those
    # used so far.
    score = MODULE_OUTLINE * (0.8 if near_members or elsewhere else 1.5)
    for path in files[:2]:
        add_file_outline(request, path, score, f"module {imported.module}, imported here")


def _imported_names(request: Request) -> set[str]:
    return set(named_imports(request.imports)) | set(module_imports(request.cursor.language,
                                                                    request.imports))


def _members_used(request: Request, local: str) -> dict[str, float]:
    """`local.member` uses near the cursor, with the member's weight."""
    if local not in request.near:
        return {}
    pattern = re.compile(rf"\b{re.escape(local)}\.([A-Za-z_]\w*)")
    members: dict[str, float] = {}
    for _, text, weight in request.near_lines:
        for member in pattern.findall(text):
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


def named_imports(imports: Iterable[Import]) -> dict[str, tuple[Import, str]]:
    """Local name → (the import, the name it imports)."""
    named: dict[str, tuple[Import, str]] = {}
    for imported in imports:
        for original, local in imported.names:
            if original != "*":
                named[local] = (imported, original)
    return named


def module_imports(language: str, imports: Iterable[Import]) -> dict[str, Import]:
    """Local name → an import that binds a whole module to it."""
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


def _covers(definition: Definition, line: int) -> bool:
    return definition.start_line <= line <= definition.end_line
