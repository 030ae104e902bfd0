"""(d) Definition recall: for each case (`bench.context_cases`), remove the calling line, ask
for the window at the start of where it was, and check whether the callee's definition is in
it — Deskmate's engine against a BM25 sliding-window baseline given the same budget."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.context_cases import FROM_IMPORT, MODULE_ATTRIBUTE, Case
from deskmate.context.budget import count_tokens
from deskmate.context.engine import ContextEngine
from deskmate.context.extract import extract
from deskmate.context.lexical import Window, WindowIndex, terms
from deskmate.context.pack import RETRIEVAL_SHARE, ContextWindow, pack_cursor
from deskmate.context.retrieve import NEAR_AFTER, NEAR_BEFORE
from deskmate.context.symbols import Import

QUERY_LINES = 30  # the baseline's query: the identifiers of this many lines above the cursor
BASELINE_TOP = 200  # windows the baseline considers, best first (more than any budget holds)
HIT_KINDS = ("definition", "outline")
DEFINITION, OUTLINE_NAMING, OUTLINE = "definition", "outline naming it", "outline"
STRICT_HITS = (DEFINITION, OUTLINE_NAMING)

# Why a case was missed, most specific first.
DROPPED_BUDGET = "candidate dropped: no room left in the budget"
DROPPED_WEAK = "candidate dropped: score below the packer's minimum"
DROPPED_OTHER = "candidate dropped: other reason"
NOT_EXTRACTED = "no candidate: import not found by Deskmate's extractor"
NOT_RESOLVED = "no candidate: import resolved to another file (or none)"
NOT_FOLLOWED = "no candidate: `from pkg import module` resolved to pkg, not to the module"
NOT_NEAR = "no candidate: callee not named near the cursor"
NO_CANDIDATE = "no candidate: import resolved, definition not proposed"


@dataclass(frozen=True)
class Outcome:
    case: Case
    budget: int
    ours: str  # what `our_hit` says: DEFINITION, OUTLINE_NAMING, OUTLINE or "" (a miss)
    baseline: bool
    ours_tokens: int
    baseline_tokens: int
    cause: str  # for a miss of ours: one of the constants above
    detail: str  # the dropped section's reason, or what the import resolved to


def without_line(text: str, line: int) -> tuple[str, int]:
    """The text without its 1-based `line`, and the offset where that line began."""
    start = 0
    for _ in range(line - 1):
        start = text.index("\n", start) + 1
    end = text.find("\n", start)
    return text[:start] + text[len(text) if end < 0 else end + 1:], start


def our_hit(window: ContextWindow, case: Case) -> str:
    """DEFINITION, OUTLINE_NAMING (an outline whose text shows the callee's `def`/`class`
    line), OUTLINE (only an outline's line range overlaps it) or "" (a miss)."""
    found = [s for s in window.snippets if s.kind in HIT_KINDS and s.path == case.callee_path
             and case.overlaps(s.start_line, s.end_line)]
    if any(s.kind == "definition" for s in found):
        return DEFINITION
    naming = re.compile(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(case.callee)}\b", re.M)
    if any(naming.search(s.text) for s in found):
        return OUTLINE_NAMING
    return OUTLINE if found else ""


class Baseline:
    """BM25 over 20-line windows of every workspace file (built once): the cursor packed as the
    engine packs it, the rest filled with the best-scoring windows of other files."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self.index = WindowIndex(texts)
        self._costs: dict[tuple[str, int], int] = {}

    def ranked(self, case: Case, text: str, offset: int) -> list[Window]:
        above = text[:offset].split("\n")[-QUERY_LINES - 1:]
        found = self.index.search(terms("\n".join(above)), top=BASELINE_TOP,
                                  exclude_path=case.path)
        return [window for _, window in found]

    def pack(self, ranked: Sequence[Window], case: Case, text: str, offset: int,
             budget: int) -> tuple[bool, int]:
        """(whether an included window overlaps the callee's definition, tokens used)."""
        cursor = pack_cursor(text, offset, budget=budget - int(budget * RETRIEVAL_SHARE),
                             path=case.path)
        room = budget - cursor.tokens
        hit = False
        for window in ranked:
            cost = self._cost(window)
            if cost <= room:
                room -= cost
                hit = hit or (window.path == case.callee_path
                              and case.overlaps(window.start_line, window.end_line))
        return hit, budget - room

    def _cost(self, window: Window) -> int:
        key = (window.path, window.start_line)
        if (cost := self._costs.get(key)) is None:
            header = f"# {window.path}:{window.start_line}-{window.end_line}\n"
            cost = self._costs[key] = count_tokens(header + window.text)
        return cost


def evaluate(engine: ContextEngine, baseline: Baseline, texts: Mapping[str, str],
             cases: Sequence[Case], budgets: Sequence[int]) -> list[Outcome]:
    outcomes = []
    for case in cases:
        text, offset = without_line(texts[case.path], case.line)
        ranked = baseline.ranked(case, text, offset)
        for budget in budgets:
            window = engine.window(path=case.path, text=text, offset=offset, budget=budget)
            hit, baseline_tokens = baseline.pack(ranked, case, text, offset, budget)
            ours = our_hit(window, case)
            cause, detail = ("", "") if ours else why_missed(engine, case, text, offset, window)
            outcomes.append(Outcome(case=case, budget=budget, ours=ours, baseline=hit,
                                    ours_tokens=window.tokens, baseline_tokens=baseline_tokens,
                                    cause=cause, detail=detail))
    return outcomes


# --------------------------------------------------------------------------- misses


def why_missed(engine: ContextEngine, case: Case, text: str, offset: int,
               window: ContextWindow) -> tuple[str, str]:
    """(cause, detail) of a miss: the packer's reason when the definition was a candidate;
    otherwise where Deskmate's import handling lost it."""
    dropped = [s.reason for s in window.sections if not s.included and s.kind in HIT_KINDS
               and s.path == case.callee_path and case.overlaps(s.start_line, s.end_line)]
    if dropped:
        reason = dropped[0].rpartition("dropped: ")[2]
        if "no room" in reason:
            return DROPPED_BUDGET, dropped[0]
        return (DROPPED_WEAK if "too weak" in reason else DROPPED_OTHER), dropped[0]
    imported = _deskmate_import(case, text)
    if imported is None:
        return NOT_EXTRACTED, ""
    assert engine.index is not None
    files, inner = engine.index.resolve(case.path, "python", imported)
    if case.callee_path not in files:
        submodule = case.kind == MODULE_ATTRIBUTE and bool(imported.names)
        return (NOT_FOLLOWED if submodule else NOT_RESOLVED), \
            f"{imported.module} → {', '.join(files) or 'nothing'}" + \
            (f" (name {inner})" if inner else "")
    if not _named_near(case, text, offset):
        return NOT_NEAR, f"'{case.call}' not within {NEAR_BEFORE} lines above, " \
                         f"{NEAR_AFTER} below"
    return NO_CANDIDATE, f"{imported.module} → {case.callee_path}"


def _deskmate_import(case: Case, text: str) -> Import | None:
    """The import Deskmate's extractor sees for the case's binding, if any."""
    _, imports = extract("python", text.encode("utf-8", "surrogatepass"), case.path)
    if case.kind == FROM_IMPORT:
        return next((i for i in imports if (case.callee, case.call) in i.names), None)
    prefix = case.call.rpartition(".")[0]
    tests = (lambda i: not i.names and (i.alias or i.module) == prefix,  # import prefix [as p]
             lambda i: any(local == prefix for _, local in i.names),  # from pkg import prefix
             lambda i: not i.names and not i.alias and i.module.startswith(prefix + "."))
    for test in tests:  # the most exact binding first
        if (found := next((i for i in imports if test(i)), None)) is not None:
            return found
    return None


def _named_near(case: Case, text: str, offset: int) -> bool:
    """Whether the callee, as the call writes it, appears in the lines Deskmate reads for
    identifiers near the cursor."""
    lines = text.split("\n")
    line = text.count("\n", 0, offset)
    near = lines[max(line - NEAR_BEFORE, 0):line + NEAR_AFTER + 1]
    return any(case.call in current for current in near)
