"""Inline completion end to end: the real server process, replaying VS Code's and Neovim's
capabilities, talking HTTP to the real test model server that records what it received."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import (
    client_encoding,
    fast_profile,
    inline_params,
    open_doc,
    running_client,
    send_request,
)

SOURCE = "def add(a, b):\n    return \n\nprint(add(1, 2))\n"


async def test_fim_prompt_holds_prefix_and_suffix(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    model_server.reply = Reply(text="a + b")
    async with running_client(hermetic_env, editor=editor, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        result = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))

    assert isinstance(result, types.InlineCompletionList)
    [item] = result.items
    assert item.insert_text == "a + b"
    cursor = types.Position(line=1, character=11)
    assert item.range == (None if editor == "neovim" else types.Range(start=cursor, end=cursor))
    [post] = model_server.posts()
    assert post.path == "/v1/completions"
    assert post.body["prompt"] == (
        "<fim_prefix>def add(a, b):\n    return <fim_suffix>\n\nprint(add(1, 2))\n<fim_middle>")
    assert post.body["model"] == "test-model"
    assert "<file_sep>" in post.body["stop"]


# The cursor sits after the emoji: 'é' is 2 UTF-8 bytes / 1 UTF-16 unit, '😀' 4 bytes /
# 2 units, '中' 3 bytes / 1 unit.
LINE = 'greeting = "héllo 😀 中"; name = '
BEFORE_CURSOR = 'greeting = "héllo 😀'


@pytest.mark.parametrize("editor", ["vscode", "neovim"])
async def test_range_on_non_ascii_line_in_negotiated_encoding(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    model_server.reply = Reply(text="!")
    text = f"x = 1\n{LINE}\n"
    async with running_client(hermetic_env, editor=editor, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        encoding = client_encoding(client)
        column = (len(BEFORE_CURSOR.encode()) if encoding == "utf-8"
                  else len(BEFORE_CURSOR.encode("utf-16-le")) // 2)
        uri = open_doc(client, workspace / "m.py", text)
        result = await client.text_document_inline_completion_async(
            inline_params(uri, 1, column))

    assert encoding == ("utf-16" if editor == "vscode" else "utf-8")
    assert column == (23 if encoding == "utf-8" else 20)  # 19 code points
    assert isinstance(result, types.InlineCompletionList)
    [item] = result.items
    position = types.Position(line=1, character=column)
    if editor == "neovim":
        assert item.range is None  # Neovim inserts at the cursor (see server/lsp.py)
    else:
        assert item.range == types.Range(start=position, end=position)
    [post] = model_server.posts()
    prompt = post.body["prompt"]
    assert prompt.startswith("<fim_prefix>x = 1\n" + BEFORE_CURSOR + "<fim_suffix>")
    assert prompt.endswith("<fim_suffix>" + LINE[len(BEFORE_CURSOR):] + "\n<fim_middle>")


async def test_cancel_request_closes_the_backend_stream(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    # A slow answer: 40 pieces, 100 ms apart.
    model_server.reply = Reply(text="x" * 40, pieces=40, piece_delay_s=0.1)
    async with running_client(hermetic_env, editor=editor, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        pending = send_request(client, types.TEXT_DOCUMENT_INLINE_COMPLETION,
                               inline_params(uri, 1, 11), msg_id="slow-1")
        assert await asyncio.to_thread(model_server.wait_for, lambda: model_server.posts())
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="slow-1"))
        with pytest.raises(JsonRpcRequestCancelled):
            await asyncio.wait_for(pending, 5)
        closed = await asyncio.to_thread(
            model_server.wait_for, lambda: model_server.posts()[0].outcome == "client-closed")

    assert closed, f"backend stream still open: {model_server.posts()[0].outcome}"
    assert model_server.posts()[0].server_ms < 2500  # closed long before the 4 s answer ended


async def test_newer_request_for_the_same_document_cancels_the_older(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    model_server.queue(Reply(text="slow", pieces=20, piece_delay_s=0.1))
    model_server.reply = Reply(text="a + b")
    async with running_client(hermetic_env, editor=editor, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        older = send_request(client, types.TEXT_DOCUMENT_INLINE_COMPLETION,
                             inline_params(uri, 1, 11), msg_id="older")
        assert await asyncio.to_thread(model_server.wait_for, lambda: model_server.posts())
        newer = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
        with pytest.raises(JsonRpcRequestCancelled):
            await asyncio.wait_for(older, 5)
        closed = await asyncio.to_thread(
            model_server.wait_for, lambda: model_server.posts()[0].outcome == "client-closed")

    assert isinstance(newer, types.InlineCompletionList)
    assert [i.insert_text for i in newer.items] == ["a + b"]
    assert closed


async def test_result_for_a_stale_version_is_dropped(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    model_server.reply = Reply(text="a + b", first_byte_delay_s=0.5)
    async with running_client(hermetic_env, editor=editor, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        pending = asyncio.ensure_future(
            client.text_document_inline_completion_async(inline_params(uri, 1, 11)))
        assert await asyncio.to_thread(model_server.wait_for, lambda: model_server.posts())
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(line=3, character=0),
                                  end=types.Position(line=3, character=0)),
                text="# edited\n")]))
        result = await asyncio.wait_for(pending, 5)

    assert model_server.posts()[0].outcome == "complete"  # the model did answer...
    assert isinstance(result, types.InlineCompletionList)
    assert not result.items  # ...but for version 1, and the document is at version 2


async def test_mid_line_suggestion_is_one_line_without_the_repeated_suffix(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    model_server.reply = Reply(text='"hello")\nprint("again")')
    async with running_client(hermetic_env, editor=editor, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        uri = open_doc(client, workspace / "m.py", "print()\n")
        result = await client.text_document_inline_completion_async(inline_params(uri, 0, 6))

    assert isinstance(result, types.InlineCompletionList)
    assert [i.insert_text for i in result.items] == ['"hello"']


async def test_whitespace_only_answer_gives_no_item(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    model_server.reply = Reply(text="  \n \n")
    async with running_client(hermetic_env, editor=editor, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        result = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))

    assert isinstance(result, types.InlineCompletionList)
    assert not result.items
    assert len(model_server.posts()) == 1
