"""Fill prompt templates. Substitution is one pass: text put in is never scanned again, so code
containing `{prefix}` or `{{path}}` comes out exactly as it went in."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Protocol

_FIM_PLACEHOLDER = re.compile(r"\{(prefix|suffix|context)\}")
_SNIPPET_PLACEHOLDER = re.compile(r"\{(path|header|text)\}")
DEFAULT_SNIPPET = "{header}\n{text}"
_CHAT_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_CHAT_SECTION = re.compile(r"^## (system|user|assistant)\s*$", re.MULTILINE)


class SnippetLike(Protocol):
    """A piece of another file (context's `Snippet`), as far as rendering cares."""

    @property
    def path(self) -> str: ...
    @property
    def header(self) -> str: ...
    @property
    def text(self) -> str: ...


def render_snippets(snippets: Sequence[SnippetLike], template: str = DEFAULT_SNIPPET) -> str:
    """The snippets one after the other, each through `template` (one-pass substitution)."""
    return "".join(_fill(_SNIPPET_PLACEHOLDER, template,
                         {"path": s.path, "header": s.header, "text": s.text}) for s in snippets)


def _fill(placeholder: re.Pattern[str], template: str, values: Mapping[str, str]) -> str:
    return placeholder.sub(lambda m: values[m.group(1)], template)


@dataclass(frozen=True)
class FimTemplate:
    family: str
    template: str
    stop: tuple[str, ...]
    snippet: str = DEFAULT_SNIPPET
    current: str = ""
    # How a model's vocabulary shows it belongs to this family (each one token there): its FIM
    # tokens, and the file separator that tells apart families sharing FIM tokens.
    tokens: tuple[str, ...] = ()
    file_separator: str = ""

    def render(self, prefix: str, suffix: str, snippets: Sequence[SnippetLike] = (),
               path: str = "") -> str:
        """The raw prompt, other files' snippets in the family's format: before the FIM
        tokens when the template has {context}, else at the head of the prefix."""
        context = render_snippets(snippets, self.snippet)
        if context and self.current:
            context += _fill(_SNIPPET_PLACEHOLDER, self.current,
                             {"path": path, "header": "", "text": ""})
        if "{context}" not in self.template:
            prefix, context = context + prefix, ""
        return _fill(_FIM_PLACEHOLDER, self.template,
                     {"prefix": prefix, "suffix": suffix, "context": context})


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
    """The families in fim.toml, in its order (`none` is not one: it means chat fill-in)."""
    return tuple(_fim_table())


@cache
def fim_template(family: str) -> FimTemplate:
    """The template of a FIM family; KeyError for an unknown family (config validates names)."""
    entry = _fim_table()[family]
    return FimTemplate(family, str(entry["template"]), _strings(entry, "stop", family),
                       str(entry.get("snippet", DEFAULT_SNIPPET)), str(entry.get("current", "")),
                       _strings(entry, "tokens", family), str(entry.get("file_separator", "")))


def _strings(entry: Mapping[str, object], key: str, family: str) -> tuple[str, ...]:
    values = entry.get(key, [])
    assert isinstance(values, list), f"fim.toml: {family}.{key} must be a list"
    return tuple(str(v) for v in values)


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
