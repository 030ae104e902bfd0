"""The user's own settings always apply, and a repository can only tighten them: a cloned
repository's `.deskmate.toml` is a layer on top of the user's config (never instead of it),
`[privacy] exclude` adds up over every layer (no layer, the editor's included, can remove a
glob), the user's global gitignore (`core.excludesFile`) excludes files that no repository
ignore file can re-include, and every number a repository sets is checked against its range.

Through the real CLI process and the real server, against the recording model server. Each
test first shows the face sending what is allowed, in the same setup."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from deskmate.server.trust import set_trust
from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import inline_params, open_doc, plain, running_client, wait_for_index

DESKMATE = [sys.executable, "-m", "deskmate.server"]
SECRET = "payroll-secret-5d2e"
PAYROLL = f"SALARY_KEY = '{SECRET}'\nvalue = \n"
APP = "import os\n\nvalue = \n"


@pytest.fixture
def env(hermetic_env: dict[str, str]) -> dict[str, str]:
    """The hermetic environment, with no system-wide git config either."""
    return {**hermetic_env, "GIT_CONFIG_NOSYSTEM": "1"}


@pytest.fixture
def home(env: dict[str, str]) -> Path:
    return Path(env["HOME"])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "internal").mkdir(parents=True)
    (root / "app.py").write_text(APP)
    (root / "internal" / "payroll.py").write_text(PAYROLL)
    return root


def user_config(env: dict[str, str], server: ModelServer, extra: str = "") -> Path:
    """The user's own config file, where the search looks for it: their profile and route."""
    path = Path(env["XDG_CONFIG_HOME"]) / "deskmate" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[profiles.mine]\nbackend = "openai"\nurl = "{server.url}/v1"\n'
                    'model = "test-model"\nfim = "starcoder"\n[route]\ncompletion = ["mine"]\n'
                    f"[completion]\ndebounce_ms = 0\n{extra}")
    return path


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DESKMATE, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          encoding="utf-8", timeout=60, check=False)


# The repository's own file tries to undo the user's exclusions (with or without trust).
REPO_FILES = [
    pytest.param('[privacy]\nexclude = []\n', id="empty-list"),
    pytest.param('[privacy]\nexclude = ["!internal/**", "!internal/payroll.py"]\n',
                 id="negated-globs"),
    pytest.param('[privacy]\nexclude = ["tmp/"]\n[profiles.mine]\nmodel = "test-model"\n',
                 id="own-globs-and-profile"),
]


@pytest.mark.parametrize("trusted", [False, True], ids=["untrusted", "trusted"])
@pytest.mark.parametrize("repo_file", REPO_FILES)
def test_the_cli_keeps_the_users_exclusions_and_profiles_under_a_repository_config(
    model_server: ModelServer, env: dict[str, str], workspace: Path, repo_file: str,
    trusted: bool,
) -> None:
    model_server.reply = Reply(text="1")
    user_config(env, model_server, '[privacy]\nexclude = ["internal/**"]\n')
    (workspace / ".deskmate.toml").write_text(repo_file + "[completion]\nmax_tokens = 40\n")
    if trusted:
        assert set_trust(workspace, True, env)

    allowed = cli(["complete", "app.py:3:9", "--workspace", str(workspace)], env, workspace)
    [post] = model_server.posts()  # the user's profile, with the repository's tuning
    model_server.clear()
    excluded = cli(["complete", "internal/payroll.py:2:9", "--workspace", str(workspace)], env,
                   workspace)
    report = cli(["context", "internal/payroll.py:2:9", "--json", "--workspace",
                  str(workspace)], env, workspace)

    assert allowed.returncode == 0, allowed.stderr
    assert post.body["max_tokens"] == 40
    assert excluded.returncode == report.returncode == 1
    assert "nothing from it is sent" in excluded.stderr
    assert json.loads(report.stdout)["excluded"]
    assert model_server.posts() == []
    assert SECRET not in excluded.stdout + excluded.stderr + report.stdout


@pytest.mark.parametrize("repo_file", REPO_FILES)
async def test_the_server_keeps_the_users_exclusions_whatever_the_repository_and_editor_say(
    model_server: ModelServer, env: dict[str, str], workspace: Path, repo_file: str,
) -> None:
    model_server.reply = Reply(text="1")
    user_config(env, model_server, '[privacy]\nexclude = ["internal/**"]\n')
    (workspace / ".deskmate.toml").write_text(repo_file + "[completion]\nmax_tokens = 40\n")
    editor: dict[str, Any] = {"privacy": {"exclude": []}}  # an editor "clearing" the list
    async with running_client(env, root=workspace, init_options=editor,
                              configuration={"privacy": {"exclude": ["!internal/**"]}}
                              ) as client:
        await wait_for_index(client)
        app = open_doc(client, workspace / "app.py", APP)
        allowed = await client.text_document_inline_completion_async(inline_params(app, 2, 8))
        posts_allowed = model_server.posts()
        model_server.clear()
        uri = open_doc(client, workspace / "internal" / "payroll.py", PAYROLL)
        result = await client.text_document_inline_completion_async(inline_params(uri, 1, 8))
        report = plain(await client.protocol.send_request_async("deskmate/context", {
            "textDocument": {"uri": uri}, "position": {"line": 1, "character": 8}}))

    assert isinstance(allowed, types.InlineCompletionList)
    assert allowed.items
    assert [p.body["max_tokens"] for p in posts_allowed] == [40]
    assert isinstance(result, types.InlineCompletionList)
    assert not result.items
    assert model_server.posts() == []
    assert report["excluded"]


# --------------------------------------------------------------------------- global gitignore


def global_ignore(home: Path, env: dict[str, str], how: str, patterns: str) -> None:
    """Set up the user's global gitignore the way `how` says git finds it."""
    xdg = Path(env["XDG_CONFIG_HOME"])
    if how == "default":  # no core.excludesFile: $XDG_CONFIG_HOME/git/ignore
        target = xdg / "git" / "ignore"
    elif how == "gitconfig-tilde":
        (home / ".gitconfig").write_text("[user]\n\tname = x\n[core]\n\texcludesFile = "
                                         "~/.gitignore_global  ; the usual place\n")
        target = home / ".gitignore_global"
    elif how == "xdg-config-quoted":
        (xdg / "git").mkdir(parents=True, exist_ok=True)
        (xdg / "git" / "config").write_text('[CORE]\n  ExcludesFile = "~/my ignores/list"\n')
        target = home / "my ignores" / "list"
    else:  # "include": core.excludesFile set in a file ~/.gitconfig includes
        (home / ".gitconfig").write_text("[include]\n\tpath = .config/git/extra.inc\n")
        (xdg / "git").mkdir(parents=True, exist_ok=True)
        (xdg / "git" / "extra.inc").write_text(f"[core]\nexcludesfile = {home}/ignores\n")
        target = home / "ignores"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(patterns)


HOW = ["default", "gitconfig-tilde", "xdg-config-quoted", "include"]
# The repository's ignore files try to re-include what the user's global gitignore excludes.
REINCLUDE = {".deskmateignore": "!*.private.py\n!scratch/\n",
             ".gitignore": "!notes.private.py\n!scratch/rates.py\n"}


def private_files(workspace: Path) -> None:
    (workspace / "scratch").mkdir()
    (workspace / "scratch" / "rates.py").write_text(
        f"def compute_tax(amount):\n    return '{SECRET}'\n")
    (workspace / "notes.private.py").write_text(PAYROLL)
    (workspace / "calc.py").write_text(
        "from scratch.rates import compute_tax\n\n\ndef total(a):\n    return compute_tax(\n")


@pytest.mark.parametrize("how", HOW)
def test_the_cli_obeys_the_users_global_gitignore_over_the_repositorys_files(
    model_server: ModelServer, env: dict[str, str], home: Path, workspace: Path, how: str,
) -> None:
    model_server.reply = Reply(text="a)")
    user_config(env, model_server)
    private_files(workspace)
    flags = ["--workspace", str(workspace)]
    before = cli(["context", "calc.py:5:24", "--json", *flags], env, workspace)
    assert before.returncode == 0, before.stderr
    assert "scratch/rates.py" in {s["path"] for s in json.loads(before.stdout)["sections"]}
    for name, text in REINCLUDE.items():
        (workspace / name).write_text(text)
    global_ignore(home, env, how, "*.private.py\nscratch/\n")

    after = cli(["context", "calc.py:5:24", "--json", *flags], env, workspace)
    allowed = cli(["complete", "calc.py:5:24", *flags], env, workspace)
    excluded = cli(["complete", "notes.private.py:2:9", *flags], env, workspace)

    report = json.loads(after.stdout)
    assert "scratch/rates.py" not in {s["path"] for s in report["sections"]}
    assert SECRET not in report["prompt"]
    assert allowed.returncode == 0, allowed.stderr
    [post] = model_server.posts()
    assert SECRET not in json.dumps(post.body)
    assert excluded.returncode == 1
    assert "ignores" in excluded.stderr or "ignore" in excluded.stderr


@pytest.mark.parametrize("how", HOW)
async def test_the_server_obeys_the_users_global_gitignore_over_the_repositorys_files(
    model_server: ModelServer, env: dict[str, str], home: Path, workspace: Path, how: str,
) -> None:
    model_server.reply = Reply(text="a)")
    user_config(env, model_server)
    private_files(workspace)
    for name, text in REINCLUDE.items():
        (workspace / name).write_text(text)
    global_ignore(home, env, how, "*.private.py\nscratch/\n")
    async with running_client(env, root=workspace) as client:
        await wait_for_index(client)
        calc = open_doc(client, workspace / "calc.py", (workspace / "calc.py").read_text())
        allowed = await client.text_document_inline_completion_async(inline_params(calc, 4, 23))
        posts_allowed = model_server.posts()
        model_server.clear()
        notes = open_doc(client, workspace / "notes.private.py", PAYROLL)
        result = await client.text_document_inline_completion_async(inline_params(notes, 1, 8))

    assert isinstance(allowed, types.InlineCompletionList)
    assert allowed.items
    [post] = posts_allowed
    assert "compute_tax(" in post.body["prompt"]
    assert SECRET not in json.dumps(post.body)  # scratch/rates.py is not in the index
    assert isinstance(result, types.InlineCompletionList)
    assert not result.items
    assert model_server.posts() == []


def test_a_file_the_global_gitignore_does_not_match_is_still_sent(
    model_server: ModelServer, env: dict[str, str], home: Path, workspace: Path,
) -> None:
    """The control for the cases above: the global gitignore excludes what it matches, no
    more."""
    model_server.reply = Reply(text="1")
    user_config(env, model_server)
    global_ignore(home, env, "gitconfig-tilde", "*.private.py\n")
    (workspace / "notes.public.py").write_text(PAYROLL)

    result = cli(["complete", "notes.public.py:2:9", "--workspace", str(workspace)], env,
                 workspace)

    assert result.returncode == 0, result.stderr
    assert len(model_server.posts()) == 1


# --------------------------------------------------------------------------- numbers in range

# (setting as written in the repository's file, the key, what the request carries instead)
OUT_OF_RANGE = [
    pytest.param("temperature = inf", "completion.temperature", ("temperature", 0.2),
                 id="temperature-inf"),
    pytest.param("temperature = nan", "completion.temperature", ("temperature", 0.2),
                 id="temperature-nan"),
    pytest.param("temperature = 1e308", "completion.temperature", ("temperature", 0.2),
                 id="temperature-huge"),
    pytest.param("max_tokens = 1000000000000", "completion.max_tokens", ("max_tokens", 128),
                 id="max-tokens-huge"),
    pytest.param("debounce_ms = 999999999999", "completion.debounce_ms", None,
                 id="debounce-huge"),
    pytest.param("deadline_ms = 1", "completion.deadline_ms", None, id="deadline-tiny"),
    pytest.param("deadline_ms = 99999999999999", "completion.deadline_ms", None,
                 id="deadline-huge"),
]


def repo_numbers(workspace: Path, setting: str) -> None:
    (workspace / ".deskmate.toml").write_text(f"[completion]\n{setting}\n"
                                              "[context]\nreserve_output = -inf\n")


@pytest.mark.parametrize(("setting", "key", "sent"), OUT_OF_RANGE)
def test_the_cli_reports_an_out_of_range_number_and_completes_with_the_default(
    model_server: ModelServer, env: dict[str, str], workspace: Path, setting: str, key: str,
    sent: tuple[str, Any] | None,
) -> None:
    model_server.reply = Reply(text="1")
    user_config(env, model_server)
    repo_numbers(workspace, setting)

    result = cli(["complete", "app.py:3:9", "--workspace", str(workspace)], env, workspace)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "1\n"
    assert "Traceback" not in result.stderr
    problems = result.stderr.splitlines()
    assert len(problems) == 2, problems  # one line per bad key
    [line] = [p for p in problems if f" {key} " in p]
    assert "must be between " in line
    assert line.endswith("the default is used")
    assert ".deskmate.toml, line 2" in line
    [post] = model_server.posts()
    if sent is not None:
        assert post.body[sent[0]] == sent[1]


@pytest.mark.parametrize(("setting", "key", "sent"), OUT_OF_RANGE)
async def test_the_server_reports_an_out_of_range_number_and_keeps_completing(
    model_server: ModelServer, env: dict[str, str], workspace: Path, setting: str, key: str,
    sent: tuple[str, Any] | None,
) -> None:
    model_server.reply = Reply(text="1")
    user_config(env, model_server)
    repo_numbers(workspace, setting)
    async with running_client(env, root=workspace) as client:
        uri = open_doc(client, workspace / "app.py", APP)
        # As you type: a huge debounce would make this wait forever.
        typed = await asyncio.wait_for(client.text_document_inline_completion_async(
            inline_params(uri, 2, 8, invoked=False)), 10)
        await asyncio.sleep(0.2)
        shown = [m.message for m in client.messages]

    assert isinstance(typed, types.InlineCompletionList)
    assert [str(i.insert_text) for i in typed.items] == ["1"]
    [post] = model_server.posts()
    if sent is not None:
        assert post.body[sent[0]] == sent[1]
    [message] = [m for m in shown if key in m]
    assert "must be between " in message
    assert "context.reserve_output" in message  # every problem, in one message
