"""Secrets known by their own shape (`redact.py` runs these, and `redact_assign.py`'s secrets
known by their names): provider tokens whose prefix is theirs alone, credentials in URLs and
`Bearer` headers, and private keys — PEM blocks (whole, or cut by the edge of the text),
SSH2 and PuTTY keys, and a PEM block encoded in base64 (a Kubernetes `tls.key`)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from deskmate.context.redact_values import looks_random

# A secret cut by the edge of a text is still recognized from the text around it: this much
# text on each side is searched too (a 4096-bit RSA key in PEM is about 3.3 kB, 16384-bit 13).
CONTEXT_CHARS = 16_384


@dataclass(frozen=True, slots=True)
class Secret:
    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    group: str | int = 0  # the part replaced; names and quotes around it stay
    check: Callable[[str], bool] | None = None


_TOKEN_CHARS = "A-Za-z0-9_+-"  # token characters ("/" and "=" end URL parts)
_E = r"(?![A-Za-z0-9_-])"  # no token character just after


def _token(literal: str, rest: str, *, before: str = _TOKEN_CHARS) -> re.Pattern[str]:
    """A pattern starting with `literal` (so the regex engine searches for it quickly) that no
    character of `before` precedes. One literal per pattern: an alternation of prefixes would
    be tried at every character, twenty times slower."""
    lit = re.escape(literal)
    return re.compile(f"{lit}(?<![{before}]{lit}){rest}")


def _mixed(value: str) -> bool:
    """Random provider keys mix upper case, lower case and digits."""
    return any(c.isdigit() for c in value) and any(c.isupper() for c in value) and \
        any(c.islower() for c in value)


def _cased(value: str) -> bool:
    """Upper and lower case both (Hugging Face tokens are letters alone)."""
    return any(c.isupper() for c in value) and any(c.islower() for c in value)


def _prefixed(kind: str, prefixes: tuple[str, ...], rest: str,
              check: Callable[[str], bool] | None = None) -> tuple[_Rule, ...]:
    return tuple(_Rule(kind, _token(p, rest + _E), check=check) for p in prefixes)


_AGE_CHARS = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"  # bech32, upper case

TOKEN_RULES: tuple[_Rule, ...] = (
    *_prefixed("aws_access_key_id", ("AKIA", "ASIA"), r"[A-Z0-9]{16}(?![A-Z0-9])"),
    *_prefixed("github_token", ("gh",), r"[pousr]_[A-Za-z0-9]{36,251}"),
    *_prefixed("github_token", ("github_pat_",), r"[A-Za-z0-9_]{40,251}"),
    *_prefixed("gitlab_token", ("gl",), r"(?:pat|dt|rt|ptt|soat|cbt|ft|imt|agent)-"
                                        r"[A-Za-z0-9_-]{20,}"),
    _Rule("slack_token", _token("xox", r"[abeoprs]-(?:[0-9]+-)*[A-Za-z0-9]{8,}"
                                       r"(?:-[A-Za-z0-9]+)*" + _E)),
    *_prefixed("slack_token", ("xapp-",), r"[0-9]-[A-Z0-9]+-[0-9]+-[a-z0-9]{32,}"),
    _Rule("slack_webhook", re.compile(
        r"hooks\.slack\.com/(?:services|workflows)/(?P<path>[A-Za-z0-9_/-]{20,})"),
        group="path"),
    *_prefixed("anthropic_key", ("sk-ant-",), r"[A-Za-z0-9_-]{32,}"),
    _Rule("openai_key", _token("sk-", r"(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}" + _E),
          check=lambda v: v.startswith("sk-ant-") or _mixed(v[3:])),
    *_prefixed("stripe_key", ("sk_live_", "rk_live_", "sk_test_", "rk_test_", "whsec_"),
               r"[A-Za-z0-9]{20,}"),
    *_prefixed("google_api_key", ("AIza",), r"[A-Za-z0-9_-]{35}"),
    *_prefixed("google_oauth", ("GOCSPX-",), r"[A-Za-z0-9_-]{24,}"),
    *_prefixed("google_oauth", ("ya29.",), r"[A-Za-z0-9_-]{30,}"),
    *_prefixed("jwt", ("eyJ",), r"[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"),
    *_prefixed("npm_token", ("npm_",), r"[A-Za-z0-9]{36}", check=_mixed),
    *_prefixed("pypi_token", ("pypi-AgE",), r"[A-Za-z0-9_-]{50,}"),
    *_prefixed("huggingface_token", ("hf_", "api_org_"), r"[A-Za-z0-9]{30,}",
               check=lambda v: _cased(v.split("_")[-1])),
    *_prefixed("vault_token", ("hvs.", "hvb.", "hvr."), r"[A-Za-z0-9_-]{24,}"),
    *_prefixed("age_secret_key", ("AGE-SECRET-KEY-1",), f"[{_AGE_CHARS}]{{58}}"),
    *_prefixed("digitalocean_token", ("dop_v1_", "doo_v1_", "dor_v1_"), r"[a-f0-9]{64}"),
    *_prefixed("docker_token", ("dckr_pat_",), r"[A-Za-z0-9_-]{27,}"),
    *_prefixed("shopify_token", ("shpat_", "shpss_", "shpca_", "shppa_"), r"[a-fA-F0-9]{32}"),
    *_prefixed("sendgrid_key", ("SG.",), r"[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),
    *_prefixed("linear_key", ("lin_api_",), r"[A-Za-z0-9]{40}"),
    *_prefixed("postman_key", ("PMAK-",), r"[a-f0-9]{24}-[a-f0-9]{34}"),
    _Rule("terraform_token", re.compile(r"\.atlasv1\.(?<=[A-Za-z0-9]{14}\.atlasv1\.)"
                                        r"[A-Za-z0-9_-]{60,}" + _E)),
    *_prefixed("pulumi_token", ("pul-",), r"[a-f0-9]{40}"),
    *_prefixed("grafana_token", ("glc_", "glsa_"), r"[A-Za-z0-9_+/]{32,}={0,2}"),
    *_prefixed("newrelic_key", ("NRAK-",), r"[A-Z0-9]{27}"),
    *_prefixed("databricks_token", ("dapi",), r"[a-f0-9]{32}(?:-[0-9])?"),
    *_prefixed("sentry_token", ("sntrys_", "sntryu_"), r"[A-Za-z0-9_+/=]{40,}"),
    *_prefixed("supabase_token", ("sbp_",), r"[a-f0-9]{40}"),
    *_prefixed("groq_key", ("gsk_",), r"[A-Za-z0-9]{40,}", check=_mixed),
    *_prefixed("replicate_token", ("r8_",), r"[A-Za-z0-9]{37}", check=_mixed),
    *_prefixed("xai_key", ("xai-",), r"[A-Za-z0-9]{60,}", check=_mixed),
    *_prefixed("perplexity_key", ("pplx-",), r"[A-Za-z0-9]{40,}"),
    *_prefixed("tailscale_key", ("tskey-",), r"(?:auth|api|client|webhook|scim)-"
                                             r"[A-Za-z0-9]+-[A-Za-z0-9]{16,}"),
    *_prefixed("onepassword_token", ("ops_eyJ",), r"[A-Za-z0-9_-]{40,}"),
    *_prefixed("planetscale_token", ("pscale_tkn_", "pscale_pw_", "pscale_oauth_"),
               r"[A-Za-z0-9_.-]{32,}"),
    *_prefixed("atlassian_token", ("ATATT3",), r"[A-Za-z0-9_=-]{100,}"),
    # Entra ID (Azure AD) client secrets: three characters, a digit, `Q~`, 31 to 34 more.
    _Rule("azure_client_secret", re.compile(
        r"Q~(?<=(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}[0-9]Q~)[A-Za-z0-9_~.-]{31,34}"
        r"(?![A-Za-z0-9_~.-])")),
    # Azure storage account and Service Bus / Event Hubs keys (base64, "/" and "+" in them).
    _Rule("azure_storage_key", re.compile(r"AccountKey=(?P<value>[A-Za-z0-9+/]{86}==)"),
          group="value"),
    _Rule("azure_shared_access_key", re.compile(
        r"SharedAccessKey=(?P<value>[A-Za-z0-9+/]{42,43}=)"), group="value"),
    _Rule("url_signature", re.compile(r"ig=(?<=[?&]sig=)(?P<value>[^&#\s\"'`<>]{16,})"),
          group="value"),
    _Rule("url_signature", re.compile(
        r"ignature=(?<=[?&-][Ss]ignature=)(?P<value>[^&#\s\"'`<>]{16,})"), group="value"),
    *(_Rule("bearer_token", _token(word, r"[ \t]+(?P<value>[A-Za-z0-9._~+/-]{16,}=*)"
                                         r"(?![A-Za-z0-9._~+/=-])", before="A-Za-z0-9_"),
            group="value", check=looks_random)
      for word in ("Bearer", "Basic", "Token")),
    _Rule("url_password", re.compile(
        r"://[^\s:/@\"'`]{1,64}:(?P<value>[^\s:/@\"'`]{10,128})@"),
        group="value", check=lambda v: looks_random(v, min_chars=10)),
    # A PEM block in base64 (`LS0tLS1CRUdJTi` is "-----BEGIN"), wrapped at any width or not.
    _Rule("base64_private_key", _token(
        "LS0tLS1CRUdJTi", r"[A-Za-z0-9+/]{40,}={0,2}"
        r"(?:(?:\\n|\r?\n)[ \t]*[A-Za-z0-9+/]{16,}={0,2}(?=[ \t]*(?:[\r\n\"'`,]|\\n|$)))*"),
          check=lambda v: b"PRIVATE KEY" in _decoded_head(v)),
    _Rule("putty_private_key", re.compile(
        r"Private-Lines:[ \t]*[0-9]+[ \t]*\r?\n(?:[ \t]*[A-Za-z0-9+/=]+[ \t]*\r?\n)+"
        r"(?:[ \t]*Private-MAC:[^\n]*)?")),
)
# What a rule's match leaves out at its start: the characters before `Q~` of an Entra ID
# client secret, the 14 before `.atlasv1.` of a Terraform token (matched from their literal).
_HEAD = {"azure_client_secret": 4, "terraform_token": 14}


def _decoded_head(value: str) -> bytes:
    head = value[:64]
    try:
        return base64.b64decode(head[:len(head) // 4 * 4])
    except (binascii.Error, ValueError):
        return b""


def _literal_head(pattern: str) -> str:
    """The literal text every match of `pattern` starts with ('' when it has none)."""
    head: list[str] = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "\\" and position + 1 < len(pattern) and not pattern[position + 1].isalnum():
            char, step = pattern[position + 1], 2
        elif char in ".^$*+?{}[]|()\\":
            break
        else:
            step = 1
        if pattern[position + step:position + step + 1] in ("*", "?", "{"):
            break  # the character is optional or repeated: not part of every match
        head.append(char)
        position += step
    return "".join(head)


# Each rule's literal head: a rule whose head is not in the text cannot match, and `str in`
# is much faster than a regex search, so a text costs one quick look per rule.
_HEADS = tuple(_literal_head(rule.pattern.pattern) for rule in TOKEN_RULES)

# Most rules match a run of at least RUN_CHARS token characters that starts with their head:
# their heads are looked for in those runs only (a few percent of a file's text, found in one
# regex pass) rather than in the whole text, one pass per rule. The rules whose matches hold
# other characters (a space, `:`, `@`, `%`) or can be shorter are looked for in the whole text
# (a unit test checks each rule's shortest match against RUN_CHARS).
RUN_CHARS = 20
_RUN = re.compile(rf"[A-Za-z0-9_\-+/=.~]{{{RUN_CHARS},}}")
WHOLE_TEXT_KINDS = frozenset({"slack_token", "url_password", "putty_private_key",
                              "url_signature", "bearer_token"})
_IN_RUNS = tuple(rule.kind not in WHOLE_TEXT_KINDS for rule in TOKEN_RULES)


def find_tokens(text: str) -> Iterator[Secret]:
    """Secrets known by their shape."""
    runs = "\n".join(_RUN.findall(text))
    for rule, head, in_runs in zip(TOKEN_RULES, _HEADS, _IN_RUNS, strict=True):
        if head and head not in (runs if in_runs else text):
            continue
        for match in rule.pattern.finditer(text):
            value = match.group(rule.group)
            if rule.check is not None and not rule.check(value):
                continue
            start, end = match.start(rule.group), match.end(rule.group)
            start = max(0, start - _HEAD.get(rule.kind, 0))
            yield Secret(start, end, rule.kind)


# --------------------------------------------------------------------------- private keys

_PRIVATE_KEY_MARKER = re.compile(
    r"-----(?P<which>BEGIN|END)[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
    r"|---- (?P<which2>BEGIN|END) SSH2 (?:ENCRYPTED )?PRIVATE KEY ----")
# What may sit between the markers of a key block: base64 lines, PEM headers ("Proc-Type:
# 4,ENCRYPTED"), and the quotes, escapes and indentation of a key pasted into a string (or
# concatenated: `"…" +`).
_PEM_BODY = re.compile(r"(?:[A-Za-z0-9+/=\s\\\"'`,:.]|-(?!----))*+")
_PEM_BODY_BACKWARD = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n\\\"'`,:.-")
_PEM_EDGE = frozenset(" \t\r\n\"'`,")
_KEY_MATERIAL = re.compile(r"[A-Za-z0-9+/]{32}")


def find_private_keys(text: str) -> Iterator[Secret]:
    """Key blocks, whole; a block cut by the edge of the text (a marker missing) is redacted
    from the marker it has to the end of its key material."""
    if "PRIVATE KEY" not in text:
        return
    markers = list(_PRIVATE_KEY_MARKER.finditer(text))
    closed: set[int] = set()  # END markers that ended a block found from its BEGIN
    for index, marker in enumerate(markers):
        if (marker.group("which") or marker.group("which2")) == "BEGIN":
            body = _PEM_BODY.match(text, marker.end())
            assert body is not None  # the pattern matches the empty string
            after = markers[index + 1] if index + 1 < len(markers) else None
            if after is not None and (after.group("which") or after.group("which2")) == "END" \
                    and after.start() == body.end():
                end = after.end()
                closed.add(index + 1)
            else:
                end = body.end()
                while end > marker.end() and text[end - 1] in _PEM_EDGE:
                    end -= 1  # leave the closing quote and line break of a cut block
            if _KEY_MATERIAL.search(text, marker.end(), end):
                yield Secret(marker.start(), end, "private_key")
        elif index not in closed:
            # An END whose BEGIN is not in the text (it starts inside the block), or whose
            # block had something unexpected in it: its key material, backwards.
            start = marker.start()
            limit = max(0, start - CONTEXT_CHARS)
            while start > limit and text[start - 1] in _PEM_BODY_BACKWARD:
                start -= 1
            while start < marker.start() and text[start] in _PEM_EDGE:
                start += 1
            if _KEY_MATERIAL.search(text, start, marker.start()):
                yield Secret(start, marker.end(), "private_key")
