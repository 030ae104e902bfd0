"""Protocol and input faults (issue 5, item 4), through the editor's side of the protocol:
requests for documents the server does not have, positions outside the text, CRLF and non-BMP
characters on the cursor line in both position encodings, huge documents, unknown methods.
Each gets a well-formed answer (an empty one where nothing can be done), never an error the
editor would show, and the server goes on serving."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcMethodNotFound

from deskmate.context.budget import count_tokens
from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import (
    client_encoding,
    fast_profile,
    inline_params,
    open_doc,
)
from tests.reliability.conftest import context_report, items_of, serving, warnings_shown

SOURCE = "def add(a, b):\n    return \n"


def fim(prefix: str, suffix: str) -> str:
    """The StarCoder FIM prompt of a file with no other context."""
    return f"<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>"


async def test_request_before_did_open_gets_an_empty_answer(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    model_server.reply = Reply(text="a + b")
    path = workspace / "m.py"
    path.write_text(SOURCE)  # on disk, but the editor has not opened it yet
    uri = path.as_uri()
    async with serving(hermetic_env, root=workspace,
                       init_options=fast_profile(model_server)) as client:
        before = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
        context_before = await context_report(client, uri, 1, 11)
        open_doc(client, path, SOURCE)
        after = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
        shown = warnings_shown(client)

    assert items_of(before) == []
    assert context_before is None
    assert items_of(after) == ["a + b"]  # nothing was lost: the same request works once open
    assert len(model_server.posts()) == 1  # the early request never reached the model
    assert shown == []


@pytest.mark.parametrize("uri", [
    "untitled:Untitled-1",
    "file:///nowhere/at/all.py",
    "deskmate-test://authority/some/path.py",
])
async def test_request_for_an_unknown_uri_gets_an_empty_answer(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, uri: str
) -> None:
    model_server.reply = Reply(text="a + b")
    async with serving(hermetic_env, root=workspace,
                       init_options=fast_profile(model_server)) as client:
        # Notifications about a document that was never opened are ignored...
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="x = 1\n")]))
        client.text_document_did_save(types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))
        client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))
        # ...requests about it get an empty answer...
        result = await client.text_document_inline_completion_async(inline_params(uri, 0, 3))
        report = await context_report(client, uri, 0, 3)
        # ...and the server goes on serving.
        known = open_doc(client, workspace / "m.py", SOURCE)
        healthy = await client.text_document_inline_completion_async(inline_params(known, 1, 11))
        shown = warnings_shown(client)

    assert items_of(result) == []
    assert report is None
    assert items_of(healthy) == ["a + b"]
    assert len(model_server.posts()) == 1
    assert shown == []


@pytest.mark.parametrize(("position", "clamped", "prefix", "suffix"), [
    pytest.param((1, 400), (1, 11), "def add(a, b):\n    return ", "\n", id="past-line-end"),
    pytest.param((1_000, 7), (2, 0), SOURCE, "", id="past-file-end"),
])
async def test_position_outside_the_text_is_clamped(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path,
    position: tuple[int, int], clamped: tuple[int, int], prefix: str, suffix: str,
) -> None:
    model_server.reply = Reply(text="a + b")
    async with serving(hermetic_env, root=workspace,
                       init_options=fast_profile(model_server)) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        result = await client.text_document_inline_completion_async(
            inline_params(uri, *position))
        shown = warnings_shown(client)

    assert isinstance(result, types.InlineCompletionList)
    [item] = result.items
    at = types.Position(line=clamped[0], character=clamped[1])
    assert item.range == types.Range(start=at, end=at)  # VS Code: the range says where
    [post] = model_server.posts()
    assert post.body["prompt"] == fim(prefix, suffix)
    assert shown == []


# A CRLF document whose cursor line holds a non-BMP character (2 UTF-16 code units, 4 UTF-8
# bytes) and a BMP one ('é': 1 unit, 2 bytes).
CRLF_TEXT = 'x = 1\r\ngreeting = "😀 héllo"; name = \r\nprint(name)\r\n'
LINE = 'greeting = "😀 héllo"; name = '
HEAD = 'greeting = "'  # the cursor line up to the emoji


@pytest.mark.parametrize("editor", ["vscode", "neovim"])  # UTF-16 and UTF-8 positions
async def test_crlf_and_emoji_on_the_cursor_line_split_the_prompt_at_the_cursor(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    model_server.reply = Reply(text="1")
    async with serving(hermetic_env, editor=editor, root=workspace,
                       init_options=fast_profile(model_server)) as client:
        encoding = client_encoding(client)
        unit = 4 if encoding == "utf-8" else 2  # the emoji's size in code units
        after_emoji = len(HEAD) + unit
        cases = {
            # column → the code point index it means in LINE
            after_emoji: len(HEAD) + 1,
            len(HEAD) + 1: len(HEAD) + 1,  # inside the emoji: lands after it, never splits it
            units(LINE, encoding): len(LINE),  # the end of the line, before \r\n
            units(LINE, encoding) + 5: len(LINE),  # past the end: the end, not inside \r\n
        }
        results = {}
        for number, column in enumerate(cases):
            # One document per cursor (opened alone: an open neighbour would be context), so
            # no answer comes from the cache of the one before.
            model_server.clear()
            uri = open_doc(client, workspace / f"m{number}.py", CRLF_TEXT)
            result = await client.text_document_inline_completion_async(
                inline_params(uri, 1, column))
            client.text_document_did_close(types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=uri)))
            [post] = model_server.posts()
            results[column] = (result, post.body["prompt"])

    assert encoding == ("utf-16" if editor == "vscode" else "utf-8")
    for column, index in cases.items():
        result, prompt = results[column]
        prefix = "x = 1\r\n" + LINE[:index]
        suffix = LINE[index:] + "\r\nprint(name)\r\n"
        assert prompt == fim(prefix, suffix), column
        assert isinstance(result, types.InlineCompletionList)
        assert items_of(result) == ["1"], column
        [item] = result.items
        if editor == "vscode":
            at = types.Position(line=1, character=units(LINE[:index], encoding))
            assert item.range == types.Range(start=at, end=at), column


def units(text: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    return len(text.encode("utf-16-le")) // 2


def big_document(megabytes: int) -> str:
    """Python source of about `megabytes` MB: many small functions."""
    chunk = "".join(f"def function_{i}(value):\n    return value * {i} + {i % 7}\n\n\n"
                    for i in range(200))
    return chunk * (megabytes * 1_000_000 // len(chunk) + 1)


HUGE_ANSWER_S = 5.0  # "answers within a few seconds"
PROMPT_BUDGET = 16384 - 1024  # the default window minus the reserved output


# Each case: the document (built when the test runs), and the cursor's line (negative:
# from the end) and column.
HUGE: dict[str, Callable[[], tuple[str, int, int]]] = {
    "20-MB-document": lambda: (big_document(20) + "result = \n", -2, 9),
    "5-MB-single-line": lambda: ("data = [" + "0.5, " * 1_000_000 + "]\nvalue = \n", 1, 8),
    "5-MB-line-without-spaces": lambda: ("blob = '" + "QUJD" * 1_250_000 + "'\n", 0,
                                         2_500_000),
}
@pytest.mark.parametrize("case", list(HUGE))
async def test_huge_document_answers_quickly_within_the_budget(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, case: str
) -> None:
    model_server.reply = Reply(text="42")
    text, line, column = HUGE[case]()
    lines = text.split("\n")
    line = line % len(lines)
    async with serving(hermetic_env, root=workspace, init_options=fast_profile(model_server),
                       shutdown_s=1) as client:
        started = time.monotonic()
        uri = open_doc(client, workspace / "big.py", text)
        result = await asyncio.wait_for(
            client.text_document_inline_completion_async(inline_params(uri, line, column)),
            HUGE_ANSWER_S + 1)
        elapsed = time.monotonic() - started
        report = await context_report(client, uri, line, column)
        # The server is still responsive: a small document next to the huge one answers.
        small = open_doc(client, workspace / "small.py", SOURCE)
        healthy = await asyncio.wait_for(
            client.text_document_inline_completion_async(inline_params(small, 1, 11)), 5)
        shown = warnings_shown(client)

    assert isinstance(result, types.InlineCompletionList)
    assert elapsed < HUGE_ANSWER_S, elapsed
    assert isinstance(healthy, types.InlineCompletionList)
    prompt = model_server.posts()[0].body["prompt"]
    # The prompt's prefix ends exactly at the cursor, and the prompt stays within the budget.
    before_cursor = "\n".join([*lines[:line], lines[line][:column]])
    head = prompt[prompt.index("<fim_prefix>") + len("<fim_prefix>"):prompt.index("<fim_suffix>")]
    assert before_cursor.endswith(head)
    assert head.endswith(lines[line][:column][-1000:])
    if case == "20-MB-document":  # the lines above the cursor were read, not just its line
        assert count_tokens(head) > 4000
    # Line numbers are the file's, though only a slice around the cursor is read.
    prefix, suffix = report["sections"][:2]
    assert (prefix["kind"], prefix["end_line"]) == ("prefix", line + 1)
    assert prefix["start_line"] == line + 1 - head.count("\n")
    assert (suffix["kind"], suffix["start_line"]) == ("suffix", line + 1)
    for snippet in report["sections"][2:]:
        assert 1 <= snippet["start_line"] <= snippet["end_line"] <= len(lines)
    assert 0 < count_tokens(prompt) <= PROMPT_BUDGET
    assert shown == []


async def test_unknown_method_is_an_error_and_unknown_notification_is_ignored(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    model_server.reply = Reply(text="a + b")
    async with serving(hermetic_env, root=workspace,
                       init_options=fast_profile(model_server)) as client:
        with pytest.raises(JsonRpcMethodNotFound) as request_error:
            await client.protocol.send_request_async("deskmate/noSuchMethod", {"x": 1})
        with pytest.raises(JsonRpcMethodNotFound) as dollar_error:
            await client.protocol.send_request_async("$/noSuchRequest", {})
        client.protocol.notify("deskmate/noSuchNotification", {"x": 1})
        client.protocol.notify("$/noSuchNotification", {})
        uri = open_doc(client, workspace / "m.py", SOURCE)
        healthy = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
        await asyncio.sleep(0.1)
        shown = warnings_shown(client)

    assert request_error.value.code == -32601
    assert dollar_error.value.code == -32601
    assert items_of(healthy) == ["a + b"]
    assert shown == []  # neither bothers the user
