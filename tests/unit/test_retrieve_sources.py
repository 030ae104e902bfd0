"""Each evidence source on its own, the timings retrieval reports for them, and the texts they
read: open documents' work done once per version, a large one read around its edits only."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deskmate.context import documents as documents_module
from deskmate.context import (
    evidence_definitions,
    evidence_open,
    evidence_outline,
    evidence_recent,
    evidence_similar,
)
from deskmate.context.documents import DocumentStore, Lines, OpenDocument
from deskmate.context.engine import ContextEngine
from deskmate.context.evidence import Candidate, Cursor, RecentEdit, Request
from deskmate.context.extract import extract
from deskmate.context.languages import parser_for
from deskmate.context.lexical import CountedFile, counted_file
from deskmate.context.retrieve import SOURCES

CURSOR = "<|>"

FILES = {
    "shop/__init__.py": "",
    "shop/pricing.py": textwrap.dedent('''\
        def compute_total(items, tax):
            """The sum of item prices plus tax."""
            return sum(items) * (1 + tax)


        class Money:
            def rounded(self, places):
                return round(self.amount, places)
        '''),
    "shop/util.py": textwrap.dedent('''\
        def slugify(text):
            """A URL-safe name."""
            return text.lower().replace(" ", "-")
        '''),
    "shop/stock.py": textwrap.dedent('''\
        def reserve_units(sku, count):
            """Hold `count` units of `sku`."""
            return {"sku": sku, "count": count}
        '''),
    "shop/app_helpers.py": "".join(f"def helper_{n}(cart):\n    return cart.items[{n}]\n\n"
                                   for n in range(3)),
}

APP = textwrap.dedent('''\
    from shop import util
    from shop.pricing import Money, compute_total


    def discount(total):
        """Ten percent off."""
        return total * 0.9


    class Checkout:
        def pay(self, cart):
            total = compute_total(cart.items, 0.2)
            price = Money.rounded(total, 2)
            slug = util.slugify(cart.name)
            held = reserve_units(cart.sku, 1)
            final = discount(total)
            <|>
            return final
    ''')


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> ContextEngine:
    root = tmp_path_factory.mktemp("project")
    for relative, text in {**FILES, "shop/app.py": APP.replace(CURSOR, "")}.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    engine = ContextEngine(root, use_cache=False)
    engine.build_index()
    return engine


def request_at(engine: ContextEngine, text: str = APP, *, path: str = "shop/app.py",
               open_documents: dict[str, OpenDocument | str] | None = None,
               recent: tuple[RecentEdit, ...] = ()) -> Request:
    offset = text.index(CURSOR)
    text = text.replace(CURSOR, "")
    source = text.encode()
    definitions, imports = extract("python", source, path, parser_for("python").parse(source))
    return Request(cursor=Cursor(path=path, language="python", text=text, offset=offset),
                   index=engine.index, texts=engine.documents.view(open_documents or {}),
                   recent_edits=recent, definitions=definitions, imports=imports)


def found(request: Request, *sources: Callable[[Request], None]) -> list[Candidate]:
    for source in sources:
        source(request)
    return request.found.sorted()


def where(candidates: list[Candidate], kind: str = "definition") -> set[tuple[str, int, int]]:
    return {(c.path, c.start_line, c.end_line) for c in candidates if c.kind == kind}


# --------------------------------------------------------------------------- each source


def test_imports_finds_what_a_named_import_leads_to(engine: ContextEngine) -> None:
    request = request_at(engine)
    candidates = found(request, evidence_definitions.imports)

    assert ("shop/pricing.py", 1, 3) in where(candidates)  # compute_total
    assert ("shop/pricing.py", 7, 8) in where(candidates)  # Money.rounded
    total = next(c for c in candidates if c.start_line == 1 and not c.supersedes)
    assert total.reason == "compute_total from shop.pricing: used near the cursor"
    assert "shop/pricing.py" in request.imported_files
    assert "util" in request.modules  # `from shop import util`: a module, for the next source
    assert {c.path for c in candidates} == {"shop/pricing.py"}


def test_module_members_follows_module_dot_member(engine: ContextEngine) -> None:
    request = request_at(engine)
    candidates = found(request, evidence_definitions.imports, evidence_definitions.module_members)

    slugify = [c for c in candidates if c.path == "shop/util.py" and c.kind == "definition"]
    assert slugify
    assert slugify[0].reason == "util.slugify used near the cursor"
    assert ("shop/util.py", 1, 3) in where(candidates, "outline")


def test_defined_here_reads_the_body_from_the_text_being_edited(engine: ContextEngine) -> None:
    """The body comes from the document as it is now, never from the file on disk."""
    text = APP.replace('"""Ten percent off."""', '"""Ten percent off."""\n    # unsaved')
    candidates = found(request_at(engine, text), evidence_definitions.defined_here)

    assert ("shop/app.py", 5, 8) in where(candidates)
    assert {c.path for c in candidates} == {"shop/app.py"}
    body = next(c for c in candidates if c.supersedes and c.start_line == 5)
    assert "# unsaved" in body.text
    assert body.reason == "discount used near the cursor (with its body)"


def test_by_name_finds_a_name_nothing_imports(engine: ContextEngine) -> None:
    candidates = found(request_at(engine), evidence_definitions.by_name)

    # reserve_units, and slugify (used as util.slugify, a name like any other here)
    assert where(candidates) == {("shop/stock.py", 1, 3), ("shop/util.py", 1, 3)}
    assert all("found by name" in c.reason for c in candidates)
    assert "shop/pricing.py" not in {c.path for c in candidates}  # imported names are not


def test_outline_lists_the_enclosing_class_and_the_file(engine: ContextEngine) -> None:
    candidates = found(request_at(engine), evidence_outline.outline)

    outlines = {c.reason: c for c in candidates}
    assert "members of Checkout" in outlines
    assert "def pay(self, cart):" in outlines["members of Checkout"].text
    assert outlines["what else this file defines"].text.splitlines() == [
        "def discount(total):", "class Checkout:"]


def test_recent_edits_away_from_the_cursor_are_read(engine: ContextEngine) -> None:
    recent = (RecentEdit("shop/pricing.py", 2, 0.0), RecentEdit("shop/app.py", 15, 0.0))
    candidates = found(request_at(engine, recent=recent), evidence_recent.recent_edits)

    # The edit next to the cursor is in the prompt already.
    assert where(candidates, "recent") == {("shop/pricing.py", 1, 8)}
    assert candidates[0].text.startswith("def compute_total")


def test_open_documents_offer_their_most_similar_window(engine: ContextEngine) -> None:
    other = "".join(f"unrelated_{n} = {n}\n" for n in range(60)) + (
        "def refund(cart):\n    total = compute_total(cart.items, 0.2)\n"
        "    return discount(total)\n")
    request = request_at(engine, open_documents={"shop/refunds.py": OpenDocument(other, 3),
                                                 "shop/app.py": "never itself"})
    candidates = found(request, evidence_open.open_documents)

    assert candidates
    best = candidates[0]
    assert (best.kind, best.path) == ("open", "shop/refunds.py")
    assert "def refund" in best.text
    assert best.end_line >= 61


def test_similar_reads_neighbouring_files(engine: ContextEngine) -> None:
    request = request_at(engine)
    evidence_definitions.imports(request)  # the files the imports lead to come first
    neighbours = [path for path, _ in evidence_similar.neighbour_files(request)]
    candidates = found(request, evidence_similar.similar)

    assert neighbours[0] == "shop/pricing.py"
    assert "shop/app_helpers.py" in neighbours[:3]  # alike in name
    assert "shop/app.py" not in neighbours
    similar = [c for c in candidates if c.kind == "similar"]
    assert similar
    assert {c.path for c in similar} <= set(neighbours)


def test_every_source_is_timed(engine: ContextEngine) -> None:
    offset = APP.index(CURSOR)
    window = engine.window(path="shop/app.py", text=APP.replace(CURSOR, ""), offset=offset,
                           budget=4000)

    names = [name for name, _ in SOURCES]
    assert list(window.source_ms) == ["setup", "parse", "documents", "words", *names, "pack"]
    assert all(ms >= 0 for ms in window.source_ms.values())


# --------------------------------------------------------------------------- documents


@given(st.lists(st.sampled_from(["", "a", "bc d", "\r", " \t"]), max_size=40),
       st.booleans())
def test_lines_agree_with_splitting(parts: list[str], trailing: bool) -> None:
    text = "\n".join(parts) + ("\n" if trailing else "")
    lines = Lines(text)
    split = text.split("\n")
    expected = split[:-1] if text.endswith("\n") else split
    expected = [] if not text else expected
    assert lines.count == len(expected)
    for number, line in enumerate(expected, start=1):
        assert lines.between(number, number).rstrip("\n") == line
        start = lines.start(number)
        assert lines.line_at(start) == number
    assert lines.between(1, lines.count) == text


def test_lines_find_a_line_deep_in_a_large_text() -> None:
    text = "".join(f"line {n}\n" for n in range(1, 100_001))
    lines = Lines(text)
    assert lines.count == 100_000
    assert lines.between(77_777, 77_778) == "line 77777\nline 77778\n"
    assert lines.line_at(text.index("line 54321\n")) == 54321


class CountingStore:
    """A document store whose lexical counting is watched: which texts were counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, large_chars: int = 1_000_000) -> None:
        self.counted: list[tuple[str, int]] = []

        def counting(path: str, text: str, *, first_line: int = 1) -> CountedFile:
            self.counted.append((path, len(text)))
            return counted_file(path, text, first_line=first_line)

        monkeypatch.setattr(documents_module, "counted_file", counting)
        self.store = DocumentStore(lambda path: None, large_chars=large_chars)


def test_an_open_documents_windows_are_counted_once_per_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watch = CountingStore(monkeypatch)
    text = "def f(x):\n    return x\n" * 50

    for _ in range(3):
        [entry] = watch.store.view({"a.py": OpenDocument(text, 1)}).open.values()
        entry.lexical()
    assert watch.counted == [("a.py", len(text))]

    edited = text + "y = 2\n"
    watch.store.view({"a.py": OpenDocument(edited, 2)}).open["a.py"].lexical()
    assert watch.counted[-1] == ("a.py", len(edited))
    assert len(watch.counted) == 2


def test_a_plain_string_is_cached_by_its_content(monkeypatch: pytest.MonkeyPatch) -> None:
    watch = CountingStore(monkeypatch)
    text = "value = compute(1)\n" * 30

    for copy in (text, "".join(list(text)), text):  # equal texts, different objects
        watch.store.view({"a.py": copy}).open["a.py"].lexical()
    watch.store.view({"a.py": text + "#"}).open["a.py"].lexical()

    assert [length for _, length in watch.counted] == [len(text), len(text) + 1]


def test_a_large_document_is_read_around_its_recent_edits_else_its_head(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watch = CountingStore(monkeypatch, large_chars=100_000)
    text = "".join(f"row_{n} = compute({n})\n" for n in range(100_000))  # ~2.6 MB
    entry = watch.store.open_text("big.py", OpenDocument(text, 7))

    head = entry.lexical(())
    around = entry.lexical([60_000])

    assert len(watch.counted) == 2
    assert all(length <= documents_module.REGION_CHARS for _, length in watch.counted)
    assert head[0].windows[0].window.start_line == 1
    lines = [(w.window.start_line, w.window.end_line) for w in around[0].windows]
    assert lines[0][0] < 60_000 < lines[-1][1]
    first = around[0].windows[0].window
    assert first.text.startswith(f"row_{first.start_line - 1} = ")  # the file's line numbers
    entry.lexical([60_000])
    assert len(watch.counted) == 2  # the same edits: nothing counted again


def test_far_apart_edits_of_a_large_document_are_read_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watch = CountingStore(monkeypatch, large_chars=100_000)
    text = "".join(f"row_{n} = compute({n})\n" for n in range(100_000))
    entry = watch.store.open_text("big.py", OpenDocument(text, 1))

    parts = entry.lexical([90_000, 10, 10, 50_000, 50_010, 1, 2, 3, 4, 5, 6])

    starts = [p.windows[0].window.start_line for p in parts]
    assert len(parts) == 3  # 10 and 1..6 are one region, like 50_000 and 50_010
    assert starts == sorted(starts)
    assert starts[0] == 1
