"""FIM templates (prompts/fim.toml) and the chat fill-in prompt (prompts/fill_in.md), golden.

A wrong token in a template does not crash anything: the model just answers badly. So every
family's rendered prompt is pinned character for character."""

from __future__ import annotations

from dataclasses import fields

import pytest

from deskmate.prompts.render import Message, chat_template, fim_families, fim_template
from deskmate.server.backends.local import fim_family
from deskmate.server.config import Profile

PREFIX = "def add(a, b):\n    return "
SUFFIX = "\n\nprint(add(1, 2))\n"

# family -> (rendered prompt for PREFIX/SUFFIX, stop strings)
GOLDEN: dict[str, tuple[str, tuple[str, ...]]] = {
    "starcoder": (
        "<fim_prefix>def add(a, b):\n    return <fim_suffix>\n\nprint(add(1, 2))\n<fim_middle>",
        ("<|endoftext|>", "<file_sep>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>",
         "<repo_name>"),
    ),
    "codellama": (
        "<PRE> def add(a, b):\n    return  <SUF>\n\nprint(add(1, 2))\n <MID>",
        ("<EOT>", "<PRE>", "<SUF>", "<MID>"),
    ),
    "deepseek": (
        "<｜fim▁begin｜>def add(a, b):\n    return <｜fim▁hole｜>\n\nprint(add(1, 2))\n"
        "<｜fim▁end｜>",
        ("<｜end▁of▁sentence｜>", "<|EOT|>", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
    ),
    "qwen": (
        "<|fim_prefix|>def add(a, b):\n    return <|fim_suffix|>\n\nprint(add(1, 2))\n"
        "<|fim_middle|>",
        ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>",
         "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    ),
    "codestral": (
        "[SUFFIX]\n\nprint(add(1, 2))\n[PREFIX]def add(a, b):\n    return ",
        ("</s>", "[PREFIX]", "[SUFFIX]"),
    ),
    "codegemma": (
        "<|fim_prefix|>def add(a, b):\n    return <|fim_suffix|>\n\nprint(add(1, 2))\n"
        "<|fim_middle|>",
        ("<|file_separator|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<eos>"),
    ),
}


def test_every_family_the_config_accepts_has_a_template_and_a_golden() -> None:
    fim = next(f for f in fields(Profile) if f.name == "fim")

    assert set(fim.metadata["choices"]) == set(fim_families()) | {"none"}
    assert set(fim_families()) == set(GOLDEN)


@pytest.mark.parametrize("family", sorted(GOLDEN))
def test_rendered_prompt_is_exactly_the_familys_format(family: str) -> None:
    expected_prompt, expected_stop = GOLDEN[family]
    template = fim_template(family)

    assert template.family == family
    assert template.render(PREFIX, SUFFIX) == expected_prompt
    assert template.stop == expected_stop


@pytest.mark.parametrize("family", sorted(GOLDEN))
def test_placeholders_inside_the_code_are_passed_through(family: str) -> None:
    """One-pass substitution: code that looks like a placeholder is code, not a placeholder."""
    prefix = 'fmt = "{suffix} and {prefix}"\nre = r"\\1\\g<0>"\n'
    suffix = "\nf'{prefix}{{suffix}}'\n"
    rendered = fim_template(family).render(prefix, suffix)

    expected_prompt, _ = GOLDEN[family]
    expected = expected_prompt.replace(PREFIX, "\0P").replace(SUFFIX, "\0S")
    expected = expected.replace("\0P", prefix).replace("\0S", suffix)
    assert rendered == expected


def test_placeholder_passthrough_golden() -> None:
    rendered = fim_template("starcoder").render("a = '{suffix}'\n", "b = '{prefix}'\n")
    assert rendered == "<fim_prefix>a = '{suffix}'\n<fim_suffix>b = '{prefix}'\n<fim_middle>"


def test_empty_prefix_and_suffix_leave_only_the_tokens() -> None:
    assert fim_template("starcoder").render("", "") == "<fim_prefix><fim_suffix><fim_middle>"
    assert fim_template("codestral").render("", "") == "[SUFFIX][PREFIX]"


def test_unknown_family_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        fim_template("none")


# --------------------------------------------------------------------------- family tokens

# family -> (FIM tokens, file separator), as the families' vocabularies spell them.
TOKENS: dict[str, tuple[tuple[str, ...], str]] = {
    "starcoder": (("<fim_prefix>", "<fim_suffix>", "<fim_middle>"), "<file_sep>"),
    "codellama": (("<PRE>", "<SUF>", "<MID>"), ""),
    "deepseek": (("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"), ""),
    "qwen": (("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"), "<|file_sep|>"),
    "codestral": (("[PREFIX]", "[SUFFIX]"), ""),
    "codegemma": (("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"), "<|file_separator|>"),
}


@pytest.mark.parametrize("family", sorted(GOLDEN))
def test_each_family_names_its_tokens(family: str) -> None:
    template = fim_template(family)

    assert (template.tokens, template.file_separator) == TOKENS[family]
    assert all(token in template.template for token in template.tokens)
    if template.file_separator:  # the model writes it when it moves on to another file
        assert template.file_separator in template.stop


def vocabulary(*tokens: str) -> set[str]:
    """A model's special tokens, plus some every vocabulary has."""
    return {"<|endoftext|>", "<s>", "</s>", *tokens}


@pytest.mark.parametrize("family", sorted(GOLDEN))
def test_a_model_with_a_familys_tokens_is_that_family(family: str) -> None:
    tokens, separator = TOKENS[family]
    vocab = vocabulary(*tokens, *([separator] if separator else []))

    assert fim_family(vocab.__contains__) == family


def test_codegemma_and_qwen_share_fim_tokens_and_the_file_separator_decides() -> None:
    shared = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")

    assert fim_family(vocabulary(*shared, "<|file_separator|>").__contains__) == "codegemma"
    assert fim_family(vocabulary(*shared, "<|file_sep|>").__contains__) == "qwen"
    assert fim_family(vocabulary(*shared).__contains__) == "qwen"  # a tie: fim.toml's order


def test_a_model_without_the_file_separator_still_has_its_fim_tokens() -> None:
    """StarCoder 1 and SantaCoder have the FIM tokens but not StarCoder2's <file_sep>."""
    vocab = vocabulary("<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_pad>")

    assert fim_family(vocab.__contains__) == "starcoder"


@pytest.mark.parametrize("vocab", [
    vocabulary(),
    vocabulary("<fim_prefix>", "<fim_suffix>"),  # one token short
    vocabulary("<|fim_prefix|>", "<|fim_middle|>", "<|file_separator|>"),
])
def test_a_model_without_a_whole_set_of_fim_tokens_has_no_family(vocab: set[str]) -> None:
    assert fim_family(vocab.__contains__) == ""


# --------------------------------------------------------------------------- chat fill-in

FILL_IN_VALUES = {"context": "", "path": "src/calc.py", "language": "python", "prefix": PREFIX,
                  "suffix": SUFFIX}


def test_fill_in_prompt_is_a_system_and_a_user_message() -> None:
    system, user = chat_template("fill_in").render(FILL_IN_VALUES)

    assert system.role == "system"
    assert system.content.startswith("You are a code completion engine inside an editor.")
    assert "<CURSOR>" in system.content
    assert "<completion>" in system.content
    assert "</completion>" in system.content
    assert "{{" not in system.content
    assert user == Message(
        "user",
        "File `src/calc.py` (python):\n\n"
        "def add(a, b):\n    return <CURSOR>\n\nprint(add(1, 2))\n",
    )


def test_fill_in_code_with_template_syntax_stays_literal() -> None:
    values = {**FILL_IN_VALUES, "prefix": 'tpl = "{{path}} {{language}}"\nx = ',
              "suffix": "  # {{suffix}} {{unknown}}\n"}
    _, user = chat_template("fill_in").render(values)

    assert user.content == (
        "File `src/calc.py` (python):\n\n"
        'tpl = "{{path}} {{language}}"\nx = <CURSOR>  # {{suffix}} {{unknown}}\n'
    )


def test_fill_in_missing_value_leaves_the_placeholder_visible() -> None:
    _, user = chat_template("fill_in").render({"prefix": "a", "suffix": "b"})

    assert user.content == "{{context}}File `{{path}}` ({{language}}):\n\na<CURSOR>b"
