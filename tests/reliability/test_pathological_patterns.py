"""A repository chooses both its ignore patterns and its file names: no pattern may make the
server (or the CLI) slow on any name. Each pattern here took Python's backtracking regex
seconds to minutes on one name (`git status` is instant); the matcher must stay linear,
wherever the pattern comes from (a `.gitignore`, a `.deskmateignore`, `.git/info/exclude`,
`[privacy] exclude`, the user's global gitignore).

Each case also checks that the pattern still applies: a name it matches is excluded, and the
long name it does not match is sent. Through the real server and the real CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lsprotocol import types

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import inline_params, open_doc, wait_for_index
from tests.reliability.conftest import serving

DESKMATE = [sys.executable, "-m", "deskmate.server"]
TEXT = "value = \n"
CLI_BOUND_S = 15.0  # the whole CLI process, start-up included, on a loaded machine
REQUEST_BOUND_S = 10.0

# (where the pattern is written, the pattern, a path it makes a regex slow on (allowed), a
# path it matches (excluded))
CASES = [
    pytest.param(".gitignore", "*a*a*a*a*a*a*a*a*a*a*a*ab", "a" * 200 + ".py",
                 "aaaaaaaaaaaab", id="stars-gitignore"),
    pytest.param(".deskmateignore", "**/a/**/a/**/a/**/a/**/a/**/a/**/b",
                 "a/" * 100 + "x.py", "a/a/a/a/a/a/b", id="double-stars-deskmateignore"),
    pytest.param(".git/info/exclude", "/**/*a*a*a*a*a*a*a*a*a*ab/**", "a" * 150 + "/x.py",
                 "aaaaaaaaaab/y.py", id="folder-stars-info-exclude"),
    pytest.param("privacy", "*?*?*?*?*?*?*?*?*?*?*?x", "a" * 200 + ".py", "abcdefghijkx",
                 id="stars-and-marks-privacy-exclude"),
    pytest.param("global", "*[ab]*[ab]*[ab]*[ab]*[ab]*[ab]*[ab]*[ab]*[ab]*c",
                 "ab" * 100 + ".py", "ababababac", id="classes-global-gitignore"),
    pytest.param(".gitignore", "[!/]*a?*a?*a?*a?*a?*a?*a?*a?*a?*a?*b", "a" * 200 + ".py",
                 "xaxaxaxaxaxaxaxaxaxaxab", id="mixed-gitignore"),
]


@pytest.fixture
def env(hermetic_env: dict[str, str]) -> dict[str, str]:
    return {**hermetic_env, "GIT_CONFIG_NOSYSTEM": "1"}


def setup(workspace: Path, env: dict[str, str], server: ModelServer, where: str,
          pattern: str, slow: str, matching: str) -> None:
    exclude = json.dumps([pattern] if where == "privacy" else [])
    config = Path(env["XDG_CONFIG_HOME"]) / "deskmate" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[profiles.fast]\nbackend = "openai"\nurl = "{server.url}/v1"\n'
                      'model = "test-model"\nfim = "starcoder"\n[route]\ncompletion = ["fast"]\n'
                      f"[completion]\ndebounce_ms = 0\n[privacy]\nexclude = {exclude}\n")
    (workspace / ".git" / "info").mkdir(parents=True)
    if where == "global":
        target = Path(env["XDG_CONFIG_HOME"]) / "git" / "ignore"
        target.parent.mkdir(parents=True, exist_ok=True)
    elif where != "privacy":
        target = workspace / where
    if where != "privacy":
        target.write_text(pattern + "\n")
    for name in (slow, matching, "other/plain.py"):
        path = workspace / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(TEXT)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


def cli(args: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess[
        str], float]:
    started = time.monotonic()
    result = subprocess.run([*DESKMATE, *args], env=env, cwd=cwd, capture_output=True,
                            text=True, encoding="utf-8", timeout=120, check=False)
    return result, time.monotonic() - started


@pytest.mark.parametrize(("where", "pattern", "slow", "matching"), CASES)
def test_the_cli_is_quick_on_a_pathological_pattern_and_still_obeys_it(
    model_server: ModelServer, env: dict[str, str], workspace: Path, where: str, pattern: str,
    slow: str, matching: str,
) -> None:
    model_server.reply = Reply(text="1")
    setup(workspace, env, model_server, where, pattern, slow, matching)
    flags = ["--workspace", str(workspace)]

    completed, completed_s = cli(["complete", f"{slow}:1:9", *flags], env, workspace)
    report, report_s = cli(["context", "other/plain.py:1:9", "--json", *flags], env, workspace)
    excluded, _ = cli(["complete", f"{matching}:1:9", *flags], env, workspace)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "1\n"
    assert completed_s < CLI_BOUND_S  # a walk over every name, and the gate on `slow`
    assert report.returncode == 0, report.stderr
    assert report_s < CLI_BOUND_S
    assert excluded.returncode == 1
    assert "nothing from it is sent" in excluded.stderr
    assert len(model_server.posts()) == 1


@pytest.mark.parametrize(("where", "pattern", "slow", "matching"), CASES)
async def test_the_server_is_quick_on_a_pathological_pattern_and_still_obeys_it(
    model_server: ModelServer, env: dict[str, str], workspace: Path, where: str, pattern: str,
    slow: str, matching: str,
) -> None:
    model_server.reply = Reply(text="1")
    setup(workspace, env, model_server, where, pattern, slow, matching)
    async with serving(env, root=workspace) as client:
        started = time.monotonic()
        await wait_for_index(client, within_s=REQUEST_BOUND_S * 2)
        indexed_s = time.monotonic() - started
        uri = open_doc(client, workspace / slow, TEXT)
        started = time.monotonic()
        allowed = await asyncio.wait_for(client.text_document_inline_completion_async(
            inline_params(uri, 0, 8)), REQUEST_BOUND_S)
        answered_s = time.monotonic() - started
        sent = len(model_server.posts())
        other = open_doc(client, workspace / matching, TEXT)
        refused = await asyncio.wait_for(client.text_document_inline_completion_async(
            inline_params(other, 0, 8)), REQUEST_BOUND_S)

    assert indexed_s < REQUEST_BOUND_S * 2
    assert answered_s < REQUEST_BOUND_S
    assert isinstance(allowed, types.InlineCompletionList)
    assert [str(i.insert_text) for i in allowed.items] == ["1"]
    assert sent == 1
    assert isinstance(refused, types.InlineCompletionList)
    assert not refused.items
    assert len(model_server.posts()) == 1
