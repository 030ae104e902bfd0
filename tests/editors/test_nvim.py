"""Real Neovim end to end: the plugin in editors/nvim starts `deskmate serve`, typing in Insert
mode shows the suggestion as ghost text, and the plugin's accept key puts it in the buffer.

Each test runs `nvim --headless --clean -n -c 'luafile DRIVER'` with a driver from this folder
(parameters in a JSON file named by $DESKMATE_NVIM_PARAMS). The driver waits on Neovim's event
loop, writes what it saw to a JSON report and exits with `qa!` or `cq!`; the assertions on
what the editor and the model server saw are made here."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import fast_profile

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent.parent / "editors" / "nvim"
BIN = Path(sys.executable).parent
NVIM = shutil.which("nvim", path=str(BIN)) or shutil.which("nvim") or "nvim"
TIMEOUT_S = 60

# Typed on a new line between two others, then the cursor goes back before TRAIL: it sits
# mid-line after non-ASCII text ('é' is 2 UTF-8 bytes / 1 UTF-16 unit, '😀' 4 bytes / 2 units),
# so a position in the wrong encoding misplaces the insertion either way (at the end of a line,
# a column past the end would be clamped back to it).
BEFORE = "def shout(s):\n    return s.upper()\n"
AFTER = "print(s)\n"
TYPED = 's = "héllo 😀"; print('
TRAIL = ', sep="")'
SUGGESTION = 'shout(s) + "ü"'


@dataclass
class NvimRun:
    returncode: int | None  # None: killed at the timeout
    output: str
    report: dict[str, Any] = field(default_factory=dict)

    def explain(self, env: dict[str, str]) -> str:
        """nvim's output, its report and the tail of lsp.log (the server's stderr)."""
        log = Path(env["XDG_STATE_HOME"]) / "nvim" / "lsp.log"
        tail = log.read_text(errors="replace")[-6000:] if log.exists() else "(no lsp.log)"
        return (f"nvim exit code {self.returncode}\n--- output\n{self.output}\n--- report\n"
                f"{json.dumps(self.report, indent=1, ensure_ascii=False)}\n--- lsp.log\n{tail}")


def run_nvim(driver: str, params: dict[str, Any], env: dict[str, str], tmp_path: Path
             ) -> NvimRun:
    """Run a driver in headless Neovim, killing it (and the server it started) at TIMEOUT_S."""
    report = tmp_path / "report.json"
    params_file = tmp_path / "params.json"
    params_file.write_text(json.dumps({**params, "report": str(report)}), encoding="utf-8")
    data = tmp_path / "xdg-data"
    data.mkdir(exist_ok=True)
    env = {**env, "DESKMATE_NVIM_PARAMS": str(params_file), "XDG_DATA_HOME": str(data),
           "PATH": os.pathsep.join([str(BIN), env.get("PATH", "")])}
    script = str(HERE / driver).replace(" ", "\\ ")
    proc = subprocess.Popen(
        [NVIM, "--headless", "--clean", "-n", "-c", f"luafile {script}"],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
        process_group=0)
    try:
        output, _ = proc.communicate(timeout=TIMEOUT_S)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        output += f"\n(killed after {TIMEOUT_S} s)"
        code = None
    loaded = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    return NvimRun(code, output, loaded)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / ".git").mkdir(parents=True)  # a root marker
    return root


# Each position encoding Neovim offers, and each way the plugin passes settings to the server
# (initializationOptions; the `deskmate` section of workspace/configuration).
@pytest.mark.parametrize(("encoding", "settings_via"),
                         [("utf-8", "init_options"), ("utf-16", "settings")])
def test_typing_shows_ghost_text_and_the_accept_key_inserts_it(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, tmp_path: Path,
    encoding: str, settings_via: str,
) -> None:
    # One suggestion, then nothing: after accepting, the accept key falls back to a Tab.
    model_server.queue(Reply(text=SUGGESTION))
    model_server.reply = Reply(text="")
    source = workspace / "shout.py"
    source.write_text(BEFORE + AFTER, encoding="utf-8")
    row = BEFORE.count("\n") + 1  # 1-based row of the typed line

    run = run_nvim("nvim_inline.lua", {
        "plugin": str(PLUGIN),
        "cmd": [sys.executable, "-m", "deskmate.server", "serve"],
        settings_via: fast_profile(model_server),
        "encoding": encoding,
        "file": str(source),
        "keys": f"{row - 1}Go{TYPED}{TRAIL}" + "<Left>" * len(TRAIL),
        "accept_key": "<Tab>",
    }, hermetic_env, tmp_path)
    why = run.explain(hermetic_env)
    report = run.report

    assert run.returncode == 0, why
    assert report["offset_encoding"] == encoding, why
    assert report["inline_completion_provider"], why
    assert report["mode"] == "i", why
    assert report["typed_line"] == TYPED + TRAIL, why
    # Ghost text: the whole suggestion, on the typed line, right at the cursor (bytes), drawn
    # inline (pushing the rest of the line right, not covering it).
    assert report["ghost"] == {"row": row - 1, "col": len(TYPED.encode()),
                               "text": SUGGESTION, "lines": [], "pos": "inline"}, why
    assert report["cursor"] == [row, len(TYPED.encode())], why
    # Accepted: exactly the typed text with the suggestion at the cursor, cursor after it.
    assert report["accepted_line"] == TYPED + SUGGESTION + TRAIL, why
    assert report["accepted_cursor"] == [row, len((TYPED + SUGGESTION).encode())], why
    # Nothing left to accept: <Tab> inserts blanks as usual (Python: spaces to the next stop).
    fallback = report["fallback_line"]
    assert re.fullmatch(re.escape(TYPED + SUGGESTION) + "[ \t]+" + re.escape(TRAIL), fallback), why
    assert report["lines"] == [*BEFORE.splitlines(), fallback, *AFTER.splitlines()], why

    # The model saw the document as typed: the FIM prefix ends exactly at the cursor.
    first = model_server.posts()[0]
    assert first.path == "/v1/completions", why
    prompt = first.body["prompt"]
    prefix, _, rest = prompt.partition("<fim_suffix>")
    suffix = rest.removesuffix("<fim_middle>")
    assert prefix.endswith("\n" + TYPED), prompt
    assert prefix.startswith("<fim_prefix>"), prompt
    assert BEFORE in prefix, prompt
    assert suffix.startswith(TRAIL + "\n" + AFTER), prompt


def test_enable_with_only_the_lsp_config_attaches(
    hermetic_env: dict[str, str], workspace: Path, tmp_path: Path
) -> None:
    # Only lsp/deskmate.lua on the runtimepath, no setup(): the default `cmd` (`deskmate
    # serve`, found on PATH) and root markers must be enough.
    rtp = tmp_path / "rtp"
    (rtp / "lsp").mkdir(parents=True)
    shutil.copy(PLUGIN / "lsp" / "deskmate.lua", rtp / "lsp" / "deskmate.lua")
    source = workspace / "pkg" / "m.py"
    source.parent.mkdir()
    source.write_text("x = 1\n", encoding="utf-8")

    run = run_nvim("nvim_attach.lua", {"rtp": str(rtp), "file": str(source)},
                   hermetic_env, tmp_path)
    why = run.explain(hermetic_env)

    assert run.returncode == 0, why
    assert run.report["name"] == "deskmate", why
    assert run.report["cmd"] == ["deskmate", "serve"], why
    assert run.report["filetype"] == "python", why
    assert run.report["root_dir"] == str(workspace), why
    assert run.report["inline_completion_provider"], why
    assert run.report["server_name"] == "deskmate", why
