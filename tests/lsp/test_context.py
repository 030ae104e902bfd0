"""The context engine through the real server: background indexing with progress,
`deskmate/context`, cross-file snippets reaching the model, and index updates on save."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lsprotocol import types

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import (
    fast_profile,
    inline_params,
    open_doc,
    plain,
    running_client,
    wait_for_index,
)

PRICING = '''"""Prices."""


def compute_total(items, tax):
    """The sum of item prices plus tax."""
    subtotal = sum(item.price for item in items)
    return subtotal * (1 + tax)
'''
APP = "from shop.pricing import compute_total\n\n\ndef checkout(cart):\n    total = \n"
FIELDS = {"budget", "tokens", "prompt", "elapsed_ms", "index_ms", "sections", "redactions",
          "excluded"}
SECTION_FIELDS = {"kind", "path", "start_line", "end_line", "tokens", "score", "reason",
                  "included"}


def project(workspace: Path) -> None:
    (workspace / "shop").mkdir()
    (workspace / "shop" / "pricing.py").write_text(PRICING)
    (workspace / "shop" / "app.py").write_text(APP)
    (workspace / ".env").write_text("OPENAI_API_KEY=sk-do-not-send-0123456789\n")


async def context(client: Any, uri: str, line: int, character: int) -> dict[str, Any]:
    result = await client.protocol.send_request_async("deskmate/context", {
        "textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
    report = plain(result)
    assert isinstance(report, dict)
    return report


async def test_indexing_reports_progress_and_context_shows_the_cross_file_definition(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    project(workspace)
    async with running_client(hermetic_env, editor=editor, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        await wait_for_index(client, within_s=10)
        uri = open_doc(client, workspace / "shop" / "app.py", APP)
        report = await context(client, uri, 4, 12)
        progress: list[Any] = next(iter(client.progress_reports.values()))

    assert isinstance(progress[0], types.WorkDoneProgressBegin)
    assert isinstance(progress[-1], types.WorkDoneProgressEnd)
    assert set(report) == FIELDS
    assert report["excluded"] is None
    assert report["index_ms"] > 0  # the server's index build, not a made-up 0
    assert all(set(section) == SECTION_FIELDS for section in report["sections"])
    assert report["tokens"] <= report["budget"]
    [definition] = [s for s in report["sections"] if s["kind"] == "definition"
                    and s["included"] and s["path"] == "shop/pricing.py"]
    assert (definition["start_line"], definition["end_line"]) == (4, 7)
    assert "# shop/pricing.py:4-7\ndef compute_total(items, tax):" in report["prompt"]
    assert report["prompt"].endswith(APP)
    assert "sk-do-not-send" not in report["prompt"]
    assert all(s["path"] != ".env" for s in report["sections"])


async def test_llamacpp_receives_cross_file_snippets_as_input_extra(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    project(workspace)
    model_server.reply = Reply(text="compute_total(cart.items, 0.2)")
    options = fast_profile(model_server, backend="llamacpp", url=model_server.url)
    async with running_client(hermetic_env, root=workspace, init_options=options) as client:
        await wait_for_index(client, within_s=10)
        uri = open_doc(client, workspace / "shop" / "app.py", APP)
        result = await client.text_document_inline_completion_async(inline_params(uri, 4, 12))

    assert isinstance(result, types.InlineCompletionList)
    assert [i.insert_text for i in result.items] == ["compute_total(cart.items, 0.2)"]
    [post] = model_server.posts()
    assert post.path == "/infill"
    extra = {chunk["filename"]: chunk["text"] for chunk in post.body["input_extra"]}
    assert "def compute_total(items, tax):" in extra["shop/pricing.py"]
    assert post.body["input_prefix"].endswith("    total = ")


async def test_starcoder_prompt_marks_other_files_with_its_file_separator(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    project(workspace)
    async with running_client(hermetic_env, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        await wait_for_index(client, within_s=10)
        uri = open_doc(client, workspace / "shop" / "app.py", APP)
        await client.text_document_inline_completion_async(inline_params(uri, 4, 12))

    prompt = model_server.posts()[0].body["prompt"]
    assert prompt.startswith("<file_sep>shop/pricing.py\ndef compute_total(items, tax):")
    assert "<file_sep>shop/app.py\n<fim_prefix>from shop.pricing import" in prompt
    assert "sk-do-not-send" not in prompt


async def test_a_saved_file_updates_the_index(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    project(workspace)
    async with running_client(hermetic_env, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        await wait_for_index(client, within_s=10)
        uri = open_doc(client, workspace / "shop" / "app.py", APP)
        renamed = PRICING.replace("compute_total", "grand_total")
        (workspace / "shop" / "pricing.py").write_text(renamed)
        client.text_document_did_save(types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(
                uri=(workspace / "shop" / "pricing.py").as_uri())))
        text = APP.replace("compute_total", "grand_total")
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
        report = await context(client, uri, 4, 12)
        client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
            types.FileEvent(uri=(workspace / "shop" / "pricing.py").as_uri(),
                            type=types.FileChangeType.Deleted)]))
        (workspace / "shop" / "pricing.py").unlink()
        after_delete = await context(client, uri, 4, 12)

    included = {(s["path"], s["start_line"]) for s in report["sections"]
                if s["included"] and s["kind"] == "definition"}
    assert ("shop/pricing.py", 4) in included
    assert "def grand_total(items, tax):" in report["prompt"]
    assert all(s["path"] != "shop/pricing.py" for s in after_delete["sections"])


async def test_context_for_a_document_that_is_not_open_is_null(
    hermetic_env: dict[str, str], workspace: Path
) -> None:
    async with running_client(hermetic_env, root=workspace) as client:
        result = await client.protocol.send_request_async("deskmate/context", {
            "textDocument": {"uri": (workspace / "nope.py").as_uri()},
            "position": {"line": 0, "character": 0}})

    assert result is None
