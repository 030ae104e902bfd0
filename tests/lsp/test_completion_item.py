"""Clients without inline completion get the same suggestion as one completion item."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import fast_profile, open_doc, running_client, server_capabilities


async def test_completion_item_for_clients_without_inline_completion(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    model_server.reply = Reply(text="ult(a, b)")
    async with running_client(hermetic_env, editor=editor, inline=False, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        assert server_capabilities(client).completion_provider is not None
        uri = open_doc(client, workspace / "m.py", "é = 1\nx = res\n")
        result = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=1, character=7)))

    assert isinstance(result, types.CompletionList)
    assert result.is_incomplete  # the suggestion depends on every keystroke
    [item] = result.items
    assert item.label == "result(a, b)"
    assert item.text_edit == types.TextEdit(
        range=types.Range(start=types.Position(line=1, character=4),
                          end=types.Position(line=1, character=7)),
        new_text="result(a, b)")
    assert item.filter_text == "result(a, b)"
    [post] = model_server.posts()
    assert post.body["prompt"].startswith("<fim_prefix>é = 1\nx = res<fim_suffix>")


async def test_inline_capable_clients_get_no_completion_provider(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    async with running_client(hermetic_env, editor=editor, inline=True, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        capabilities = server_capabilities(client)

    assert capabilities.completion_provider is None
    assert capabilities.inline_completion_provider is not None
    assert capabilities.text_document_sync is not None
    sync = capabilities.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions)
    assert sync.change == types.TextDocumentSyncKind.Incremental
