"""Shared fixtures: a real HTTP model server on 127.0.0.1, and a hermetic environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.model_server import ModelServer, Reply


@pytest.fixture(scope="session")
def model_server_session() -> Iterator[ModelServer]:
    server = ModelServer().start()
    yield server
    server.stop()


@pytest.fixture
def model_server(model_server_session: ModelServer) -> ModelServer:
    """The shared model server, reset: no recorded requests, default reply."""
    model_server_session.clear()
    model_server_session.reply = Reply()
    model_server_session.models = ["test-model"]
    return model_server_session


@pytest.fixture
def hermetic_env(tmp_path: Path) -> dict[str, str]:
    """An environment with no user config, no cache and no API keys from the developer."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and k != "DESKMATE_CONFIG"}
    home = tmp_path / "home"
    home.mkdir()
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_STATE_HOME=str(home / ".state"))
    return env
