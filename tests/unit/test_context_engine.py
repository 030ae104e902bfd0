# ruff: noqa: E101  (the Go sources are indented with tabs, as gofmt writes them)
"""The context engine on small projects written for the tests, one per language: a definition
used in one file and defined in another reaches the window with its range; excluded and
secret files never do; the window never exceeds its budget."""

from __future__ import annotations

import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from deskmate.context import documents as documents_module
from deskmate.context import engine as engine_module
from deskmate.context.budget import count_tokens
from deskmate.context.engine import ContextEngine, OpenDocument
from deskmate.context.lexical import CountedFile, counted_file
from deskmate.context.pack import ContextWindow
from deskmate.context.privacy import ExcludedDocument

CURSOR = "<|>"


@dataclass(frozen=True)
class Project:
    files: dict[str, str]
    current: str  # the file with the cursor marker
    defined_in: str  # where the used definition lives
    definition: tuple[int, int]  # its 1-based inclusive lines there
    name: str


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


PROJECTS = {
    "python": Project(
        files={
            "shop/pricing.py": src('''
                """Prices."""


                def compute_total(items, tax):
                    """The sum of item prices plus tax."""
                    subtotal = sum(item.price for item in items)
                    return subtotal * (1 + tax)
                '''),
            "shop/app.py": src('''
                from shop.pricing import compute_total


                def checkout(cart):
                    total = compute_total(cart.items, 0.2)
                    <|>
                '''),
        },
        current="shop/app.py", defined_in="shop/pricing.py", definition=(4, 7),
        name="compute_total"),
    "javascript": Project(
        files={
            "lib/pricing.js": src('''
                // Prices.

                /** The sum of item prices plus tax. */
                export function computeTotal(items, tax) {
                  const subtotal = items.reduce((s, i) => s + i.price, 0);
                  return subtotal * (1 + tax);
                }
                '''),
            "app.js": src('''
                import { computeTotal } from './lib/pricing.js';

                export function checkout(cart) {
                  const total = computeTotal(cart.items, 0.2);
                  <|>
                }
                '''),
        },
        current="app.js", defined_in="lib/pricing.js", definition=(4, 7), name="computeTotal"),
    "typescript": Project(
        files={
            "src/pricing.ts": src('''
                export interface Item { price: number }

                export function computeTotal(items: Item[], tax: number): number {
                  const subtotal = items.reduce((s, i) => s + i.price, 0);
                  return subtotal * (1 + tax);
                }
                '''),
            "src/app.ts": src('''
                import { computeTotal } from './pricing';

                export function checkout(items: { price: number }[]): number {
                  const total = computeTotal(items, 0.2);
                  <|>
                }
                '''),
        },
        current="src/app.ts", defined_in="src/pricing.ts", definition=(3, 6),
        name="computeTotal"),
    "tsx": Project(
        files={
            "src/PriceTag.tsx": src('''
                type Props = { amount: number };

                export function PriceTag({ amount }: Props) {
                  return <span className="price">{amount.toFixed(2)}</span>;
                }
                '''),
            "src/Cart.tsx": src('''
                import { PriceTag } from './PriceTag';

                export function Cart({ total }: { total: number }) {
                  return <div><PriceTag amount={total} /><|></div>;
                }
                '''),
        },
        current="src/Cart.tsx", defined_in="src/PriceTag.tsx", definition=(3, 5),
        name="PriceTag"),
    "go": Project(
        files={
            "go.mod": "module example.com/shop\n\ngo 1.22\n",
            "pricing/pricing.go": src('''
                package pricing

                // ComputeTotal is the sum of item prices plus tax.
                func ComputeTotal(prices []float64, tax float64) float64 {
                	subtotal := 0.0
                	for _, p := range prices {
                		subtotal += p
                	}
                	return subtotal * (1 + tax)
                }
                '''),
            "main.go": src('''
                package main

                import (
                	"fmt"

                	"example.com/shop/pricing"
                )

                func main() {
                	total := pricing.ComputeTotal([]float64{1, 2}, 0.2)
                	<|>
                	fmt.Println(total)
                }
                '''),
        },
        current="main.go", defined_in="pricing/pricing.go", definition=(4, 10),
        name="ComputeTotal"),
    "rust": Project(
        files={
            "src/pricing.rs": src('''
                /// The sum of item prices plus tax.
                pub fn compute_total(prices: &[f64], tax: f64) -> f64 {
                    let subtotal: f64 = prices.iter().sum();
                    subtotal * (1.0 + tax)
                }
                '''),
            "src/main.rs": src('''
                mod pricing;
                use crate::pricing::compute_total;

                fn main() {
                    let total = compute_total(&[1.0, 2.0], 0.2);
                    <|>
                }
                '''),
        },
        current="src/main.rs", defined_in="src/pricing.rs", definition=(2, 5),
        name="compute_total"),
    "java": Project(
        files={
            "src/shop/Pricing.java": src('''
                package shop;

                public final class Pricing {
                    /** The sum of item prices plus tax. */
                    public static double computeTotal(double[] prices, double tax) {
                        double subtotal = 0;
                        for (double p : prices) subtotal += p;
                        return subtotal * (1 + tax);
                    }
                }
                '''),
            "src/shop/App.java": src('''
                package shop;

                import shop.Pricing;

                public class App {
                    public static void main(String[] args) {
                        double total = Pricing.computeTotal(new double[] {1, 2}, 0.2);
                        <|>
                    }
                }
                '''),
        },
        current="src/shop/App.java", defined_in="src/shop/Pricing.java", definition=(5, 9),
        name="computeTotal"),
    "c": Project(
        files={
            "src/pricing.h": src('''
                #ifndef PRICING_H
                #define PRICING_H

                /* The sum of item prices plus tax. */
                double compute_total(const double *prices, int count, double tax);

                #endif
                '''),
            "src/main.c": src('''
                #include <stdio.h>
                #include "pricing.h"

                int main(void) {
                    double prices[] = {1.0, 2.0};
                    double total = compute_total(prices, 2, 0.2);
                    <|>
                    return 0;
                }
                '''),
        },
        current="src/main.c", defined_in="src/pricing.h", definition=(5, 5),
        name="compute_total"),
    "cpp": Project(
        files={
            "include/shop/pricing.hpp": src('''
                #pragma once
                #include <vector>

                namespace shop {

                // The sum of item prices plus tax.
                double computeTotal(const std::vector<double>& prices, double tax);

                }  // namespace shop
                '''),
            "src/main.cpp": src('''
                #include "shop/pricing.hpp"

                int main() {
                    std::vector<double> prices{1.0, 2.0};
                    double total = shop::computeTotal(prices, 0.2);
                    <|>
                    return 0;
                }
                '''),
        },
        current="src/main.cpp", defined_in="include/shop/pricing.hpp", definition=(7, 7),
        name="computeTotal"),
}


def make(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "project"
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace(CURSOR, ""), encoding="utf-8")
    return root


def window_at(engine: ContextEngine, project: Project, budget: int) -> ContextWindow:
    text = project.files[project.current]
    offset = text.index(CURSOR)
    return engine.window(path=project.current, text=text.replace(CURSOR, ""), offset=offset,
                         budget=budget)


@pytest.mark.parametrize("language", sorted(PROJECTS))
def test_a_definition_used_here_and_defined_there_is_in_the_window(
    tmp_path: Path, language: str
) -> None:
    project = PROJECTS[language]
    engine = ContextEngine(make(tmp_path, project.files), use_cache=False)
    stats = engine.build_index()
    assert stats is not None

    window = window_at(engine, project, budget=2000)

    matching = [s for s in window.sections
                if s.included and s.kind == "definition" and s.path == project.defined_in]
    assert project.definition in [(s.start_line, s.end_line) for s in matching], [
        (s.kind, s.path, s.start_line, s.end_line, s.included, s.reason)
        for s in window.sections]
    snippet = next(s for s in window.snippets if s.path == project.defined_in
                   and (s.start_line, s.end_line) == project.definition)
    assert project.name in snippet.text
    lines = f"{project.definition[0]}-{project.definition[1]}"
    assert snippet.header.endswith(f"{project.defined_in}:{lines}")
    assert f"{project.defined_in}:{lines}" in window.prompt
    assert count_tokens(window.prompt) <= window.tokens <= 2000


def test_excluded_and_secret_files_never_reach_the_window(tmp_path: Path) -> None:
    secret = "sk-live-0123456789abcdefghij"
    project = PROJECTS["python"]
    files = dict(project.files)
    # Each defines compute_total too, and would be found by name if it were indexed.
    for path in (".env", "config/id_rsa", "generated/pricing.py", "vendor/lib.py",
                 "keys/server.pem", "node_modules/x/index.js"):
        files[path] = f"def compute_total(items, tax):\n    return '{secret}'\n"
    files[".gitignore"] = "generated/\n"
    files[".deskmateignore"] = "vendor/\n"
    root = make(tmp_path, files)
    engine = ContextEngine(root, use_cache=False)
    engine.build_index()

    window = window_at(engine, project, budget=8000)

    assert secret not in window.prompt
    assert {s.path for s in window.sections} <= {"shop/app.py", "shop/pricing.py"}
    assert engine.index is not None
    assert sorted(engine.index.paths()) == [".deskmateignore", ".gitignore",
                                            "shop/app.py", "shop/pricing.py"]


@pytest.mark.parametrize("budget", [1, 16, 64, 300, 2000])
def test_the_window_never_exceeds_its_budget_even_with_special_tokens(
    tmp_path: Path, budget: int
) -> None:
    project = PROJECTS["python"]
    files = dict(project.files)
    special = "<|endoftext|><|fim_prefix|>"
    files["shop/pricing.py"] = files["shop/pricing.py"].replace('"""Prices."""',
                                                                f'"""Prices {special}."""')
    files["shop/app.py"] = files["shop/app.py"].replace("def checkout", f"# {special}\ndef "
                                                        "checkout")
    engine = ContextEngine(make(tmp_path, files), use_cache=False)
    engine.build_index()
    project = Project(files=files, current=project.current, defined_in=project.defined_in,
                      definition=project.definition, name=project.name)

    window = window_at(engine, project, budget=budget)

    assert count_tokens(window.prompt) <= window.tokens <= budget
    assert sum(s.tokens for s in window.sections if s.included) == window.tokens


def test_the_second_build_comes_from_the_disk_cache(tmp_path: Path) -> None:
    project = PROJECTS["go"]
    root = make(tmp_path, project.files)
    cache = tmp_path / "cache"

    first = ContextEngine(root, cache_dir=cache).build_index()
    (root / "pricing" / "extra.go").write_text("package pricing\n\nfunc Extra() {}\n")
    second_engine = ContextEngine(root, cache_dir=cache)
    second = second_engine.build_index()

    assert first is not None
    assert second is not None
    assert (first.parsed, first.cached) == (3, 0)
    assert (second.parsed, second.cached) == (1, 3)  # only the new file was parsed
    assert second_engine.index is not None
    assert [d.name for d in second_engine.index.definitions_named("Extra")] == ["Extra"]
    assert not list(cache.glob("*.tmp"))  # written whole, then renamed into place


def test_a_saved_file_and_a_deleted_file_update_the_index(tmp_path: Path) -> None:
    project = PROJECTS["python"]
    root = make(tmp_path, project.files)
    engine = ContextEngine(root, use_cache=False)
    engine.build_index()
    assert engine.index is not None

    (root / "shop" / "pricing.py").write_text("def grand_total(items):\n    return 0\n")
    engine.file_changed("shop/pricing.py")
    assert engine.index.definitions_named("compute_total") == []
    assert [d.name for d in engine.index.definitions_named("grand_total")] == ["grand_total"]

    (root / "shop" / "pricing.py").unlink()
    engine.file_deleted("shop/pricing.py")
    assert engine.index.definitions_named("grand_total") == []
    assert engine.index.file("shop/pricing.py") is None


def test_the_current_file_is_reparsed_as_it_changes(tmp_path: Path) -> None:
    project = PROJECTS["python"]
    engine = ContextEngine(make(tmp_path, project.files), use_cache=False)
    engine.build_index()
    text = project.files[project.current].replace(CURSOR, "")
    # The enclosing function grows a helper defined far above the cursor, then is used.
    edited = "def discount(total):\n    return total * 0.9\n\n\n" + "\n" * 300 + text + \
        "    final = discount(total)\n"
    offset = len(edited)

    window = engine.window(path=project.current, text=edited, offset=offset, budget=400)

    here = [s for s in window.sections if s.path == project.current and s.kind == "definition"]
    assert any(s.included and (s.start_line, s.end_line) == (1, 2) for s in here)


def test_worker_processes_build_the_same_index(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import deskmate.context.index as index_module

    monkeypatch.setattr(index_module, "PARALLEL_MIN_FILES", 1)
    files = {f"pkg/mod{n}.py": f"def function_{n}(x):\n    return x + {n}\n" for n in range(60)}
    root = make(tmp_path, files)

    alone = ContextEngine(root, use_cache=False)
    alone.build_index()
    pooled = ContextEngine(root, use_cache=False, workers=2)
    stats = pooled.build_index()

    assert stats is not None
    assert stats.parsed == 60
    assert alone.index is not None
    assert pooled.index is not None
    assert sorted(pooled.index.paths()) == sorted(alone.index.paths())
    for n in range(60):
        assert pooled.index.definitions_named(f"function_{n}") == \
            alone.index.definitions_named(f"function_{n}")


def test_a_module_imported_from_its_own_package_resolves_to_the_module(tmp_path: Path) -> None:
    """`from . import util` then `util.debug(...)`: util.py, not the package's __init__."""
    project = Project(
        files={
            "pkg/__init__.py": src('''
                """The package."""
                '''),
            # Where `..util` (the package's parent's util) would lead: the wrong debug.
            "util.py": src('''
                def debug(message, level):
                    """Print at a level."""
                '''),
            "pkg/util.py": src('''
                def debug(message):
                    """Log a debug message."""
                    print(message)
                '''),
            "pkg/managers.py": src('''
                from . import util


                def serve(request):
                    util.debug("serving")
                    <|>
                '''),
        },
        current="pkg/managers.py", defined_in="pkg/util.py", definition=(1, 3), name="debug")
    engine = ContextEngine(make(tmp_path, project.files), use_cache=False)
    engine.build_index()

    window = window_at(engine, project, budget=2000)

    [ours] = [s for s in window.sections if s.included and s.kind == "definition"
              and s.path == "pkg/util.py"]
    assert (ours.start_line, ours.end_line) == (1, 3)
    assert "util.debug" in ours.reason  # resolved through the import, not found by name
    # The other debug may come by name, but counts for less.
    assert all(s.score < ours.score for s in window.sections if s.path == "util.py")


# --------------------------------------------------------------------------- threads


def test_windows_from_several_threads_at_once_are_those_of_one_thread(tmp_path: Path) -> None:
    project = PROJECTS["python"]
    files = dict(project.files)
    files.update({f"shop/mod{n}.py": f"from shop.pricing import compute_total\n\n\n"
                  f"def run_{n}(cart):\n    return compute_total(cart.items, 0.{n})\n"
                  for n in range(6)})
    root = make(tmp_path, files)
    others = {"shop/notes.py": OpenDocument("def notes(cart):\n    return cart.items\n", 1)}

    def requests() -> list[dict[str, object]]:
        asked: list[dict[str, object]] = []
        for n in range(6):
            text = files[f"shop/mod{n}.py"]
            for offset in (len(text) - 1, text.index("return"), 10):
                asked.append({"path": f"shop/mod{n}.py", "text": text, "offset": offset,
                              "budget": 300 + 100 * n, "open_documents": others})
            asked.append({"path": f"shop/mod{n}.py", "text": text, "budget": 2000,
                          "offset": text.index("def"), "end": len(text)})
        return asked

    def prompt(engine: ContextEngine, request: dict[str, object]) -> tuple[str, int]:
        window = engine.window(**request)  # type: ignore[arg-type]
        return window.prompt, window.tokens

    alone = ContextEngine(root, use_cache=False)
    alone.build_index()
    expected = [prompt(alone, r) for r in requests()]
    shared = ContextEngine(root, use_cache=False)
    shared.build_index()
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            assert list(pool.map(lambda r: prompt(shared, r), requests())) == expected


def test_a_slow_window_never_holds_up_another_documents(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    project = PROJECTS["python"]
    engine = ContextEngine(make(tmp_path, project.files), use_cache=False)
    engine.build_index()
    entered, release = threading.Event(), threading.Event()
    parse = engine.live.parse

    def slow_parse(path: str, language: str, source: bytes) -> object:
        if path == "big.py":  # stands for a 20 MB document's window, still being computed
            entered.set()
            release.wait(10)
        return parse(path, language, source)

    monkeypatch.setattr(engine.live, "parse", slow_parse)
    slow = threading.Thread(target=lambda: engine.window(path="big.py", text="x = 1\n",
                                                         offset=0, budget=100))
    slow.start()
    try:
        assert entered.wait(10)
        done: list[ContextWindow] = []
        quick = threading.Thread(target=lambda: done.append(window_at(engine, project, 2000)))
        quick.start()
        quick.join(5)
        assert done, "the small document's window waited for the slow one"
    finally:
        release.set()
        slow.join(10)


# --------------------------------------------------------------------------- open documents


def big_document(lines: int) -> str:
    return "".join(f"def step_{n}(cart):\n    return compute_total(cart.items, {n})\n\n"
                   for n in range(lines // 3))


def test_an_unchanged_open_document_is_not_read_again(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    project = PROJECTS["python"]
    engine = ContextEngine(make(tmp_path, project.files), use_cache=False)
    engine.build_index()
    counted: list[tuple[str, int]] = []

    def counting(path: str, text: str, *, first_line: int = 1) -> CountedFile:
        counted.append((path, len(text)))
        return counted_file(path, text, first_line=first_line)

    monkeypatch.setattr(documents_module, "counted_file", counting)
    other = big_document(3000)
    edited = other + "x = 1\n"
    text = project.files[project.current].replace(CURSOR, "")
    for version, content in ((1, other), (1, other), (1, other), (2, edited), (2, edited)):
        engine.window(path=project.current, text=text, offset=len(text) - 1, budget=2000,
                      open_documents={"shop/other.py": OpenDocument(content, version)})

    # Once per version; the neighbour read from disk once too.
    neighbour = ("shop/pricing.py", len(project.files["shop/pricing.py"]))
    assert counted == [("shop/other.py", len(other)), neighbour, ("shop/other.py", len(edited))]


def test_a_closed_document_is_forgotten(tmp_path: Path) -> None:
    project = PROJECTS["python"]
    engine = ContextEngine(make(tmp_path, project.files), use_cache=False)
    text = project.files[project.current].replace(CURSOR, "")

    def window(open_documents: dict[str, OpenDocument] | None) -> None:
        engine.window(path=project.current, text=text, offset=10, budget=500,
                      open_documents=open_documents)

    window({"a.py": OpenDocument("a = 1\n", 1), "b.py": OpenDocument("b = 2\n", 1)})
    first = engine.documents.open_text("a.py", OpenDocument("a = 1\n", 1))
    window(None)  # prepare() and the CLI say nothing of open documents: nothing changes
    assert engine.documents.open_text("a.py", OpenDocument("a = 1\n", 1)) is first
    window({"b.py": OpenDocument("b = 2\n", 1)})  # a.py was closed
    assert engine.documents.open_text("a.py", OpenDocument("a = 1\n", 1)) is not first


def test_a_large_open_document_is_read_around_its_recent_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = PROJECTS["python"]
    monkeypatch.setattr(engine_module, "LARGE_DOCUMENT_CHARS", 50_000)
    engine = ContextEngine(make(tmp_path, project.files), use_cache=False)
    engine.build_index()
    other = big_document(30_000)  # ~1.5 MB
    assert len(other) > 50_000
    text = project.files[project.current].replace(CURSOR, "")

    def open_sections(version: int) -> list[tuple[int, int]]:
        window = engine.window(path=project.current, text=text, offset=len(text) - 1,
                               budget=4000,
                               open_documents={"shop/other.py": OpenDocument(other, version)})
        return [(s.start_line, s.end_line) for s in window.sections if s.kind == "open"]

    head = open_sections(1)
    engine.note_edit("shop/other.py", 20_000)
    around = open_sections(1)

    assert head
    assert all(end < 2_000 for _, end in head)  # its head only
    assert around
    assert all(start > 19_000 and end < 21_000 for start, end in around)


@pytest.mark.parametrize(("root", "path"), [
    ("workspace", ".env"),
    ("workspace", "certs/server.pem"),
    ("workspace", "internal/payroll.py"),  # [privacy] exclude
    ("none", "id_rsa"),  # no workspace: the rules by name still hold
])
def test_the_engine_refuses_an_excluded_cursor_document(
    tmp_path: Path, root: str, path: str
) -> None:
    engine = ContextEngine(tmp_path if root == "workspace" else None,
                           exclude=("internal/**",), use_cache=False)
    allowed = engine.window(path="app.py", text="x = 1\n", offset=5, budget=500)
    assert "x = 1" in allowed.prompt

    with pytest.raises(ExcludedDocument) as refused:
        engine.window(path=path, text="SECRET = 'do-not-send'\n", offset=6, budget=500)
    assert refused.value.path == path
    assert refused.value.reason
