"""Settings reach the server from the config file, initializationOptions and
workspace/configuration, later ones winning; a bad file costs one message, not the server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from deskmate.server.trust import set_trust
from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import fast_profile, inline_params, open_doc, running_client

SOURCE = "def add(a, b):\n    return \n"


def profile_file(server: ModelServer, backend: str = "ollama") -> str:
    return (f'[profiles.team]\nbackend = "{backend}"\nurl = "{server.url}"\nmodel = "test-model"\n'
            '[route]\ncompletion = ["team"]\n[completion]\ndebounce_ms = 0\n')


async def complete_once(client, workspace: Path) -> list[str]:
    uri = open_doc(client, workspace / "m.py", SOURCE)
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
    assert isinstance(result, types.InlineCompletionList)
    return [str(item.insert_text) for item in result.items]


def trust(workspace: Path, env: dict[str, str]) -> None:
    """What `deskmate trust DIR` does, in the test's own config folder."""
    assert set_trust(workspace, True, env)


async def test_workspace_config_file_is_used_when_trusted(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    model_server.reply = Reply(text="a + b")
    (workspace / ".deskmate.toml").write_text(profile_file(model_server))
    trust(workspace, hermetic_env)
    async with running_client(hermetic_env, root=workspace) as client:
        items = await complete_once(client, workspace)

    assert items == ["a + b"]
    assert [p.path for p in model_server.posts()] == ["/api/generate"]


async def test_editor_settings_override_the_file_and_configuration_wins(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    model_server.reply = Reply(text="a + b")
    (workspace / ".deskmate.toml").write_text(profile_file(model_server))  # ollama
    trust(workspace, hermetic_env)
    init_options = {"profiles": {"team": {"backend": "llamacpp"}}}  # overrides the backend only
    configuration = {"profiles": {"team": {"backend": "mistral", "api_key_env": ""}}}
    async with running_client(hermetic_env, root=workspace, init_options=init_options) as first:
        items_init = await complete_once(first, workspace)
    async with running_client(hermetic_env, root=workspace, init_options=init_options,
                              configuration=configuration) as second:
        items_conf = await complete_once(second, workspace)

    assert items_init == items_conf == ["a + b"]
    # The file's url and model stayed; only the backend changed, key by key.
    assert [p.path for p in model_server.posts()] == ["/infill", "/v1/fim/completions"]
    assert model_server.posts()[1].body["model"] == "test-model"


async def test_configuration_change_takes_effect_without_restart(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    model_server.reply = Reply(text="a + b")
    async with running_client(hermetic_env, root=workspace, init_options=fast_profile(
            model_server), configuration={}) as client:
        await complete_once(client, workspace)
        client.set_configuration({"profiles": {"fast": {"backend": "ollama",
                                                        "url": model_server.url}}},
                                 section="deskmate")
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings=None))
        await asyncio.sleep(0.3)
        uri = (workspace / "m.py").as_uri()
        result = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))

    assert isinstance(result, types.InlineCompletionList)
    assert [p.path for p in model_server.posts()] == ["/v1/completions", "/api/generate"]


async def test_invalid_config_file_names_key_and_line_and_server_still_serves(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    model_server.reply = Reply(text="a + b")
    (workspace / ".deskmate.toml").write_text(
        '# team settings\n[context]\nwindow = "big"\nreserve_output = 512\n')
    async with running_client(hermetic_env, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        items = await complete_once(client, workspace)
        await asyncio.sleep(0.2)
        shown = [m.message for m in client.messages]

    assert items == ["a + b"]
    [message] = shown
    assert ".deskmate.toml, line 3" in message
    assert "context.window" in message


async def test_unparseable_config_file_is_ignored_with_one_message(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    model_server.reply = Reply(text="a + b")
    # The file would route to an undefined profile; it does not parse, so it is ignored and
    # the editor's settings apply on top of the defaults.
    (workspace / ".deskmate.toml").write_text('[route]\ncompletion = ["team"]]\n')
    async with running_client(hermetic_env, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        items = await complete_once(client, workspace)
        await asyncio.sleep(0.2)
        shown = [m.message for m in client.messages]

    assert items == ["a + b"]
    [message] = shown
    assert ".deskmate.toml" in message
    assert "line 2" in message
    assert "ignored" in message


async def test_an_untrusted_workspace_file_cannot_choose_where_code_goes(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    # A cloned repository tries to send the code, with the user's key, to a server of its
    # choosing; the same repository may still tune the context.
    (workspace / ".deskmate.toml").write_text(
        f'[profiles.team]\nbackend = "ollama"\nurl = "{model_server.url}"\n'
        'api_key_env = "OPENAI_API_KEY"\nmodel = "test-model"\n'
        '[route]\ncompletion = ["team"]\n[context]\nwindow = 4096\n')
    async with running_client(hermetic_env, root=workspace) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        report = await client.protocol.send_request_async("deskmate/context", {
            "textDocument": {"uri": uri}, "position": {"line": 1, "character": 11}})
        await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
        await asyncio.sleep(0.2)
        shown = [m.message for m in client.messages]

    assert model_server.posts() == []  # nothing went to the repository's server
    trust_messages = [m for m in shown if "not trusted" in m]
    assert len(trust_messages) == 1
    [message] = trust_messages
    assert str(workspace / ".deskmate.toml") in message
    assert "route" in message
    assert "profiles.team.url" in message
    assert "profiles.team.api_key_env" in message
    assert f"deskmate trust {workspace}" in message
    assert report.budget == 4096 - 1024 - 32  # the context settings did apply
