"""The reliability scorecard: `python -m tests.reliability [PYTEST ARGS...]`.

Runs the reliability suite (this folder) with pytest and prints one line per case — PASS,
FAIL or SKIP, the case, its time — then a closing `N passed, N failed` line. The lines come
from pytest's own reports (a small plugin), so they are the real outcomes.

A case marked `xfail(strict=True)` is a known bug: the promise it checks does not hold yet.
It is scored FAIL (with the reason), yet it is what the suite expects, so the exit status is
pytest's: 0 when every case behaved as expected, known bugs included; 1 when something
failed unexpectedly (including a known bug that no longer fails: remove its mark)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


@dataclass
class Case:
    nodeid: str
    status: str = "PASS"  # PASS | FAIL | SKIP
    note: str = ""
    seconds: float = 0.0
    known_bug: bool = False

    @property
    def name(self) -> str:
        """`module: test[params]` without the test_ prefixes and the folder."""
        path, _, test = self.nodeid.partition("::")
        module = Path(path).stem.removeprefix("test_")
        return f"{module}: {test.removeprefix('test_')}"


class Scorecard:
    """A pytest plugin that keeps every case's outcome across its setup, call and teardown."""

    def __init__(self) -> None:
        self.cases: dict[str, Case] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        case = self.cases.setdefault(report.nodeid, Case(report.nodeid))
        case.seconds += report.duration
        if hasattr(report, "wasxfail"):
            if report.skipped:  # failed as the mark expects: a known bug
                case.status, case.known_bug = "FAIL", True
                case.note = f"known bug: {report.wasxfail}"
            else:  # passed although marked, not strictly (strict ones are failed reports)
                case.note = "passes although marked xfail; remove the mark"
        elif report.failed:
            case.status, case.known_bug = "FAIL", False
            where = "" if report.when == "call" else f"error in {report.when}: "
            case.note = case.note or where + _first_line(report)
        elif report.skipped and case.status == "PASS":
            case.status = "SKIP"
            case.note = _skip_reason(report)

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:  # a module that does not even import is a failed case
            self.cases[report.nodeid] = Case(report.nodeid, "FAIL", "cannot be collected")


def _first_line(report: Any) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text.strip().splitlines()[0][:160] if text.strip() else "failed"


def _short(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


def _skip_reason(report: Any) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""


def main(argv: list[str]) -> int:
    card = Scorecard()
    code = pytest.main([str(HERE), "-q", "--tb=short", "-p", "no:cacheprovider", *argv],
                       plugins=[card])
    cases = list(card.cases.values())
    width = max((len(c.name) for c in cases), default=0)
    print()
    print("Reliability scorecard")
    for case in cases:
        note = f"  ({_short(case.note)})" if case.note else ""
        print(f"{case.status:<4}  {case.name:<{width}}  {case.seconds:5.1f}s{note}")
    passed = sum(c.status == "PASS" for c in cases)
    failed = sum(c.status == "FAIL" for c in cases)
    skipped = sum(c.status == "SKIP" for c in cases)
    known = sum(c.known_bug for c in cases)
    print(f"known bugs (xfail): {known}; unexpected failures: {failed - known}"
          + (f"; skipped: {skipped}" if skipped else ""))
    print(f"{passed} passed, {failed} failed")
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
