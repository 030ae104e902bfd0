"""One gate, both faces: a document the privacy rules exclude never reaches the model, whether
`deskmate complete`, `deskmate context` or an editor over LSP asks — the real CLI process and
the real server, against the recording model server on 127.0.0.1.

Each face is checked on an allowed document first, in the same setup, so the test fails if a
face sends nothing at all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import fast_profile, inline_params, open_doc, plain, running_client

DESKMATE = [sys.executable, "-m", "deskmate.server"]
SECRET = "sk-proj-do-not-send-4f9a2c7e1b"
TEXT = f"OPENAI_API_KEY = '{SECRET}'\nvalue = \n"

# (name, where: inside the workspace or outside it, the rule that excludes it)
CASES = [
    pytest.param(".env", "inside", "", id="dotenv"),
    pytest.param("certs/server.pem", "inside", "", id="pem"),
    pytest.param("generated/models.py", "inside", ".gitignore:generated/", id="gitignored"),
    pytest.param("internal/payroll.py", "inside", "privacy:internal/**", id="privacy-exclude"),
    pytest.param(".env", "outside", "", id="outside-dotenv"),
    pytest.param(".ssh/config", "outside", "", id="outside-ssh-folder"),
]


def place(tmp_path: Path, workspace: Path, name: str, where: str, rule: str) -> Path:
    kind, _, pattern = rule.partition(":")
    if kind == ".gitignore":
        (workspace / ".gitignore").write_text(pattern + "\n")
    base = workspace if where == "inside" else tmp_path / "elsewhere"
    path = base / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEXT)
    return path


def excludes(rule: str) -> list[str]:
    kind, _, pattern = rule.partition(":")
    return [pattern] if kind == "privacy" else []


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "app.py").write_text("import os\n\nvalue = \n")
    return root


# --------------------------------------------------------------------------- the CLI


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DESKMATE, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          encoding="utf-8", timeout=60, check=False)


def config_file(tmp_path: Path, server: ModelServer, rule: str) -> Path:
    path = tmp_path / "deskmate.toml"
    exclude = json.dumps(excludes(rule))
    path.write_text(f"[privacy]\nexclude = {exclude}\n"
                    f"[profiles.fast]\nbackend = \"openai\"\nurl = \"{server.url}/v1\"\n"
                    f"model = \"test-model\"\nfim = \"starcoder\"\n"
                    f"[route]\ncompletion = [\"fast\"]\n")
    return path


@pytest.mark.parametrize(("name", "where", "rule"), CASES)
def test_the_cli_sends_nothing_from_an_excluded_file(
    tmp_path: Path, workspace: Path, model_server: ModelServer, hermetic_env: dict[str, str],
    name: str, where: str, rule: str,
) -> None:
    model_server.reply = Reply(text="'leak'")
    config = config_file(tmp_path, model_server, rule)
    common = ["--config", str(config), "--workspace", str(workspace)]
    allowed = cli(["complete", "app.py:3:9", *common], hermetic_env, workspace)
    assert allowed.returncode == 0, allowed.stderr
    assert len(model_server.posts()) == 1  # the face does send what is allowed
    model_server.clear()
    path = place(tmp_path, workspace, name, where, rule)

    completed = cli(["complete", f"{path}:2:9", *common], hermetic_env, workspace)
    shown = cli(["context", f"{path}:2:9", *common], hermetic_env, workspace)
    report = cli(["context", f"{path}:2:9", "--json", *common], hermetic_env, workspace)

    assert model_server.posts() == []
    for result in (completed, shown, report):
        assert result.returncode == 1
        assert SECRET not in result.stdout + result.stderr
        [line] = result.stderr.splitlines()  # one line, saying why
        assert line.startswith("deskmate: ")
        assert "nothing from it is sent" in line
        assert path.name in line
    assert completed.stdout == shown.stdout == ""
    answer = json.loads(report.stdout)
    assert (answer["prompt"], answer["sections"], answer["tokens"]) == ("", [], 0)
    assert answer["excluded"]


# --------------------------------------------------------------------------- the LSP server


async def context(client: Any, uri: str, line: int, character: int) -> dict[str, Any]:
    result = await client.protocol.send_request_async("deskmate/context", {
        "textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
    report = plain(result)
    assert isinstance(report, dict)
    return report


@pytest.mark.parametrize(("name", "where", "rule"), CASES)
async def test_the_lsp_server_sends_nothing_from_an_excluded_document(
    tmp_path: Path, workspace: Path, model_server: ModelServer, hermetic_env: dict[str, str],
    name: str, where: str, rule: str,
) -> None:
    model_server.reply = Reply(text="'leak'")
    options = fast_profile(model_server)
    options["privacy"] = {"exclude": excludes(rule)}
    path = place(tmp_path, workspace, name, where, rule)
    async with running_client(hermetic_env, root=workspace, init_options=options) as client:
        allowed_uri = open_doc(client, workspace / "app.py", "import os\n\nvalue = \n")
        allowed = await client.text_document_inline_completion_async(
            inline_params(allowed_uri, 2, 8))
        sent_for_allowed = len(model_server.posts())
        model_server.clear()
        uri = open_doc(client, path, TEXT)
        result = await client.text_document_inline_completion_async(inline_params(uri, 1, 8))
        report = await context(client, uri, 1, 8)

    assert isinstance(allowed, types.InlineCompletionList)
    assert allowed.items
    assert sent_for_allowed == 1
    assert isinstance(result, types.InlineCompletionList)
    assert not result.items
    assert model_server.posts() == []
    assert (report["prompt"], report["sections"]) == ("", [])
    assert report["excluded"]
