"""What other open documents cost a completion: `ContextEngine.window()` in a small file while
a large document is open in another tab.

    python -m bench.context_open_documents [--runs N] [--json]

A 120-line cursor document (the first lines of `bench/sample.py`), typed into one character
per request; one other open document of 0 / 5.5 / 13 / 20 MB of real, repeated Python code
(this Python's standard library modules, concatenated), unchanged between requests. For each
size, a fresh engine: the first request (the other document met for the first time) is shown
apart, then the median / p95 / max of the next `--runs` requests. One more row has the 13 MB
document edited a moment ago (`note_edit`), so it is read around that edit. The last table
runs a small document's windows while another thread packs windows in a 20 MB document at
the same time (the server calls `window()` from worker threads).

Runs on older engines too (open documents passed as plain strings where `OpenDocument` does
not exist yet), so the same script gives the figures before and after a change.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.context_common import STDLIB
from bench.harness import Summary, table
from bench.overhead import _jsonable, machine
from bench.sample import document
from deskmate.context.engine import ContextEngine

try:  # open documents with their versions (older engines take plain strings)
    from deskmate.context.engine import OpenDocument
except ImportError:  # pragma: no cover - an older engine
    OpenDocument = None  # type: ignore[assignment,misc]

CURSOR_LINES = 120
SIZES_MB = (0.0, 5.5, 13.0, 20.0)
EDITED_MB = 13.0
BUDGET = 15360
# Real code nobody here wrote, repeated to size: no two neighbouring windows are alike.
SOURCES = ("argparse.py", "textwrap.py", "json/decoder.py", "subprocess.py", "typing.py",
           "dataclasses.py", "pathlib.py", "logging/__init__.py")


@dataclass(frozen=True)
class Row:
    other: str  # what else is open
    first_ms: float  # the first request: the other document met for the first time
    elapsed_ms: list[float]  # the requests after it


def cursor_document() -> str:
    lines = document()[0].splitlines(keepends=True)
    return "".join(lines[:CURSOR_LINES])


def repeated_code(megabytes: float) -> str:
    """`megabytes` MB of the standard library's modules, repeated whole."""
    pieces = [(STDLIB / name).read_text(encoding="utf-8") for name in SOURCES]
    unit = "\n\n".join(pieces)
    size = int(megabytes * 1_000_000)
    return (unit * (size // len(unit) + 1))[:size]


def as_open(text: str, version: int) -> Any:
    return OpenDocument(text=text, version=version) if OpenDocument is not None else text


class Typist:
    """The cursor document, typed into one character per request at a moving cursor."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line = 40
        self.version = 0

    def next(self) -> tuple[str, int]:
        lines = self.text.split("\n")
        self.line = (self.line + 7) % (len(lines) - 1)
        offset = sum(len(line) + 1 for line in lines[:self.line]) + len(lines[self.line])
        self.text = self.text[:offset] + "x" + self.text[offset:]
        self.version += 1
        return self.text, offset + 1


def measure(root: Path, other: str, runs: int, *, edited_line: int | None = None) -> Row:
    engine = ContextEngine(root, use_cache=False)
    engine.build_index()
    typist = Typist(cursor_document())
    documents: Mapping[str, Any] = {"big.py": as_open(other, 1)} if other else {}
    if edited_line is not None:
        engine.note_edit("big.py", edited_line)

    def one() -> float:
        text, offset = typist.next()
        started = time.perf_counter()
        engine.window(path="app.py", text=text, offset=offset, budget=BUDGET,
                      open_documents=documents)
        return (time.perf_counter() - started) * 1000

    first = one()
    label = f"{len(other) / 1e6:.1f} MB" if other else "none"
    if edited_line is not None:
        label += f", edited at line {edited_line}"
    return Row(other=label, first_ms=first, elapsed_ms=[one() for _ in range(runs)])


def measure_concurrent(root: Path, big: str, runs: int) -> tuple[Row, int]:
    """A small document's windows while another thread packs windows in `big` (as the
    cursor document) without pause; and how many big windows were packed meanwhile."""
    engine = ContextEngine(root, use_cache=False)
    engine.build_index()
    typist = Typist(cursor_document())
    stop = threading.Event()
    packed = [0]

    def big_windows() -> None:
        offset = len(big) // 2
        while not stop.is_set():
            engine.window(path="big.py", text=big, offset=offset, budget=BUDGET)
            packed[0] += 1

    def one() -> float:
        text, offset = typist.next()
        started = time.perf_counter()
        engine.window(path="app.py", text=text, offset=offset, budget=BUDGET)
        return (time.perf_counter() - started) * 1000

    first = one()
    engine.window(path="big.py", text=big, offset=len(big) // 2, budget=BUDGET)  # parsed once
    worker = threading.Thread(target=big_windows, daemon=True)
    worker.start()
    time.sleep(0.05)
    try:
        elapsed = []
        for _ in range(runs):
            elapsed.append(one())
            time.sleep(0.005)  # a typist's pause: the other thread runs meanwhile
    finally:
        stop.set()
        worker.join()
    return Row(other=f"{len(big) / 1e6:.1f} MB packed in another thread", first_ms=first,
               elapsed_ms=elapsed), packed[0]


def rows_table(rows: list[Row]) -> str:
    return table(("other open document", "first ms", "median ms", "p95 ms", "max ms"),
                 [(r.other, r.first_ms, Summary.of(r.elapsed_ms).p50,
                   Summary.of(r.elapsed_ms).p95, Summary.of(r.elapsed_ms).max) for r in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.context_open_documents",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=50, metavar="N",
                        help="timed requests per row after the first (default 50)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    host = machine()
    say: Callable[[str], None] = (lambda text: print(text, file=sys.stderr)) if args.json \
        else print
    say(f"Python {host['python']} on {host['platform']}, {host['cpus']} CPUs, load average "
        f"{host['load_average_1min']} at start; engine: "
        f"{'OpenDocument' if OpenDocument is not None else 'plain strings'}\n")
    with tempfile.TemporaryDirectory(prefix="deskmate-bench-open-") as tmp:
        root = Path(tmp)
        (root / "app.py").write_text(cursor_document(), encoding="utf-8")
        rows = []
        for size in SIZES_MB:
            rows.append(measure(root, repeated_code(size) if size else "", args.runs))
            say(rows_table(rows[-1:]).splitlines()[-1])
        edited = repeated_code(EDITED_MB)
        rows.append(measure(root, edited, args.runs,
                            edited_line=edited.count("\n", 0, len(edited) // 2) + 1))
        concurrent, packed = measure_concurrent(root, repeated_code(max(SIZES_MB)),
                                                args.runs)
    head = (f"window() in a {CURSOR_LINES}-line document, budget {BUDGET}, one character "
            f"typed per request; {args.runs} requests after the first\n")
    together = (f"\nThe same small document while another thread packs windows in a "
                f"{max(SIZES_MB):.0f} MB document ({packed} packed meanwhile):\n")
    if args.json:
        print(json.dumps(_jsonable({
            "machine": host, "runs": args.runs,
            "rows": [{**asdict(r), "summary": asdict(Summary.of(r.elapsed_ms))}
                     for r in rows],
            "concurrent": {**asdict(concurrent), "packed": packed,
                           "summary": asdict(Summary.of(concurrent.elapsed_ms))}}), indent=2))
    else:
        print("\n" + head + rows_table(rows) + "\n" + together + rows_table([concurrent]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
