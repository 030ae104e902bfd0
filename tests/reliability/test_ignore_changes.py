"""An ignore file added, edited or deleted mid-session applies at once, with no restart: the
open documents are judged again, the index forgets what is now excluded before the next
request, and files no longer excluded come back. Through the real server (told by
`workspace/didChangeWatchedFiles` or by `didSave`, as editors do) and the real CLI (whose index
cache on disk was built under the old rules).

Every case first shows the file reaching the model, in the same session: a test that could
not see the file at all could not fail."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import (
    fast_profile,
    inline_params,
    open_doc,
    plain,
    running_client,
    wait_for_index,
)

DESKMATE = [sys.executable, "-m", "deskmate.server"]
MARKER = "TAXMARKER-93c1"
HELPER = f'def compute_tax(amount):\n    """Rule {MARKER}: the special region."""\n' \
         "    return amount * 0.0731\n"
APP = "from helpers.tax import compute_tax\n\n\ndef total(amount):\n    return compute_tax(\n"
NOTES = "RATE = 0.0731  # notes-c81f\nvalue = \n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "helpers").mkdir(parents=True)
    (root / "src").mkdir()
    (root / ".git" / "info").mkdir(parents=True)  # a repository: its info/exclude applies
    (root / "helpers" / "__init__.py").write_text("")
    (root / "helpers" / "tax.py").write_text(HELPER)
    (root / "app.py").write_text(APP)
    (root / "src" / "notes_tax.py").write_text(NOTES)
    return root


def notify(client: LanguageClient, path: Path, change: types.FileChangeType) -> None:
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
        changes=[types.FileEvent(uri=path.as_uri(), type=change)]))


def write_rule(client: LanguageClient, workspace: Path, ignore_file: str, rule: str,
               how: str) -> None:
    """Add `rule` to `ignore_file` the way `how` says an editor learns of it."""
    path = workspace / ignore_file
    existed = path.exists()
    text = (path.read_text() if existed else "") + rule + "\n"
    if how == "saved":  # edited in the editor and saved: didChange, then didSave
        uri = path.as_uri()
        old = path.read_text() if existed else ""
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="ignore", version=1,
                                                 text=old)))
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
        path.write_text(text)
        client.text_document_did_save(types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    notify(client, path, types.FileChangeType.Changed if existed else
           types.FileChangeType.Created)


def touch(client: LanguageClient, uri: str, text: str, version: int = 2) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


async def context(client: LanguageClient, uri: str, line: int, character: int) -> Any:
    result = await client.protocol.send_request_async("deskmate/context", {
        "textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
    return plain(result)


def paths_in(report: dict[str, Any]) -> set[str]:
    return {section["path"] for section in report["sections"]}


# --------------------------------------------------------------------------- the LSP server

# (ignore file, rule, how the server learns of it)
OPEN_DOCUMENT_CASES = [
    pytest.param(".gitignore", "notes_*.py", "created", id="gitignore-created"),
    pytest.param(".deskmateignore", "notes_*.py", "created", id="deskmateignore-created"),
    pytest.param(".gitignore", "notes_*.py", "saved", id="gitignore-saved-in-editor"),
    pytest.param("src/.gitignore", "notes_tax.py", "created", id="nested-gitignore"),
    pytest.param(".gitignore", "src/", "created", id="folder-rule"),
    pytest.param(".git/info/exclude", "**/notes_*", "created", id="git-info-exclude"),
]


@pytest.mark.parametrize(("ignore_file", "rule", "how"), OPEN_DOCUMENT_CASES)
async def test_an_open_document_an_ignore_rule_now_covers_sends_nothing(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path,
    ignore_file: str, rule: str, how: str,
) -> None:
    model_server.reply = Reply(text="0.1")
    if how == "saved":
        (workspace / ignore_file).write_text("*.log\n")
    async with running_client(hermetic_env, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        await wait_for_index(client)
        uri = open_doc(client, workspace / "src" / "notes_tax.py", NOTES)
        before = await client.text_document_inline_completion_async(inline_params(uri, 1, 8))
        sent_before = [p.body["prompt"] for p in model_server.posts()]
        model_server.clear()
        write_rule(client, workspace, ignore_file, rule, how)
        after = await client.text_document_inline_completion_async(inline_params(uri, 1, 8))
        report = await context(client, uri, 1, 8)

    assert isinstance(before, types.InlineCompletionList)
    assert before.items
    assert len(sent_before) == 1
    assert "notes-c81f" in sent_before[0]
    assert isinstance(after, types.InlineCompletionList)
    assert not after.items
    assert model_server.posts() == []
    assert report["excluded"]
    assert report["prompt"] == ""


# (ignore file, rule): each one excludes helpers/tax.py, which is only in the index
INDEX_CASES = [
    pytest.param(".deskmateignore", "helpers/", id="deskmateignore-folder"),
    pytest.param(".gitignore", "tax.py", id="gitignore-name"),
    pytest.param("helpers/.gitignore", "*.py\n!__init__.py", id="nested-with-negation"),
    pytest.param(".git/info/exclude", "/helpers/tax.*", id="git-info-exclude"),
]


@pytest.mark.parametrize(("ignore_file", "rule"), INDEX_CASES)
async def test_the_index_forgets_a_file_an_ignore_rule_now_covers_before_the_next_request(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path,
    ignore_file: str, rule: str,
) -> None:
    model_server.reply = Reply(text="amount)")
    async with running_client(hermetic_env, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        await wait_for_index(client)
        uri = open_doc(client, workspace / "app.py", APP)
        before = await context(client, uri, 4, 23)
        await client.text_document_inline_completion_async(inline_params(uri, 4, 23))
        prompt_before = model_server.posts()[-1].body["prompt"]
        model_server.clear()
        write_rule(client, workspace, ignore_file, rule, "created")
        touch(client, uri, APP + "\n")  # new text: no suggestion comes from the cache
        after = await context(client, uri, 4, 23)
        await client.text_document_inline_completion_async(inline_params(uri, 4, 23))
        [post] = model_server.posts()

    assert "helpers/tax.py" in paths_in(before)  # the definition was found through the index
    assert MARKER in prompt_before
    assert "helpers/tax.py" not in paths_in(after), after["sections"]
    assert MARKER not in post.body["prompt"]
    assert MARKER not in after["prompt"]


async def test_a_deleted_ignore_file_lets_its_files_back_in(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path,
) -> None:
    (workspace / ".deskmateignore").write_text("helpers/\nnotes_*.py\n")
    async with running_client(hermetic_env, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        await wait_for_index(client)
        app = open_doc(client, workspace / "app.py", APP)
        notes = open_doc(client, workspace / "src" / "notes_tax.py", NOTES)
        before = await context(client, app, 4, 23)
        notes_before = await context(client, notes, 1, 8)
        (workspace / ".deskmateignore").unlink()
        notify(client, workspace / ".deskmateignore", types.FileChangeType.Deleted)
        notes_after = await context(client, notes, 1, 8)
        deadline = time.monotonic() + 15
        after = await context(client, app, 4, 23)
        while "helpers/tax.py" not in paths_in(after) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)  # the index takes the file back in the background
            after = await context(client, app, 4, 23)

    assert "helpers/tax.py" not in paths_in(before)
    assert notes_before["excluded"]
    assert not notes_after["excluded"]
    assert "notes-c81f" in notes_after["prompt"]
    assert "helpers/tax.py" in paths_in(after)
    assert MARKER in after["prompt"]


# --------------------------------------------------------------------------- the CLI


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DESKMATE, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          encoding="utf-8", timeout=60, check=False)


@pytest.mark.parametrize(("ignore_file", "rule"), INDEX_CASES)
def test_the_cli_index_cache_does_not_outlive_a_new_ignore_rule(
    tmp_path: Path, model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path,
    ignore_file: str, rule: str,
) -> None:
    model_server.reply = Reply(text="amount)")
    config = tmp_path / "deskmate.toml"
    config.write_text(f'[profiles.fast]\nbackend = "openai"\nurl = "{model_server.url}/v1"\n'
                      'model = "test-model"\nfim = "starcoder"\n[route]\ncompletion = ["fast"]\n')
    common = ["--config", str(config), "--workspace", str(workspace)]
    before = cli(["context", "app.py:5:24", "--json", *common], hermetic_env, workspace)
    assert before.returncode == 0, before.stderr
    assert "helpers/tax.py" in paths_in(json.loads(before.stdout))  # and now in the cache
    path = workspace / ignore_file
    path.write_text(rule + "\n")

    after = cli(["context", "app.py:5:24", "--json", *common], hermetic_env, workspace)
    completed = cli(["complete", "app.py:5:24", *common], hermetic_env, workspace)

    assert after.returncode == 0, after.stderr
    assert completed.returncode == 0, completed.stderr
    report = json.loads(after.stdout)
    assert "helpers/tax.py" not in paths_in(report)
    assert MARKER not in report["prompt"]
    [post] = model_server.posts()
    assert MARKER not in post.body["prompt"]
