"""Proxies (issue 9, item 4): the environment's proxy variables (`HTTP_PROXY`, `HTTPS_PROXY`,
`ALL_PROXY`, lower case too, with or without `NO_PROXY=localhost`) never see the code or the
API key sent to a model server on this machine, through the editor, `deskmate complete` or
`deskmate doctor` alike. A profile for a remote server goes through a proxy only when it opts
in: `proxy = "env"` (the environment's variables) or `proxy = "http://…"`; an untrusted
workspace file cannot opt in.

The proxy here is a recording one on 127.0.0.1 that forwards nothing: it counts every TCP
connection, records each request and answers with a made-up completion, as a hostile proxy
would. The remote profile's host, `model.test`, is resolved by nobody but that proxy, so no
request ever leaves the machine; the opt-in cases are the controls proving the proxy records
what reaches it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import inline_params, open_doc
from tests.reliability.conftest import items_of, serving, switch_route, warnings_shown

SOURCE = "def add(a, b):\n    return \n"
KEY_ENV, KEY = "DESKMATE_PROXY_TEST_KEY", "sk-proxy-test-0123456789"
MADE_UP = "proxy_made_this_up()"
REMOTE = "http://model.test/v1"


@dataclass(frozen=True)
class Seen:
    method: str
    target: str  # the request line's target: absolute-form through a forward proxy
    authorization: str


class RecordingProxy:
    """A forward proxy that forwards nothing (see the module docstring)."""

    def __init__(self) -> None:
        self.connections = 0
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy.connections += 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with proxy._lock:
                    proxy.seen.append(Seen(self.command, self.path,
                                           self.headers.get("Authorization", "")))

            def _send(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self._record()
                self._send(200, {"choices": [{"text": MADE_UP, "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 1, "completion_tokens": 1}})

            def do_GET(self) -> None:
                self._record()
                self._send(200, {"data": [{"id": "test-model"}]})

            def do_CONNECT(self) -> None:
                self._record()
                self._send(403, {"error": "this proxy tunnels nothing"})
                self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    recording = RecordingProxy()
    yield recording
    recording.stop()


# The environments a user may well have: each names the recording proxy ({proxy}).
ENVIRONMENTS = {
    "HTTP_PROXY": {"HTTP_PROXY": "{proxy}"},
    "http_proxy": {"http_proxy": "{proxy}"},
    "ALL_PROXY": {"ALL_PROXY": "{proxy}"},
    "all_proxy-NO_PROXY=localhost": {"all_proxy": "{proxy}", "NO_PROXY": "localhost"},
    "all-three-NO_PROXY=localhost": {"HTTP_PROXY": "{proxy}", "HTTPS_PROXY": "{proxy}",
                                     "ALL_PROXY": "{proxy}", "NO_PROXY": "localhost"},
    "without-scheme": {"http_proxy": "{host_port}", "https_proxy": "{host_port}"},
    "ALL_PROXY=socks5": {"ALL_PROXY": "socks5://{host_port}", "no_proxy": ".example.com"},
}


def proxy_env(base: dict[str, str], proxy: RecordingProxy, variables: dict[str, str]
              ) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.lower().endswith("_proxy")}
    for name, value in variables.items():
        env[name] = value.format(proxy=proxy.url, host_port=f"127.0.0.1:{proxy.port}")
    env[KEY_ENV] = KEY
    return env


def local_profiles(server: ModelServer, proxy: RecordingProxy) -> dict[str, dict[str, Any]]:
    """Profiles of a model server on this machine, every way a user may write one, and each
    way of opting in to a proxy: none of them may reach it."""
    port = server.port
    common = {"backend": "openai", "model": "test-model", "fim": "starcoder",
              "api_key_env": KEY_ENV}
    return {
        "loopback": {**common, "url": f"http://127.0.0.1:{port}/v1"},
        "localhost": {**common, "url": f"http://localhost:{port}/v1"},
        "loopback-env": {**common, "url": f"http://127.0.0.1:{port}/v1", "proxy": "env"},
        "localhost-url": {**common, "url": f"http://localhost:{port}/v1", "proxy": proxy.url},
    }


def remote_profiles(proxy: RecordingProxy) -> dict[str, dict[str, Any]]:
    """A remote server, opted in to a proxy both ways: the controls."""
    common = {"backend": "openai", "model": "test-model", "fim": "starcoder",
              "api_key_env": KEY_ENV, "url": REMOTE}
    return {"remote-env": {**common, "proxy": "env"},
            "remote-url": {**common, "proxy": proxy.url}}


# --------------------------------------------------------------------------- the LSP server


@pytest.mark.parametrize("variables", list(ENVIRONMENTS.values()), ids=list(ENVIRONMENTS))
async def test_the_server_never_sends_a_local_request_through_a_proxy(
    variables: dict[str, str], proxy: RecordingProxy, model_server: ModelServer,
    hermetic_env: dict[str, str], workspace: Path,
) -> None:
    model_server.reply = Reply(text="a + b")
    profiles = local_profiles(model_server, proxy)
    options = {"profiles": profiles, "route": {"completion": ["loopback"]},
               "completion": {"debounce_ms": 0}}
    answers = {}
    async with serving(proxy_env(hermetic_env, proxy, variables), root=workspace,
                       init_options=options, configuration={}) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        for name in profiles:
            await switch_route(client, name)
            answers[name] = items_of(await client.text_document_inline_completion_async(
                inline_params(uri, 1, 11)))
        shown = warnings_shown(client)

    assert (proxy.connections, proxy.seen) == (0, [])
    assert answers == {name: ["a + b"] for name in profiles}, shown
    posts = model_server.posts()
    assert len(posts) == len(profiles)
    assert {p.headers["authorization"] for p in posts} == {f"Bearer {KEY}"}


async def test_a_remote_profile_that_opts_in_goes_through_the_proxy(
    proxy: RecordingProxy, model_server: ModelServer, hermetic_env: dict[str, str],
    workspace: Path,
) -> None:
    """The control: the recording proxy does see, and answer, what is sent through it."""
    profiles = remote_profiles(proxy)
    options = {"profiles": profiles, "route": {"completion": ["remote-env"]},
               "completion": {"debounce_ms": 0}}
    env = proxy_env(hermetic_env, proxy, {"HTTP_PROXY": "{proxy}", "NO_PROXY": "localhost"})
    answers = {}
    async with serving(env, root=workspace, init_options=options, configuration={}) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        for name in profiles:
            await switch_route(client, name)
            answers[name] = items_of(await client.text_document_inline_completion_async(
                inline_params(uri, 1, 11)))

    assert answers == {name: [MADE_UP] for name in profiles}
    assert proxy.seen == [Seen("POST", f"{REMOTE}/completions", f"Bearer {KEY}")] * 2
    assert model_server.posts() == []


# --------------------------------------------------------------------------- the CLI


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deskmate.server", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, encoding="utf-8", timeout=60,
                          check=False)


def config_file(tmp_path: Path, profiles: dict[str, dict[str, Any]], route: str) -> Path:
    lines: list[str] = []
    for name, values in profiles.items():
        lines += [f"[profiles.{name}]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
    lines += ["[route]", f"completion = {json.dumps([route])}"]
    path = tmp_path / f"{route}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("variables", list(ENVIRONMENTS.values()), ids=list(ENVIRONMENTS))
def test_the_cli_never_sends_a_local_request_through_a_proxy(
    variables: dict[str, str], proxy: RecordingProxy, model_server: ModelServer,
    hermetic_env: dict[str, str], workspace: Path, tmp_path: Path,
) -> None:
    model_server.reply = Reply(text="a + b")
    (workspace / "m.py").write_text(SOURCE, encoding="utf-8")
    env = proxy_env(hermetic_env, proxy, variables)
    profiles = local_profiles(model_server, proxy)
    outputs = {}
    for name in profiles:
        config = config_file(tmp_path, {name: profiles[name]}, name)
        done = cli(["complete", "m.py:2:12", "--config", str(config), "--workspace",
                    str(workspace)], env, workspace)
        outputs[name] = (done.returncode, done.stdout, done.stderr)
    doctor = cli(["doctor", "--config", str(config_file(tmp_path, profiles, "loopback"))],
                 env, workspace)

    assert (proxy.connections, proxy.seen) == (0, [])
    assert outputs == {name: (0, "a + b\n", "") for name in profiles}
    assert doctor.stdout.count("reachable: yes") == len(profiles), doctor.stdout
    assert {p.headers["authorization"] for p in model_server.posts()} == {f"Bearer {KEY}"}


def test_the_cli_sends_a_remote_profile_through_the_proxy_it_opted_in_to(
    proxy: RecordingProxy, model_server: ModelServer, hermetic_env: dict[str, str],
    workspace: Path, tmp_path: Path,
) -> None:
    """The control, for `complete` and `doctor` (which lists the server's models)."""
    (workspace / "m.py").write_text(SOURCE, encoding="utf-8")
    env = proxy_env(hermetic_env, proxy, {"http_proxy": "{proxy}"})
    profiles = remote_profiles(proxy)
    outputs = {}
    for name in profiles:
        config = config_file(tmp_path, {name: profiles[name]}, name)
        done = cli(["complete", "m.py:2:12", "--config", str(config), "--workspace",
                    str(workspace)], env, workspace)
        outputs[name] = (done.returncode, done.stdout)
    doctor = cli(["doctor", "--config", str(config_file(tmp_path, profiles, "remote-env"))],
                 env, workspace)

    assert outputs == {name: (0, MADE_UP + "\n") for name in profiles}
    assert doctor.stdout.count("reachable: yes") == len(profiles), doctor.stdout
    assert proxy.seen == [Seen("POST", f"{REMOTE}/completions", f"Bearer {KEY}")] * 2 + [
        Seen("GET", f"{REMOTE}/models", f"Bearer {KEY}")] * 2
    assert model_server.posts() == []


def test_an_untrusted_workspace_file_cannot_choose_a_proxy(
    proxy: RecordingProxy, hermetic_env: dict[str, str], workspace: Path,
) -> None:
    (workspace / "m.py").write_text(SOURCE, encoding="utf-8")
    (workspace / ".deskmate.toml").write_text(
        f'[profiles.fast]\nproxy = "{proxy.url}"\n', encoding="utf-8")

    untrusted = cli(["context", "m.py:2:12", "--workspace", str(workspace)], hermetic_env,
                    workspace)
    trusted = cli(["trust", str(workspace)], hermetic_env, workspace)
    after = cli(["context", "m.py:2:12", "--workspace", str(workspace)], hermetic_env,
                workspace)

    assert "not trusted" in untrusted.stderr
    assert "profiles.fast.proxy" in untrusted.stderr
    assert trusted.returncode == 0
    assert "profiles.fast.proxy" not in after.stderr  # the control: trusted, it is read
    assert proxy.connections == 0
