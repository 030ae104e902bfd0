"""LSP positions ↔ string offsets under each position encoding, text changes, and the pieces
a document is kept in (what a job and other documents read of a huge one)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types

from deskmate.context.engine import LARGE_DOCUMENT_CHARS, _slice_around
from deskmate.server.lsp.documents import Document, Documents, Part

UTF8 = types.PositionEncodingKind.Utf8
UTF16 = types.PositionEncodingKind.Utf16
UTF32 = types.PositionEncodingKind.Utf32
ENCODINGS = [UTF8, UTF16, UTF32]

# Line 0 "s = 'é中😀'" : é is 2 UTF-8 bytes / 1 UTF-16 unit, 中 3 / 1, 😀 4 / 2.
TEXT = "s = 'é中😀'\nx = 1\n"


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def doc(text: str) -> Document:
    return Document("file:///t.py", text, 1)


# (offset in code points, character in utf-8, utf-16, utf-32) along the first line of TEXT.
COLUMNS = [
    (0, 0, 0, 0),
    (5, 5, 5, 5),  # before é
    (6, 7, 6, 6),  # after é
    (7, 10, 7, 7),  # after 中
    (8, 14, 9, 8),  # after 😀
    (9, 15, 10, 9),  # after the closing quote: end of line
]


@pytest.mark.parametrize(("offset", "utf8", "utf16", "utf32"), COLUMNS)
def test_positions_count_code_units_of_the_encoding(
    offset: int, utf8: int, utf16: int, utf32: int
) -> None:
    d = doc(TEXT)
    for encoding, character in zip(ENCODINGS, (utf8, utf16, utf32), strict=True):
        assert d.position_at(offset, encoding) == pos(0, character)
        assert d.offset_at(pos(0, character), encoding) == offset


def test_encodings_given_as_plain_strings_work() -> None:
    d = doc(TEXT)
    assert d.position_at(8, "utf-16") == pos(0, 9)
    assert d.offset_at(pos(0, 14), "utf-8") == 8


@pytest.mark.parametrize(("encoding", "inside"), [(UTF16, 8), (UTF8, 12), (UTF8, 13)])
def test_a_column_inside_a_character_lands_after_it(encoding: str, inside: int) -> None:
    # UTF-16 column 8 is between the two surrogates of 😀; UTF-8 12 and 13 are inside its bytes.
    assert doc(TEXT).offset_at(pos(0, inside), encoding) == 8


@pytest.mark.parametrize(
    ("text", "line_starts"),
    [
        ("a\nb\nc", [0, 2, 4]),
        ("a\r\nb\r\nc", [0, 3, 6]),
        ("a\rb\rc", [0, 2, 4]),
        ("a\r\rb\n\r\nc", [0, 2, 3, 5, 7]),
        ("a\u2028b\x0cc\x85d\x1ce\n", [0, 10]),  # none of these end an LSP line
        ("", [0]),
        ("\n", [0, 1]),
    ],
)
def test_lines_end_only_at_lf_crlf_and_cr(text: str, line_starts: list[int]) -> None:
    assert doc(text).line_starts == line_starts


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_crlf_and_lone_cr_lines(encoding: str) -> None:
    d = doc("é1\r\nb2\rc3\u2028x\ny")
    assert d.position_at(0, encoding) == pos(0, 0)
    assert d.position_at(4, encoding) == pos(1, 0)
    assert d.position_at(7, encoding) == pos(2, 0)
    # U+2028 is inside line 2 (3 bytes in UTF-8, one unit otherwise).
    assert d.position_at(10, encoding) == pos(2, 5 if encoding == UTF8 else 3)
    assert d.offset_at(pos(2, 0), encoding) == 7
    assert d.offset_at(pos(3, 1), encoding) == 13
    assert d.line_text(0) == "é1"
    assert d.line_text(2) == "c3\u2028x"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_between_cr_and_lf_is_the_end_of_the_line(encoding: str) -> None:
    d = doc("ab\r\ncd")
    assert d.position_at(3, encoding) == pos(0, 2)
    assert d.position_at(2, encoding) == pos(0, 2)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    ("position", "offset"),
    [
        (pos(0, 100), 9),  # past the end of line 0: its end, before the line break
        (pos(1, 6), 15),  # exactly one past the end of "x = 1"
        (pos(2, 0), 16),  # the empty last line
        (pos(2, 5), 16),
        (pos(3, 0), 16),  # past the last line: the end of the document
        (pos(99, 7), 16),
    ],
)
def test_positions_past_the_end_clamp(encoding: str, position: types.Position,
                                      offset: int) -> None:
    assert doc(TEXT).offset_at(position, encoding) == offset


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_offsets_out_of_range_clamp(encoding: str) -> None:
    d = doc(TEXT)
    assert d.position_at(-5, encoding) == pos(0, 0)
    assert d.position_at(10_000, encoding) == pos(2, 0)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_position_past_a_crlf_line_end_stays_on_the_line(encoding: str) -> None:
    assert doc("ab\r\ncd").offset_at(pos(0, 7), encoding) == 2


# --------------------------------------------------------------------------- changes


def change(start: tuple[int, int], end: tuple[int, int], text: str
           ) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(start=pos(*start), end=pos(*end)), text=text)


def did_change(uri: str, version: int, *changes: types.TextDocumentContentChangeEvent
               ) -> types.DidChangeTextDocumentParams:
    return types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=list(changes))


# Edits to TEXT around its non-ASCII characters, in each encoding's columns, applied in order.
EDITS: dict[str, list[types.TextDocumentContentChangePartial]] = {
    UTF16: [change((0, 9), (0, 9), "!"), change((0, 5), (0, 6), "e"), change((1, 0), (1, 1), "y"),
            change((0, 11), (1, 0), "")],
    UTF8: [change((0, 14), (0, 14), "!"), change((0, 5), (0, 7), "e"),
           change((1, 0), (1, 1), "y"), change((0, 15), (1, 0), "")],
    UTF32: [change((0, 8), (0, 8), "!"), change((0, 5), (0, 6), "e"), change((1, 0), (1, 1), "y"),
            change((0, 10), (1, 0), "")],
}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_incremental_changes_apply_in_sequence(encoding: str) -> None:
    documents = Documents()
    documents.open(types.TextDocumentItem(uri="file:///t.py", language_id="python", version=1,
                                          text=TEXT))

    changed = documents.change(did_change("file:///t.py", 5, *EDITS[encoding]), encoding)

    assert changed is not None
    assert changed.text == "s = 'e中😀!'y = 1\n"
    assert changed.version == 5
    assert changed.position_at(len(changed.text), encoding) == pos(1, 0)  # lines recomputed


def test_a_full_text_change_replaces_everything() -> None:
    d = doc(TEXT)
    d.apply(change((0, 0), (0, 1), "t"), UTF16)
    d.apply(types.TextDocumentContentChangeWholeDocument(text="new\r\ntext"), UTF16)
    d.apply(change((1, 0), (1, 0), "the "), UTF16)
    assert d.text == "new\r\nthe text"
    assert d.line_starts == [0, 5]


def test_a_change_that_joins_cr_and_lf_makes_one_line_break() -> None:
    d = doc("a\rb\nc")
    d.apply(change((1, 0), (1, 1), ""), UTF16)  # delete "b": "a\r\nc"
    assert d.line_starts == [0, 3]
    assert d.position_at(4, UTF16) == pos(1, 1)


def test_a_reversed_range_inserts_at_its_start() -> None:
    d = doc("abcdef")
    d.apply(change((0, 4), (0, 2), "X"), UTF16)
    assert d.text == "abcdXef"


def test_changes_to_unknown_documents_are_ignored() -> None:
    documents = Documents()
    assert documents.change(did_change("file:///nope", 2, change((0, 0), (0, 0), "x")),
                            UTF16) is None
    documents.open(types.TextDocumentItem(uri="file:///a", language_id="go", version=1, text=""))
    documents.close("file:///a")
    assert documents.get("file:///a") is None
    assert list(documents) == []


# --------------------------------------------------------------------------- properties

SAMPLE_CHARS = st.sampled_from(
    ["a", " ", "\t", "\n", "\r", "\r\n", "é", "中", "😀", "𝔘", "\u2028", "\x0c", "\x85", "}"])
# Every code point except surrogates (which cannot be encoded to UTF-8 at all).
ANY_CHAR = st.characters(codec="utf-8")
TEXTS = st.lists(st.one_of(SAMPLE_CHARS, ANY_CHAR), max_size=60).map("".join)


def encoded_length(text: str, encoding: str) -> int:
    """Code units of `text`, computed independently of the module under test."""
    if encoding == UTF8:
        return len(text.encode("utf-8"))
    if encoding == UTF16:
        return len(text.encode("utf-16-le")) // 2
    return len(text.encode("utf-32-le")) // 4


def lsp_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line's content, splitting the way the LSP spec says."""
    lines, start, i = [], 0, 0
    while i < len(text):
        if text[i] in "\r\n":
            lines.append((start, i))
            i += 2 if text[i:i + 2] == "\r\n" else 1
            start = i
        else:
            i += 1
    lines.append((start, len(text)))
    return lines


def between_cr_and_lf(text: str, offset: int) -> bool:
    return 0 < offset < len(text) and text[offset - 1:offset + 1] == "\r\n"


@given(text=TEXTS, encoding=st.sampled_from(ENCODINGS))
def test_offset_position_round_trip(text: str, encoding: str) -> None:
    d = doc(text)
    for offset in range(len(text) + 1):
        if not between_cr_and_lf(text, offset):
            assert d.offset_at(d.position_at(offset, encoding), encoding) == offset


@given(text=TEXTS, encoding=st.sampled_from(ENCODINGS))
def test_positions_match_the_encoded_line_prefix(text: str, encoding: str) -> None:
    d = doc(text)
    lines = lsp_lines(text)
    assert len(d.line_starts) == len(lines)
    for number, (start, end) in enumerate(lines):
        assert d.line_text(number) == text[start:end]
        for offset in range(start, end + 1):
            expected = pos(number, encoded_length(text[start:offset], encoding))
            assert d.position_at(offset, encoding) == expected
            assert d.offset_at(expected, encoding) == offset
        # One past the end of the line, in any encoding, is still the end of the line.
        beyond = pos(number, encoded_length(text[start:end], encoding) + 1)
        assert d.offset_at(beyond, encoding) == end


RANDOM_EDITS = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40),
                                  st.text("ab\r\n", max_size=4), st.integers(0, 12)),
                        max_size=12)


@given(text=st.text("ab\r\n", max_size=40), edits=RANDOM_EDITS)
def test_the_line_table_after_edits_is_the_same_as_a_fresh_one(
    text: str, edits: list[tuple[int, int, str, int]]
) -> None:
    """The line table is kept valid down to each edit and extended lazily; whatever was looked
    up before an edit, it ends up equal to one computed from scratch."""
    d = doc(text)
    for start, end, inserted, looked_up in edits:
        d.line_start(looked_up)  # a partial table, as a completion request leaves it
        begin, stop = sorted((min(start, len(d.text)), min(end, len(d.text))))
        d.apply(types.TextDocumentContentChangePartial(
            range=types.Range(start=d.position_at(begin, UTF32), end=d.position_at(stop, UTF32)),
            text=inserted), UTF32)
        assert d.text == (fresh := doc(d.text)).text
        assert d.line_start(looked_up) == (fresh.line_starts[looked_up]
                                           if looked_up < len(fresh.line_starts) else None)
        assert d.line_starts == fresh.line_starts


# --------------------------------------------------------------------------- pieces
# A document is kept in pieces (so a keystroke in a huge one copies one piece, not all of it):
# with pieces of a few characters, every boundary case of the piece logic is met by texts
# short enough for hypothesis, and each result must equal the same text kept whole.


@given(text=st.text("ab\r\n", max_size=40), edits=RANDOM_EDITS, piece=st.integers(1, 6))
def test_a_document_in_pieces_reads_like_one_string(
    text: str, edits: list[tuple[int, int, str, int]], piece: int
) -> None:
    d = Document("file:///t.py", text, 1, piece=piece)
    for start, end, inserted, looked_up in edits:
        d.line_start(looked_up)
        begin, stop = sorted((min(start, d.length), min(end, d.length)))
        d.apply(types.TextDocumentContentChangePartial(
            range=types.Range(start=d.position_at(begin, UTF32), end=d.position_at(stop, UTF32)),
            text=inserted), UTF32)
        whole = doc(d.text)
        assert "".join(d._pieces) == d.text
        assert d.length == len(d.text)
        assert all(0 < len(p) <= 2 * piece + 1 for p in d._pieces) or d._pieces == [""]
        assert not any(a.endswith("\r") and b.startswith("\n")
                       for a, b in zip(d._pieces, d._pieces[1:], strict=False))
        assert d.line_starts == whole.line_starts
        assert d.line_start(looked_up) == whole.line_start(looked_up)
        for offset in range(d.length + 1):
            assert d.position_at(offset, UTF16) == whole.position_at(offset, UTF16)
            assert d.newlines_before(offset) == d.text.count("\n", 0, offset)
            assert d.read(offset, offset + 3) == d.text[offset:offset + 3]
        for line in range(len(whole.line_starts) + 1):
            assert d.line_text(line) == whole.line_text(line)


@given(text=TEXTS, encoding=st.sampled_from(ENCODINGS), piece=st.integers(1, 5))
def test_positions_in_pieces_match_the_encoded_line_prefix(text: str, encoding: str,
                                                           piece: int) -> None:
    d = Document("file:///t.py", text, 1, piece=piece)
    for number, (start, end) in enumerate(lsp_lines(text)):
        for offset in range(start, end + 1):
            expected = pos(number, encoded_length(text[start:offset], encoding))
            assert d.position_at(offset, encoding) == expected
            assert d.offset_at(expected, encoding) == offset


def test_a_full_change_in_pieces_replaces_everything() -> None:
    d = Document("file:///t.py", "one\ntwo\nthree\n", 1, piece=2)
    d.apply(types.TextDocumentContentChangeWholeDocument(text="x\r\ny"), UTF16)
    assert d.text == "x\r\ny"
    assert d.line_starts == [0, 3]
    d.apply(types.TextDocumentContentChangeWholeDocument(text=""), UTF16)
    assert d.text == ""
    assert d.line_starts == [0]
    assert d.line_start(1) is None


# --------------------------------------------------------------------------- huge documents

def huge_text(lines: int) -> str:
    """Python-looking text of `lines` numbered lines (over LARGE_DOCUMENT_CHARS for 40,000)."""
    return "".join(f"def function_{n}(value):\n    return value * {n}  # line {n + 1}\n"
                   for n in range(lines // 2))


def test_a_huge_documents_part_is_what_the_engine_reads_of_the_whole_text() -> None:
    text = huge_text(80_000)
    assert len(text) > LARGE_DOCUMENT_CHARS
    d = Document("file:///big.py", text, 1)
    for offset, end in [(0, 0), (len(text) // 2, len(text) // 2), (len(text), len(text)),
                        (1_000_000, 1_500_000), (123_457, 123_457)]:
        part = d.part(offset, end)
        low, high = _slice_around(text, offset, end)
        assert (part.base, part.text) == (low, text[low:high])
        assert part.first_line == 1 + text.count("\n", 0, low)
        assert len(part.text) < LARGE_DOCUMENT_CHARS


def test_a_small_documents_part_is_all_of_it() -> None:
    d = doc(TEXT)
    assert d.part(3) == Part(TEXT, 0, 1)
    assert d.context_text() == TEXT


def test_other_documents_read_a_huge_document_around_its_edits_at_its_line_numbers() -> None:
    text = huge_text(80_000)
    d = Document("file:///big.py", text, 1)
    for line in (50_001, 20_001):  # (0-based) a line inserted above each
        d.apply(change((line, 0), (line, 0), "# edited\n"), UTF16)
    shared, real = d.context_text().split("\n"), d.text.split("\n")
    assert len(shared) == len(real)  # every line keeps its number
    for line in (0, 10, 20_001, 19_900, 20_100, 50_002, 50_500):  # the head, around the edits
        assert shared[line] == real[line]
    assert shared[20_001] == "# edited"
    assert shared[50_002] == "# edited"
    assert shared[35_000].strip() == "" != real[35_000]  # far from both: left out
    # Still a large document to the context engine (so read around its edits only), thanks
    # to one empty line of spaces; far shorter than the document.
    assert len(d.context_text()) == LARGE_DOCUMENT_CHARS + 1
    assert sum(1 for line in shared if line and not line.strip()) == 1
    assert d.context_text() is d.context_text()  # once per version


def test_a_keystroke_in_a_huge_document_copies_a_piece_not_the_document() -> None:
    d = Document("file:///big.py", huge_text(80_000), 1)
    pieces = list(d._pieces)
    d.apply(change((40_000, 4), (40_000, 4), "x"), UTF16)
    changed = [i for i, (a, b) in enumerate(zip(pieces, d._pieces, strict=True)) if a is not b]
    assert 1 <= len(changed) <= 3  # the piece edited and its neighbours, split again
    assert d.line_text(40_000) == "def xfunction_20000(value):"
