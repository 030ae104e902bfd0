"""Fill prompt templates. Substitution is one pass: text put in is never scanned again, so code
containing `{prefix}` or `{{path}}` comes out exactly as it went in."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

_FIM_PLACEHOLDER = re.compile(r"\{(prefix|suffix)\}")
_CHAT_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_CHAT_SECTION = re.compile(r"^## (system|user|assistant)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class FimTemplate:
    family: str
    template: str
    stop: tuple[str, ...]

    def render(self, prefix: str, suffix: str) -> str:
        values = {"prefix": prefix, "suffix": suffix}
        return _FIM_PLACEHOLDER.sub(lambda m: values[m.group(1)], self.template)


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class ChatTemplate:
    name: str
    sections: tuple[Message, ...]

    def render(self, values: Mapping[str, str]) -> tuple[Message, ...]:
        def fill(text: str) -> str:
            return _CHAT_PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
        return tuple(Message(s.role, fill(s.content)) for s in self.sections)


def fim_families() -> tuple[str, ...]:
    return tuple(_fim_table())


def fim_template(family: str) -> FimTemplate:
    """The template of a FIM family; KeyError for an unknown family (config validates names)."""
    entry = _fim_table()[family]
    stop = entry["stop"]
    assert isinstance(stop, list), f"fim.toml: {family}.stop must be a list"
    return FimTemplate(family, str(entry["template"]), tuple(str(s) for s in stop))


@cache
def chat_template(name: str) -> ChatTemplate:
    """A chat prompt from `<name>.md`: `## system` / `## user` headings split the messages."""
    text = resources.files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8")
    parts = _CHAT_SECTION.split(text)
    # split() gives [preamble, role, body, role, body, ...]; the preamble is documentation.
    sections = tuple(
        Message(role, body.strip("\n")) for role, body in zip(parts[1::2], parts[2::2], strict=True)
    )
    return ChatTemplate(name, sections)


@cache
def _fim_table() -> Mapping[str, Mapping[str, object]]:
    text = resources.files(__package__).joinpath("fim.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)
