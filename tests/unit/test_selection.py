"""A selection as the window's middle: sent whole, its surroundings as prefix and suffix, the
definitions it uses retrieved like those near a cursor — or a clear SelectionTooLarge."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskmate.context import engine as engine_module
from deskmate.context.budget import count_tokens
from deskmate.context.engine import ContextEngine, SelectionTooLarge
from deskmate.context.pack import ContextWindow, pack_cursor

PRICING = textwrap.dedent('''\
    """Prices."""


    def compute_total(items, tax):
        """The sum of item prices plus tax."""
        subtotal = sum(item.price for item in items)
        return subtotal * (1 + tax)
    ''')
APP = textwrap.dedent('''\
    from shop.pricing import compute_total


    def checkout(cart):
        """Check a cart out."""
        items = [i for i in cart.items if i.price > 0]
        total = compute_total(items, 0.2)
        receipt = f"total: {total:.2f}"
        return receipt
    ''')
SELECTED = ("    items = [i for i in cart.items if i.price > 0]\n"
            "    total = compute_total(items, 0.2)\n")


def engine_on(tmp_path: Path, files: dict[str, str]) -> ContextEngine:
    root = tmp_path / "project"
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    engine = ContextEngine(root, use_cache=False)
    engine.build_index()
    return engine


def select(engine: ContextEngine, text: str, selected: str, budget: int = 2000,
           path: str = "shop/app.py") -> tuple[ContextWindow, int, int]:
    start = text.index(selected)
    end = start + len(selected)
    return engine.window(path=path, text=text, offset=start, end=end, budget=budget), start, end


@pytest.fixture
def shop(tmp_path: Path) -> ContextEngine:
    return engine_on(tmp_path, {"shop/__init__.py": "", "shop/pricing.py": PRICING,
                                "shop/app.py": APP})


def test_a_selection_calling_a_function_defined_elsewhere_retrieves_its_definition(
    shop: ContextEngine,
) -> None:
    window, _, _ = select(shop, APP, SELECTED)

    found = [s for s in window.sections if s.included and s.kind == "definition"
             and s.path == "shop/pricing.py"]
    assert [(s.start_line, s.end_line) for s in found] == [(4, 7)]
    assert "def compute_total(items, tax):" in window.prompt
    assert window.prompt.endswith(APP)  # the file after the snippets, the selection whole


def test_a_name_used_only_inside_the_selection_counts_as_near(tmp_path: Path) -> None:
    """Far from the selection's start, used in its last line: found by name all the same."""
    helper = "def normalise_sku(raw):\n    return raw.strip().upper()\n"
    body = "".join(f"    step_{n} = {n}\n" for n in range(60))
    app = f"def run(raw):\n{body}    sku = normalise_sku(raw)\n    return sku\n"
    engine = engine_on(tmp_path, {"util/skus.py": helper, "shop/app.py": app})
    selected = body + "    sku = normalise_sku(raw)\n"

    window, _, _ = select(engine, app, selected, budget=4000)

    assert any(s.included and s.kind == "definition" and s.path == "util/skus.py"
               for s in window.sections), window.sections


def test_prefix_middle_and_suffix_reassemble_the_text_around_the_selection(
    shop: ContextEngine,
) -> None:
    window, start, end = select(shop, APP, SELECTED)
    cursor = window.cursor

    assert cursor.middle == SELECTED
    assert APP[:start].endswith(cursor.prefix)
    assert APP[end:].startswith(cursor.suffix)
    assert cursor.prefix + cursor.middle + cursor.suffix == APP  # the budget fits it all
    assert count_tokens(window.prompt) <= window.tokens <= window.budget


def test_the_sections_carry_the_selections_line_numbers(shop: ContextEngine) -> None:
    window, _, _ = select(shop, APP, SELECTED)

    prefix, middle, suffix = window.cursor.sections
    assert (prefix.kind, middle.kind, suffix.kind) == ("prefix", "middle", "suffix")
    assert (prefix.start_line, prefix.end_line) == (1, 6)
    assert (middle.start_line, middle.end_line) == (6, 7)  # its last character ends line 7
    assert (suffix.start_line, suffix.end_line) == (8, 9)
    assert middle.tokens == count_tokens(SELECTED)
    assert sum(s.tokens for s in window.sections if s.included) == window.tokens


def test_a_selection_inside_a_line_keeps_the_lines_parts_on_each_side(
    shop: ContextEngine,
) -> None:
    window, _, _ = select(shop, APP, "compute_total(items, 0.2)")

    assert window.cursor.prefix.endswith("    total = ")
    assert window.cursor.suffix.startswith("\n    receipt = ")
    middle = window.cursor.sections[1]
    assert (middle.start_line, middle.end_line) == (7, 7)
    assert window.cursor.sections[2].start_line == 7


def test_a_small_budget_keeps_the_selection_and_cuts_around_it(shop: ContextEngine) -> None:
    budget = count_tokens(SELECTED) + 5

    window, _, _ = select(shop, APP, SELECTED, budget=budget)

    assert window.cursor.middle == SELECTED
    assert window.tokens <= budget
    assert not window.snippets


def test_a_selection_over_the_budget_says_so(shop: ContextEngine) -> None:
    budget = count_tokens(SELECTED) - 1

    with pytest.raises(SelectionTooLarge) as raised:
        select(shop, APP, SELECTED, budget=budget)

    assert isinstance(raised.value, ValueError)
    assert (raised.value.tokens, raised.value.budget) == (count_tokens(SELECTED), budget)
    assert "select less" in str(raised.value)


def test_a_selection_far_too_long_to_count_is_refused_at_once(shop: ContextEngine) -> None:
    text = APP + "x = 1\n" * 200_000

    with pytest.raises(SelectionTooLarge) as raised:
        shop.window(path="shop/app.py", text=text, offset=0, end=len(text), budget=1000)

    assert raised.value.at_least
    assert raised.value.tokens > 1000
    assert "at least" in str(raised.value)


def test_an_empty_selection_is_a_cursor_and_a_reversed_one_an_error(shop: ContextEngine
                                                                      ) -> None:
    offset = APP.index("total =")
    plain = shop.window(path="shop/app.py", text=APP, offset=offset, budget=2000)
    empty = shop.window(path="shop/app.py", text=APP, offset=offset, end=offset, budget=2000)

    assert empty.cursor == plain.cursor
    assert empty.cursor.middle == ""
    assert [s.kind for s in empty.cursor.sections] == ["prefix", "suffix"]
    with pytest.raises(ValueError, match="before it starts"):
        shop.window(path="shop/app.py", text=APP, offset=offset, end=offset - 1, budget=2000)


def test_a_secret_in_the_selection_is_redacted(shop: ContextEngine) -> None:
    secret = "sk-live-Zq8XbT3vK9mW2pL7rN4c"
    text = APP.replace("    return receipt\n",
                       f'    api_key = "{secret}"\n    return receipt\n')
    selected = f'    api_key = "{secret}"\n'

    window, _, _ = select(shop, text, selected)

    assert secret not in window.prompt
    assert window.redactions == 1
    assert window.cursor.middle.startswith("    api_key = ")
    assert window.tokens <= window.budget


def test_a_selection_in_a_large_document_has_the_files_line_numbers(
    shop: ContextEngine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine_module, "LARGE_DOCUMENT_CHARS", 10_000)
    monkeypatch.setattr(engine_module, "SLICE_BEFORE", 2_000)
    monkeypatch.setattr(engine_module, "SLICE_GRID", 1_000)
    filler = "".join(f"value_{n} = {n}\n" for n in range(3000))
    text = filler + APP

    window, _, _ = select(shop, text, SELECTED, budget=20_000)  # would fit the whole file

    prefix, middle, suffix = window.cursor.sections
    assert prefix.start_line > 2800  # the slice: about 2 KB above the selection
    assert (middle.start_line, middle.end_line) == (3006, 3007)
    assert suffix.end_line == 3009
    assert text.splitlines()[middle.start_line - 1] == SELECTED.splitlines()[0]
    assert any(s.included and s.path == "shop/pricing.py" for s in window.sections)


# --------------------------------------------------------------------------- properties

LINES = st.lists(st.sampled_from(["", "x = 1", "    return f(a, b)", "é中😀", "<|endoftext|>",
                                  "def g():", "\r", "y" * 120]), max_size=20)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), text=LINES.map("\n".join), budget=st.integers(0, 150))
def test_packing_a_selection_keeps_it_whole_within_budget(data: st.DataObject, text: str,
                                                          budget: int) -> None:
    offset = data.draw(st.integers(0, len(text)), label="offset")
    end = data.draw(st.integers(offset, len(text)), label="end")
    middle = text[offset:end]
    tokens = sum(count_tokens(line) for line in middle.splitlines(keepends=True))
    if tokens > budget:
        with pytest.raises(SelectionTooLarge):
            pack_cursor(text, offset, end=end, budget=budget, path="a.py")
        return

    packed = pack_cursor(text, offset, end=end, budget=budget, path="a.py")

    assert packed.middle == middle
    assert text[:offset].endswith(packed.prefix)
    assert text[end:].startswith(packed.suffix)
    assert count_tokens(packed.prefix) + count_tokens(middle) + count_tokens(packed.suffix) \
        <= packed.tokens <= budget
    assert sum(s.tokens for s in packed.sections) == packed.tokens
    first = text.count("\n", 0, offset) + 1
    if middle:
        section = packed.sections[1]
        assert (section.start_line, section.end_line) == (
            first, first + middle.count("\n", 0, len(middle) - 1))
    assert packed.sections[-1].start_line == text.count("\n", 0, end) + 1
