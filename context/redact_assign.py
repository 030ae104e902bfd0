"""Secrets known by their names (`redact.py` runs these): a value given to a secret-looking
name, however the format writes the pair —

- assignments and mappings: `password = "…"`, `"api_key": "…"`, `SECRET_KEY=…` (.env),
  `password = …` unquoted (INI, .properties, WireGuard's `PrivateKey = …`), `password: …`
  (YAML), `{:password => '…'}`, `define('DB_PASSWORD', '…')` (a quoted name, a comma, a
  quoted value), and a value split into literals (`"abc" + "def"`, `"abc" "def"`, over lines);
- connection strings: `…;Password=…;`, Azure's `AccountKey=…`;
- URL queries: `?api_key=…&`;
- XML: `<password>…</password>`, `<add key="DbPassword" value="…"/>`,
  `<entry key="api.token">…</entry>`;
- values inside a secret-named mapping or list (`"tokens": {"ci": "…"}`, YAML `secrets:`
  and its indented block), a Kubernetes `kind: Secret`'s `data`, a JWK's private members.

Only names around the keywords below are parsed, so ordinary text costs a few `str.find`s."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from deskmate.context.redact_rules import Secret
from deskmate.context.redact_values import (
    looks_random,
    looks_secret,
    password_name,
    password_value,
    secret_name,
)

# Every secret-looking name contains one of these (lower-cased); only names around them are
# parsed.
_KEYWORDS = ("pass", "pwd", "secret", "token", "key", "credential")
_NAME_CHARS = frozenset("_.$-@")
MAX_NAME_CHARS = 128
_MAX_LINE_CHARS = 1024  # an assignment is read this far at most (a 5 MB line stays linear)
_MAX_BLOCK_CHARS = 8192  # a secret-named mapping's block is read this far at most
_MAX_PIECES = 64  # literals of one split value

_ASSIGNMENT = re.compile(r"""
    (?P<name>[A-Za-z_$@][\w.$-]{0,127}+)
    (?P<kq>["'`]?)\]?                                   # "api_key": / config["api_key"] =
    (?:[ \t]*:[ \t]*[A-Za-z_][\w.\[\], |]{0,40}?(?=[ \t]*=))?   # password: str = "..."
    (?P<ws>[ \t]*)(?P<op>=>|:=|[=!]=|=|:|,)[ \t]*
    (?:
        (?P<paren>\([ \t]*)?[rRbBuU]{0,2}(?P<vq>["'`])
        (?P<quoted>(?:(?!(?P=vq))[^\s\\«»]){1,512})(?:(?P<closed>(?P=vq))|(?=\s*$))
      | (?P<bare>(?!\[)[^\s"'`{}<>«»]{1,512})(?=[ \t\r]*$|[ \t]+\#)  # to the line's end
      | (?P<block>[\[{]|[ \t]*(?:\#[^\n]*)?$)             # a mapping or list follows
    )
""", re.VERBOSE | re.MULTILINE)
# The next literal of a split value: `+` (most languages), `.` (PHP), `&` (VB), `||` (SQL),
# or nothing (C, Python); over a line break only with an operator, a backslash or a paren.
_PIECE = re.compile(r"""(?P<gap>[ \t]*(?:[+.&]|\|\|)?[ \t]*(?:\\?\r?\n[ \t]*(?:[+.&]|\|\|)?
    [ \t]*)?)[rRbBuU]{0,2}(?P<q>["'`])(?P<piece>(?:(?!(?P=q))[^\s\\«»]){1,512})(?P=q)""",
                    re.VERBOSE)
_ATTRIBUTE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_ENV_LINE_START = re.compile(r"(?:export[ \t]+)?$")  # NAME=value, first on its line
_YAML_LINE_START = re.compile(r"[ \t]*(?:-[ \t]+)?$")  # name: value, maybe indented
_AWS_SECRET_NAME = re.compile(r"(?i)aws.{0,24}secret|secret.?access.?key")
_AWS_SECRET_VALUE = re.compile(r"[A-Za-z0-9/+]{40}")
# `…;Password=…;`: a value up to the next `;`, quote or line end.
_PAIR = re.compile(r"(?P<name>[A-Za-z][\w.-]{0,63})=(?P<value>[^;\"'`\r\n]{1,512}?)"
                   r"[ \t]*(?=;|[\"'`]|\r?\n|$)")
_NEXT_PAIR = re.compile(r";[ \t]*[A-Za-z][\w .-]{0,63}=")
_QUERY = re.compile(r"(?P<name>[A-Za-z][\w.\[\]-]{0,63})=(?P<value>[^&#\s\"'`<>]{1,512})")
_ELEMENT = re.compile(r"""(?P<name>[A-Za-z_][\w.-]{0,127})(?:\s[^<>]{0,256})?>[ \t]*
    (?:<!\[CDATA\[(?P<cdata>[^\]]{1,512})\]\]>|(?P<value>[^<>\r\n]{1,512}))[ \t]*
    </(?:[\w.-]+:)?(?P=name)[ \t]*>""", re.VERBOSE)
_NAMED_BY = re.compile(r"(?i)(?:key|name)[ \t]*=[ \t]*$")
_NAMED_VALUE = re.compile(r"""(?P<q>["'])(?:[ \t]+[\w:-]+[ \t]*=[ \t]*["'][^"'<>]*["'])*?
    [ \t]+(?i:value)[ \t]*=[ \t]*(?P<vq>["'])(?P<value>[^"'<>\r\n]{1,512})(?P=vq)
  | (?P<q2>["'])[^<>]{0,256}?>[ \t]*(?P<text>[^<>\r\n]{1,512})</""", re.VERBOSE)


def find_named(text: str) -> Iterator[Secret]:
    """Secrets given to secret-looking names, in every format above."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters lower-case to two; keep offsets exact
        lowered = "".join(c.lower()[0] for c in text)
    starts: set[int] = set()
    for keyword in _KEYWORDS:
        at = lowered.find(keyword)
        while at >= 0:
            start, limit = at, max(0, at - MAX_NAME_CHARS)
            while start > limit and (text[start - 1].isalnum() or text[start - 1] in _NAME_CHARS):
                start -= 1
            while start < at and text[start] in ".-":
                start += 1  # `--password=`, `.token`: the name starts after them
            starts.add(start)
            at = lowered.find(keyword, at + len(keyword))
    for start in sorted(starts):
        yield from _named_at(text, start)
    if "kind" in text and "Secret" in text:
        yield from _kubernetes_secrets(text)
    if '"kty"' in text:
        yield from _jwk_private_members(text)


def _line_end(text: str, start: int) -> int:
    end = text.find("\n", start, start + _MAX_LINE_CHARS)
    return min(len(text), start + _MAX_LINE_CHARS) if end < 0 else end


def _named_at(text: str, start: int) -> Iterator[Secret]:
    """The secrets a name starting at `start` gives a value to, in whichever form it has."""
    line_end = _line_end(text, start)
    before = text[start - 1] if start > 0 else "\n"
    match = _ASSIGNMENT.match(text, start, line_end)
    if match is not None:
        if match.group("block") is not None:
            if _holds_secrets(match.group("name")) and _opens_block(text, match):
                yield from _block_values(text, match, _token_value)
            return
        if (secret := _assigned(text, match)) is not None:
            yield secret
            return
    if before in "?&":
        query = _QUERY.match(text, start, line_end)
        if query is not None and secret_name(query.group("name")) and \
                looks_random(query.group("value"), min_chars=8):
            yield Secret(query.start("value"), query.end("value"), "url_parameter")
        return
    if before in "<:":
        element = _ELEMENT.match(text, start, min(len(text), start + _MAX_LINE_CHARS))
        if element is not None and secret_name(element.group("name")):
            group = "cdata" if element.group("cdata") is not None else "value"
            if _field_value(element.group("name"), element.group(group)):
                yield Secret(element.start(group), element.end(group), "xml")
        return
    if before in "\"'" and _NAMED_BY.search(text, max(0, start - 24), start - 1):
        yield from _named_by_attribute(text, start, line_end)
        return
    pair = _PAIR.match(text, start, line_end)
    if pair is not None and _connection_value(pair.group("name"), pair.group("value")) and \
            _in_connection_string(text, pair):
        yield Secret(pair.start("value"), pair.end("value"), "connection_string")


def _connection_value(name: str, value: str) -> bool:
    """A password in a connection string is any literal; another secret-named field (Azure's
    `AccountKey`, `SharedAccessKey`) a random-looking one. A bare `key=` is a cookie's or a
    map's, not a credential."""
    if password_name(name):
        return password_value(value)
    return secret_name(name) and name.lower() != "key" and looks_random(value, min_chars=8)


def _assigned(text: str, match: re.Match[str]) -> Secret | None:
    name, op, quoted = match.group("name"), match.group("op"), match.group("quoted")
    if op == "," and not _call_pair(text, match):
        return None  # `f(token, "…")`, `["a_key", "…"]`: arguments, items, not a pair
    if quoted is not None:
        start, end, value = match.start("quoted"), match.end("quoted"), quoted
        if match.group("closed") is not None:
            end, value = _joined(text, match, end, value)
    else:
        start, end, value = match.start("bare"), match.end("bare"), match.group("bare")
        if not _bare_literal(text, match, value):
            return None
    if _AWS_SECRET_NAME.search(name) and _AWS_SECRET_VALUE.fullmatch(value):
        return Secret(start, end, "aws_secret_access_key")
    if not secret_name(name) or not looks_secret(name, value):
        return None
    return Secret(start, end, "assignment")


def _joined(text: str, match: re.Match[str], end: int, value: str) -> tuple[int, str]:
    """A value split into literals, joined: where its last literal ends, and its text."""
    position = match.end()
    for _ in range(_MAX_PIECES):
        piece = _PIECE.match(text, position, min(len(text), position + _MAX_LINE_CHARS))
        if piece is None:
            break
        gap = piece.group("gap")
        if "\n" in gap and match.group("paren") is None and "\\\n" not in gap and \
                not gap.strip(" \t\r\n\\"):
            break  # a literal on the next line, with nothing joining them: another statement
        end, value = piece.end("piece"), value + piece.group("piece")
        position = piece.end()
    return end, value


def _call_pair(text: str, match: re.Match[str]) -> bool:
    """`define('DB_PASSWORD', '…')`, `os.getenv("API_KEY", "…")`: a quoted name that is a
    call's first argument, then a quoted value."""
    if not match.group("kq") or match.group("quoted") is None:
        return False
    opening = match.start() - 1  # the name's opening quote
    return text[max(0, opening - 16):opening].rstrip(" \t").endswith("(")


def _holds_secrets(name: str) -> bool:
    """A mapping or list named for secrets: `secrets`, `passwords`, `credentials`,
    `api_keys`, `AUTH_TOKENS` (a bare `tokens` or `keys` is a lexer's, a keymap's: their
    identifiers would look random)."""
    if secret_name(name):
        return True
    words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", name)
    return len(words) > 1 and words[-1].lower() in ("tokens", "keys")


def _opens_block(text: str, match: re.Match[str]) -> bool:
    """`"tokens": {` / `secrets = [` / a YAML `secrets:` first on its line with nothing after
    it (in code, `if token:` ends a line too)."""
    op, opener = match.group("op"), match.group("block").strip()
    if opener in ("[", "{"):
        return op in (":", "=")
    line_start = text.rfind("\n", 0, match.start()) + 1
    start = match.start() - (1 if match.group("kq") else 0)
    return op == ":" and _YAML_LINE_START.match(text, line_start, start) is not None


_CREDENTIAL = re.compile(r"[A-Za-z0-9+/=_.~:@!%-]+")


def _token_value(value: str) -> bool:
    """A value inside a secret-named block: one random-looking token, of the characters
    credentials are made of (a regex, a path or an expression is not one)."""
    return _CREDENTIAL.fullmatch(value) is not None and looks_random(value)


def _bare_literal(text: str, match: re.Match[str], value: str) -> bool:
    """An unquoted value is a literal only in .env, INI and YAML-like lines: `NAME=value` or
    `name = value` first on its line, or `name: value` first on its line (in code, an
    indented keyword argument `x=y,` is an expression)."""
    op = match.group("op")
    if op == "=" and match.group("ws") and (any(c in value for c in "()[]") or
                                            _ATTRIBUTE.fullmatch(value)):
        return False  # `name = call(`, `name = self.other` in code: not INI values
    if op == "=":
        before = _ENV_LINE_START if not match.group("ws") else _YAML_LINE_START
    elif op == ":":
        before = _YAML_LINE_START
    else:
        return False
    line_start = text.rfind("\n", max(0, match.start() - 64), match.start()) + 1
    if line_start == 0 and match.start() > 64:
        return False
    return not value.endswith((",", ";")) and \
        before.match(text, line_start, match.start()) is not None


def _field_value(name: str, value: str) -> bool:
    """A value in a field that holds a secret and nothing else (an XML element, an attribute
    pair): any literal for a password, a random-looking one for other names."""
    value = value.strip()
    return password_value(value) if password_name(name) else looks_random(value, min_chars=8)


def _named_by_attribute(text: str, start: int, line_end: int) -> Iterator[Secret]:
    """`<add key="DbPassword" value="…"/>`, `<entry key="api.token">…</entry>`."""
    name = re.match(r"[A-Za-z_][\w.:-]{0,127}", text[start:line_end])
    if name is None or not secret_name(name.group()):
        return
    found = _NAMED_VALUE.match(text, start + name.end(), line_end)
    if found is None:
        return
    group = "value" if found.group("value") is not None else "text"
    if _field_value(name.group(), found.group(group)):
        yield Secret(found.start(group), found.end(group), "xml")


def _in_connection_string(text: str, pair: re.Match[str]) -> bool:
    """`name=value` inside `k=v;k=v` (a connection string), not a statement ending in `;`:
    a `;` just before the name, or another pair after it."""
    before = text[max(0, pair.start() - 8):pair.start()].rstrip(" \t")
    return before.endswith(";") or _NEXT_PAIR.match(text, pair.end()) is not None


# --------------------------------------------------------------------------- nested values

# Every string literal in turn (keys too: a value is a string no `:` follows).
_STRING = re.compile(r"""(?P<q>["'`])(?P<value>(?:\\.|(?!(?P=q))[^\\\r\n]){0,512})(?P=q)
    (?P<key>[ \t]*:)?""", re.VERBOSE)


def _string_values(text: str, start: int, end: int) -> Iterator[re.Match[str]]:
    """The string literals in text[start:end] that are values, not keys."""
    for found in _STRING.finditer(text, start, end):
        if found.group("key") is None and found.group("value"):
            yield found

# A YAML line of a block: `- value` or `name: value`, the value one word, maybe quoted.
_YAML_VALUE = re.compile(r"""[ \t]*(?:-[ \t]+|(?:[\w.-]+|"[^"\n]*"|'[^'\n]*')[ \t]*:[ \t]+)
    (?P<q>["']?)(?P<value>[^\s"'\#][^\s"']{0,511})(?P=q)[ \t]*(?:\#[^\n]*)?$""",
                         re.VERBOSE | re.MULTILINE)


def _block_values(text: str, match: re.Match[str], accept: Callable[[str], bool]
                  ) -> Iterator[Secret]:
    """Values inside the mapping or list after a secret-named key: `{…}`/`[…]` read to its
    closing bracket, or the indented YAML block below the key's line."""
    opener = match.group("block").strip()
    if opener in ("[", "{"):
        end = _closing(text, match.start("block"))
        for found in _string_values(text, match.start("block"), end):
            if accept(found.group("value")):
                yield Secret(found.start("value"), found.end("value"), "nested")
        return
    line_start = text.rfind("\n", 0, match.start()) + 1
    head = text[line_start:match.start()]
    newline = text.find("\n", match.end())
    if newline >= 0:
        yield from _yaml_block(text, newline + 1, len(head) - len(head.lstrip(" \t-")), accept)


def _yaml_block(text: str, position: int, indent: int, accept: Callable[[str], bool]
                ) -> Iterator[Secret]:
    """Values of the lines below a YAML key that are indented deeper than `indent`."""
    limit = min(len(text), position + _MAX_BLOCK_CHARS)
    while position < limit:
        end = text.find("\n", position, limit)
        end = limit if end < 0 else end
        line = text[position:end]
        if line.strip():
            if len(line) - len(line.lstrip(" \t")) <= indent:
                return
            found = _YAML_VALUE.match(text, position, end)
            if found is not None and accept(found.group("value")):
                yield Secret(found.start("value"), found.end("value"), "nested")
        position = end + 1


def _closing(text: str, start: int) -> int:
    """Where the bracket at `start` closes (quotes skipped), or where reading stops."""
    depth, quote, position = 0, "", start
    limit = min(len(text), start + _MAX_BLOCK_CHARS)
    while position < limit:
        char = text[position]
        if quote:
            if char == "\\":
                position += 1
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
            if depth == 0:
                return position + 1
        position += 1
    return limit


_K8S_SECRET = re.compile(r"""^[ \t]*["']?kind["']?[ \t]*:[ \t]*["']?Secret["']?[ \t]*,?[ \t]*$""",
                         re.MULTILINE)
_K8S_DATA = re.compile(r"""^(?P<indent>[ \t]*)["']?(?:data|stringData)["']?[ \t]*:[ \t]*
    (?P<open>\{|[ \t]*$)""", re.VERBOSE | re.MULTILINE)


def _kubernetes_secrets(text: str) -> Iterator[Secret]:
    """Every value in the `data` and `stringData` of a Kubernetes Secret (YAML or JSON)."""
    if _K8S_SECRET.search(text) is None:
        return
    for data in _K8S_DATA.finditer(text):
        if data.group("open") == "{":
            for found in _string_values(text, data.start("open"),
                                        _closing(text, data.start("open"))):
                if password_value(found.group("value")):
                    yield Secret(found.start("value"), found.end("value"), "kubernetes_secret")
        else:
            yield from (Secret(s.start, s.end, "kubernetes_secret") for s in _yaml_block(
                text, data.end() + 1, len(data.group("indent")), password_value))


_JWK_PRIVATE = re.compile(r"""["'](?:d|p|q|dp|dq|qi|k)["'][ \t]*:[ \t]*["']
    (?P<value>[A-Za-z0-9_-]{16,})["']""", re.VERBOSE)


def _jwk_private_members(text: str) -> Iterator[Secret]:
    """The private members of a JSON Web Key (`d`, `p`, `q`, `dp`, `dq`, `qi`; `k` of a
    symmetric key)."""
    for found in _JWK_PRIVATE.finditer(text):
        yield Secret(found.start("value"), found.end("value"), "jwk_private_key")
