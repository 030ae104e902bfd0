"""What Deskmate knows about each backend, in one table.

Config validation (which `backend` names exist, a profile's default `url` and `api_key_env`),
`create_backend`'s dispatch, the model listing `doctor` asks for and the FIM line it prints all
read this table, so a new backend, or a changed default, is one entry here plus its protocol
module. This module imports nothing from Deskmate: `config` reads it while it is still loading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

# How a completion reaches the model:
#   server    the server applies the model's FIM format itself (prefix and suffix go as such)
#   template  the profile's `fim` family is rendered here; `fim = "none"` uses chat fill-in
#   chat      always through the chat fill-in prompt (prompts/fill_in.md)
#   model     in this process, with the model's own FIM tokens when its vocabulary has them
FimMode = Literal["server", "template", "chat", "model"]

LOCAL = "local"  # the in-process backend, and the built-in profile that uses it


@dataclass(frozen=True, kw_only=True)
class BackendFacts:
    """One backend. Its protocol lives in `server/backends/<name>.py`, class `class_name`."""

    name: str
    class_name: str
    default_url: str  # where a profile that sets no `url` sends its requests
    models_path: str = ""  # appended to the url to list the server's models ('' : no server)
    key_env: str = ""  # the `api_key_env` of a profile that names none
    fim: FimMode = "server"
    fim_detail: str = ""  # for `server`: what applies the format, as doctor says it

    @property
    def native_fim(self) -> bool:
        """Whether the server itself wraps prefix and suffix in the model's FIM tokens."""
        return self.fim == "server"

    @property
    def in_process(self) -> bool:
        """Whether the model runs inside Deskmate: nothing to reach, no key, no url."""
        return self.fim == "model"


BACKENDS: Mapping[str, BackendFacts] = MappingProxyType({facts.name: facts for facts in (
    BackendFacts(name="openai", class_name="OpenAIBackend",
                 default_url="http://127.0.0.1:8080/v1", models_path="/models", fim="template"),
    BackendFacts(name="ollama", class_name="OllamaBackend",
                 default_url="http://127.0.0.1:11434", models_path="/api/tags",
                 fim_detail="Ollama applies the model's template"),
    BackendFacts(name="llamacpp", class_name="LlamaCppBackend",
                 default_url="http://127.0.0.1:8080", models_path="/v1/models",
                 fim_detail="/infill applies the model's FIM tokens"),
    BackendFacts(name="anthropic", class_name="AnthropicBackend",
                 default_url="https://api.anthropic.com", models_path="/v1/models",
                 key_env="ANTHROPIC_API_KEY", fim="chat"),
    BackendFacts(name="mistral", class_name="MistralBackend",
                 default_url="https://codestral.mistral.ai", models_path="/v1/models",
                 key_env="MISTRAL_API_KEY", fim_detail="/v1/fim/completions"),
    BackendFacts(name=LOCAL, class_name="LocalBackend", default_url="", fim="model"),
)})
