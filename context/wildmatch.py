"""One gitignore pattern, compiled so that no file name can make matching slow.

git matches patterns with wildmatch, which never backtracks more than one star at a time;
Python's `re` backtracks every star, so `*a*a*a*a*a*a*ab` against a long name of `a`s took
seconds (and a repository chooses both the pattern and the names). Each pattern is therefore
compiled twice from one list of tokens:

- `Glob.regex`, the pattern as a regular expression. `ignore.py` joins the regexes of an
  ignore file into one, which is fast, but only for patterns that cannot backtrack badly
  (`Glob.safe`): at most one star per path segment and at most one `**/` (counting the
  implicit one in front of a pattern without a slash). That is nearly every pattern written.
- `Glob.matches`, a matcher whose work grows with the path's length times the pattern's, for
  the others. Inside a segment, the text between stars has a fixed length, so the leftmost
  place for each piece is always a right one (the two-pointer idea of wildmatch, with
  `str.find`); across segments, `**/` is the star and each stretch of segments between two
  `**/` has a fixed number of segments, so the same leftmost search places them.

Syntax (git's): `*`, `?`, `**` as a whole segment, bracket expressions with POSIX classes,
backslash escapes. A bracket expression, `?` and `*` never match '/'.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Glob", "compile_glob"]

# A POSIX bracket class inside a gitignore range, as regex class contents.
_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "blank": " \\t", "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9", "graph": "\\x21-\\x7e", "lower": "a-z", "print": "\\x20-\\x7e",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"), "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z", "xdigit": "0-9A-Fa-f",
}

# Token kinds. CHAR: one character (its regex in the value); STAR: `*` within a segment;
# SEP: '/'; DIRS: a whole-segment `**/` (no folder or any number of them, the slash
# included); REST: a whole-segment `**` at the end (everything below).
CHAR, STAR, SEP, DIRS, REST = "char", "star", "sep", "dirs", "rest"
_Token = tuple[str, str]


def _translate_class(pat: str, i: int) -> tuple[str, int] | None:
    """The bracket expression starting at pat[i] == '[' as a regex, and the index after it;
    None when it is malformed (git's wildmatch then matches nothing)."""
    n = len(pat)
    j = i + 1
    negated = j < n and pat[j] in "!^"
    if negated:
        j += 1
    items: list[str] = []
    first = True
    while j < n and (pat[j] != "]" or first):
        first = False
        c = pat[j]
        if c == "[" and pat.startswith("[:", j):
            end = pat.find(":]", j + 2)
            if end < 0:
                return None
            cls = _POSIX_CLASSES.get(pat[j + 2:end])
            if cls is None:
                return None
            items.append(cls)
            j = end + 2
            continue
        if c == "\\":
            j += 1
            if j >= n:
                return None
            c = pat[j]
        lo = c
        j += 1
        if j + 1 < n and pat[j] == "-" and pat[j + 1] != "]":
            hi = pat[j + 1]
            j += 2
            if hi == "\\":
                if j >= n:
                    return None
                hi = pat[j]
                j += 1
            if hi < lo:
                return None
            items.append(f"{re.escape(lo)}-{re.escape(hi)}")
        else:
            items.append(re.escape(lo))
    if j >= n:
        return None  # no closing ']'
    body = "".join(items)
    # A bracket expression never matches '/'.
    return (f"[^/{body}]" if negated else f"(?!/)[{body}]"), j + 1


def _literal_head(pat: str) -> int:
    """The length of the pattern before its first wildcard or escape."""
    for i, c in enumerate(pat):
        if c in "*?[\\":
            return i
    return len(pat)


def _tokens(pat: str, anchored: bool) -> tuple[list[_Token], int] | None:
    """The pattern's tokens, and the length of a literal head that git compares as a plain
    string (0 unless a `**` follows it inside a segment); None if it can never match."""
    out: list[_Token] = []
    i, n = 0, len(pat)
    # git compares an anchored pattern's literal head as a plain string and wildmatches the
    # rest as a pattern of its own, so a '**' right after the head counts as the start of a
    # segment: 'a**/b' matches 'ab' and 'a/x/b' (checked against git 2.39).
    head = _literal_head(pat) if anchored else -1
    split = 0
    while i < n:
        c = pat[i]
        if c == "*":
            j = i
            while j < n and pat[j] == "*":
                j += 1
            whole_segment = ((i == 0 or i == head or pat[i - 1] == "/")
                             and (j == n or pat[j] == "/"))
            if j - i >= 2 and whole_segment:
                if i == head and i > 0 and pat[i - 1] != "/":
                    split = head
                out.append((REST, "") if j == n else (DIRS, ""))
                j += j < n
            else:
                out.append((STAR, ""))
            i = j
        elif c == "?":
            out.append((CHAR, "[^/]"))
            i += 1
        elif c == "[":
            cls = _translate_class(pat, i)
            if cls is None:
                return None
            out.append((CHAR, cls[0]))
            i = cls[1]
        elif c == "\\":
            if i + 1 >= n:
                return None  # a trailing backslash: git's pattern matches nothing
            out.append((SEP, "") if pat[i + 1] == "/" else (CHAR, re.escape(pat[i + 1])))
            i += 2
        else:
            out.append((SEP, "") if c == "/" else (CHAR, re.escape(c)))
            i += 1
    return out, split


_REGEX = {STAR: "[^/]*", SEP: "/", DIRS: "(?:.*/)?", REST: ".*"}


# --------------------------------------------------------------------------- linear matching


class _Piece:
    """Fixed-length text between two stars of one segment: a plain string, or a small regex
    without stars (so it never backtracks more than its own length)."""

    __slots__ = ("length", "literal", "regex")

    def __init__(self, tokens: Sequence[_Token]) -> None:
        self.length = len(tokens)
        texts = [t[1] for t in tokens]
        plain = all(len(t) == 1 or (len(t) == 2 and t[0] == "\\") for t in texts)
        self.literal = "".join(t[-1] for t in texts) if plain else None
        self.regex = None if plain else re.compile("".join(texts), re.DOTALL)

    def at(self, text: str, pos: int) -> bool:
        if self.literal is not None:
            return text.startswith(self.literal, pos)
        return self.regex is not None and self.regex.match(text, pos) is not None

    def find(self, text: str, pos: int, end: int) -> int:
        """The leftmost place in text[pos:end] where the piece fits, or -1."""
        if self.literal is not None:
            return text.find(self.literal, pos, end)
        m = self.regex.search(text, pos, end) if self.regex is not None else None
        return -1 if m is None else m.start()


class _Segment:
    """The pattern of one path segment: pieces joined by stars."""

    __slots__ = ("pieces",)

    def __init__(self, tokens: Sequence[_Token]) -> None:
        pieces: list[list[_Token]] = [[]]
        for token in tokens:
            if token[0] == STAR:
                pieces.append([])
            else:
                pieces[-1].append(token)
        self.pieces = [_Piece(p) for p in pieces]

    def __call__(self, text: str) -> bool:
        pieces = self.pieces
        first, last = pieces[0], pieces[-1]
        if len(pieces) == 1:
            return len(text) == first.length and first.at(text, 0)
        low, high = first.length, len(text) - last.length
        if high < low or not first.at(text, 0) or not last.at(text, high):
            return False
        for piece in pieces[1:-1]:  # the leftmost fit of each leaves the most room for the rest
            found = piece.find(text, low, high)
            if found < 0:
                return False
            low = found + piece.length
        return True


_Stretch = list[Callable[[str], bool]]  # consecutive segments, one matcher each


def _fits(stretch: _Stretch, parts: list[str], at: int) -> bool:
    return all(match(parts[at + k]) for k, match in enumerate(stretch))


def _place(stretches: list[_Stretch], parts: list[str]) -> bool:
    """Whether the path's segments match stretches joined by `**/` (each: no folder or any
    number of them): the first at the start, the last at the end, the others leftmost."""
    first, last = stretches[0], stretches[-1]
    if len(stretches) == 1:
        return len(parts) == len(first) and _fits(first, parts, 0)
    low, high = len(first), len(parts) - len(last)
    if high < low or not _fits(first, parts, 0) or not _fits(last, parts, high):
        return False
    for stretch in stretches[1:-1]:
        while True:
            if low + len(stretch) > high:
                return False
            if _fits(stretch, parts, low):
                break
            low += 1
        low += len(stretch)
    return True


def _any_segment(text: str) -> bool:
    return True


# --------------------------------------------------------------------------- the pattern


@dataclass(frozen=True, slots=True)
class Glob:
    """One compiled pattern: `regex` (fullmatch semantics) and `matches`, which agree on
    every path; `safe` says whether the regex is also quick on every path."""

    regex: str
    safe: bool
    head: str  # a literal head compared as a plain string ('' when there is none)
    stretches: list[_Stretch]

    def matches(self, path: str) -> bool:
        if not self.head and len(self.stretches) == 2 and not self.stretches[0] and \
                len(self.stretches[1]) == 1:  # a bare name: the last segment decides
            return self.stretches[1][0](path[path.rfind("/") + 1:])
        if self.head:
            if not path.startswith(self.head):
                return False
            path = path[len(self.head):]
        return _place(self.stretches, path.split("/"))


def compile_glob(pat: str, anchored: bool) -> Glob | None:
    """A gitignore pattern body (no '!', no trailing '/', no leading '/') matching paths
    relative to the ignore file's folder; None if it can never match."""
    parsed = _tokens(pat, anchored)
    if parsed is None:
        return None
    tokens, split = parsed
    head = pat[:split]
    if split:  # the head as a plain string, then the rest starting a segment
        tokens = tokens[split:]
    regex = re.escape(head) + "".join(_REGEX.get(kind, value) for kind, value in tokens)
    if not anchored:
        tokens = [(DIRS, ""), *tokens]  # a bare name matches at any depth
        regex = "(?:.*/)?" + regex
    try:
        re.compile(regex)
    except re.error:
        return None
    stretches: list[_Stretch] = [[]]
    segment: list[_Token] | None = []
    most_stars = 0
    for token in tokens:
        kind = token[0]
        if kind in (SEP, DIRS, REST) and segment is not None and (kind == SEP or segment):
            stretches[-1].append(_Segment(segment))
            most_stars = max(most_stars, sum(t[0] == STAR for t in segment))
        if kind == SEP:
            segment = []
        elif kind == DIRS:
            stretches.append([])
            segment = []
        elif kind == REST:  # one segment, then any number more
            stretches[-1].append(_any_segment)
            stretches.append([])
            segment = None
        elif segment is not None:
            segment.append(token)
    if segment is not None:
        stretches[-1].append(_Segment(segment))
        most_stars = max(most_stars, sum(t[0] == STAR for t in segment))
    dirs = sum(t[0] == DIRS for t in tokens)
    return Glob(regex=regex, safe=dirs <= 1 and most_stars <= 1, head=head,
                stretches=stretches)
