"""Redaction, format by format (issue 9, item 7): every way a file writes a secret-named value
or a provider token, each replaced with the code around it kept — and the ordinary code of
the same formats left alone, because a false positive costs the model context it needed.
Then whole texts (item 2): `SecretScan` finds the same secrets chunk by chunk as at once,
and a document's windows are cut from its redacted text, found once per version."""

from __future__ import annotations

import base64
import random
import string

import pytest

from deskmate.context import redact as redact_module
from deskmate.context.documents import DocumentStore, OpenDocument, Text
from deskmate.context.redact import PLACEHOLDER, SecretScan, find_secrets, redact, secret_name
from deskmate.context.redact_values import looks_random, looks_secret

_RNG = random.Random(90210)
ALNUM = string.ascii_letters + string.digits
BASE64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


def fake(alphabet: str, size: int, prefix: str = "") -> str:
    """Random characters with every class of the alphabet in them (as real keys have),
    made at run time: no key-shaped literal in the repository."""
    while True:
        body = "".join(_RNG.choice(alphabet) for _ in range(size))
        wanted = [set(string.ascii_uppercase), set(string.ascii_lowercase), set(string.digits)]
        if all(not (w & set(alphabet)) or w & set(body) for w in wanted) and \
                looks_random(body, min_chars=1):
            return prefix + body


VALUE = fake(ALNUM, 20)
B64 = fake(BASE64, 43) + "="
AZURE = fake(BASE64, 86) + "=="

# (kind, the text with {} where the secret stands, the secret)
CASES = [
    # `name = value` with spaces: INI, .properties, WireGuard
    ("assignment", "[database]\nhost = db\npassword = {}\n", VALUE),
    ("assignment", "db.password = {}\n", VALUE),
    ("assignment", "spring.datasource.password={}\n", VALUE),
    ("assignment", "[Interface]\nPrivateKey = {}\nAddress = 10.0.0.2/32\n", B64),
    ("assignment", "[Peer]\nPresharedKey = {}\n", B64),
    ("assignment", "  secret_key = {}\n", VALUE),
    # XML
    ("xml", "<server>\n  <password>{}</password>\n</server>\n", VALUE),
    ("xml", "<ns:apiToken>{}</ns:apiToken>\n", VALUE),
    ("xml", "<password><![CDATA[{}]]></password>\n", VALUE),
    ("xml", '<add key="DbPassword" value="{}" />\n', VALUE),
    ("xml", "<property name='mail.smtp.password' value='{}'/>\n", VALUE),
    ("xml", '<entry key="api.token">{}</entry>\n', VALUE),
    # PHP define, and other calls that pair a quoted name with a quoted value
    ("assignment", "define('DB_PASSWORD', '{}');\n", VALUE),
    ("assignment", 'define( "AUTH_KEY", "{}" );\n', VALUE),
    ("assignment", 'api_key = os.getenv("OPENAI_API_KEY", "{}")\n', VALUE),
    ("assignment", 'System.setProperty("db.password", "{}");\n', VALUE),
    # connection strings
    ("connection_string", 'conn = "Server=db;Database=app;User Id=sa;Password={};"\n', VALUE),
    ("connection_string", '"Data Source=db;Pwd={};Initial Catalog=app"\n', VALUE),
    ("connection_string", "Host=db;Username=app;Password={}\n", "hunter2!x"),
    ("azure_storage_key", '"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={};'
                          'EndpointSuffix=core.windows.net"\n', AZURE),
    ("azure_shared_access_key", '"Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName='
                                'Root;SharedAccessKey={}"\n', B64),
    # names that contain key / passw / secret / token
    ("assignment", 'dbPasswordMain = "{}"\n', VALUE),
    ("assignment", 'MYAPPSECRETVALUE = "{}"\n', VALUE),
    ("assignment", "stripekey: {}\n", VALUE),
    ("assignment", 'githubtoken := "{}"\n', VALUE),
    ("assignment", '"x-auth-token": "{}",\n', VALUE),
    ("assignment", 'const key = "{}";\n', VALUE),
    # values inside secret-named mappings and lists
    ("nested", "secrets:\n  ci: {}\n  deploy: none\n", VALUE),
    ("nested", "credentials:\n  - {}\n", VALUE),
    ("nested", '{{"api_tokens": {{"ci": "{}", "label": "nightly build"}}}}\n', VALUE),
    ("nested", "PASSWORDS = [\n    '{}',\n]\n", VALUE),
    ("kubernetes_secret", "apiVersion: v1\nkind: Secret\ndata:\n  tls.crt: {}\n", B64),
    ("jwk_private_key", '{{"kty": "RSA", "n": "x", "e": "AQAB", "d": "{}"}}\n',
     fake(URLSAFE, 86)),
    # URL query
    ("url_parameter", 'URL = "https://api.example.com/v1?api_key={}&page=2"\n', VALUE),
    ("url_parameter", "jdbc:mysql://db/app?user=app&password={}\n", VALUE),
    ("url_signature", '"https://a.blob.core.windows.net/c/b?sv=2022-11-02&sig={}"\n',
     fake(ALNUM, 40) + "%3D"),
    # tokens known by their shape
    ("npm_token", "//registry.npmjs.org/:_authToken={}\n", fake(ALNUM, 36, "npm_")),
    ("huggingface_token", "login(token='{}')\n", fake(string.ascii_letters, 34, "hf_")),
    ("vault_token", "export VAULT_TOKEN={}\n", fake(URLSAFE, 90, "hvs.")),
    ("vault_token", "X-Vault-Token: {}\n", fake(URLSAFE, 90, "hvb.")),
    ("age_secret_key", "# public key: age1abc\n{}\n",
     "AGE-SECRET-KEY-1" + "".join(_RNG.choice("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")
                                  for _ in range(58))),
    ("pypi_token", "password = {}\n", "pypi-AgEIcHlwaS5vcmc" + fake(URLSAFE, 60)),
    ("digitalocean_token", "DO = '{}'\n", "dop_v1_" + fake("0123456789abcdef", 64)),
    ("docker_token", "echo {} | docker login\n", fake(URLSAFE, 36, "dckr_pat_")),
    ("sendgrid_key", "SENDGRID = '{}'\n", f"SG.{fake(URLSAFE, 22)}.{fake(URLSAFE, 43)}"),
    ("stripe_key", "STRIPE_WEBHOOK = '{}'\n", fake(ALNUM, 32, "whsec_")),
    ("stripe_key", "stripe.api_key = '{}'\n", fake(ALNUM, 24, "sk_test_")),
    ("google_oauth", "client_secret = '{}'\n", fake(URLSAFE, 28, "GOCSPX-")),
    ("linear_key", "LINEAR = '{}'\n", fake(ALNUM, 40, "lin_api_")),
    ("grafana_token", "GRAFANA = '{}'\n", fake(ALNUM, 40, "glsa_")),
    ("databricks_token", "host_token = '{}'\n", "dapi" + fake("0123456789abcdef", 32)),
    ("tailscale_key", "TS_AUTHKEY={}\n", "tskey-auth-" + fake(ALNUM, 12) + "-" + fake(ALNUM, 30)),
    ("azure_client_secret", 'AZURE_CLIENT_SECRET = "{}"\n', "aZ7" + "8Q~"
                                                               + fake(ALNUM, 34)),
    ("terraform_token", 'token = "{}"\n', fake(ALNUM, 14) + ".atlasv1." + fake(URLSAFE, 67)),
    ("gitlab_token", "GITLAB = '{}'\n", fake(URLSAFE, 20, "glft-")),
    ("base64_private_key", "  tls.key: {}\n", base64.b64encode(
        b"-----BEGIN RSA PRIVATE KEY-----\n" + fake(BASE64, 64).encode() * 3).decode()),
]


@pytest.mark.parametrize(("kind", "around", "secret"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_format_is_redacted_and_the_code_around_it_kept(
        kind: str, around: str, secret: str) -> None:
    text = around.format(secret)
    redacted, count = redact(text)

    assert (redacted, count) == (around.format(PLACEHOLDER), 1)
    assert [s.kind for s in find_secrets(text)] == [kind]


@pytest.mark.parametrize("template", [
    'password = "{}" + "{}"\n',
    "password = '{}' . '{}';\n",
    'SECRET_KEY = "{}" "{}"\n',
    "SECRET_KEY = ('{}'\n              '{}')\n",
    'String password = "{}" +\n    "{}";\n',
    'String token = "{}"\n    + "{}";\n',
])
def test_a_value_split_into_literals_is_redacted_whole(template: str) -> None:
    first, second = fake(ALNUM, 10), fake(ALNUM, 10)
    text = template.format(first, second)
    redacted, count = redact(text)

    assert count == 1
    assert first not in redacted
    assert second not in redacted
    assert redacted.count("\n") == text.count("\n")  # a line each, where it was
    assert redacted.count(PLACEHOLDER) == 1 + template.count("\n") - 1


def test_a_literal_on_the_next_line_is_another_statement() -> None:
    text = f'password = "{VALUE}"\n"unrelated docstring-ish text"\n'
    assert redact(text) == (f'password = "{PLACEHOLDER}"\n"unrelated docstring-ish text"\n', 1)


# The same formats holding what is not a secret.
ORDINARY = [
    "[server]\nhost = example.org\nport = 8080\n",
    "[keys]\nsort_key = name\n",
    "log.level = debug\n",
    "token = self.pending_token\n",
    "token = Comment.Preproc\n",
    "key = compute_key(name)\n",
    "password = input_password_from_the_user\n",
    "    primary_key = True\n",
    "<server><id>prod</id><host>db.example.org</host></server>\n",
    "<password>${env.DB_PASSWORD}</password>\n",
    "<password>changeme</password>\n",
    '<add key="Environment" value="Production-West-2" />\n',
    "define('WP_DEBUG', false);\n",
    "define('DB_PASSWORD', 'password_here');\n",
    'conn = "Server=db;Database=app;Trusted_Connection=True;"\n',
    'conn = "Server=db;Database=app;Password=${DB_PASSWORD};"\n',
    "Set-Cookie: key=coded_val; Comment=foo; Domain=example.com\n",
    "password = compute;\n",
    "https://example.com/search?q=tokens&page=2&key=\n",
    "if token:\n    for line in handle:\n        parse(line)\n",
    "def token(self):\n    return self._tokenizer.next_token_in_stream_x\n",
    "tokens = {\n    'root': [\n        (r'(def)((?:\\s|\\\\\\s)+)', bygroups(Keyword, Text)),\n"
    "    ],\n}\n",
    "keys = {'up': 'ArrowUp', 'down': 'ArrowDown', 'enter': 'EnterKeyPressed1'}\n",
    "secrets:\n  inherit: true\n",
    "SECRETS_DIR = os.path.join(BASE_DIR, 'secrets')\n",
    'toolskey = "VS%0.f0COMNTOOLS" % version\n',
    "apiVersion: v1\nkind: ConfigMap\ndata:\n  mode: production\n",
    '{"kty": "RSA", "n": "AQAB", "e": "AQAB"}\n',
    'expected_sha256_key = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"\n',
    "PASSWORD_MIN_LENGTH = 12\n",
    "getattr(settings, 'SECRET_KEY_FALLBACKS', [])\n",
    "['cast_key_st', 'X509_HASH_DIR_CTX', 'sigevent']\n",
]


@pytest.mark.parametrize("code", ORDINARY)
def test_ordinary_code_of_those_formats_is_left_alone(code: str) -> None:
    assert redact(code) == (code, 0)


@pytest.mark.parametrize("name", ["DBPASSWORD", "mysecretvalue", "githubtoken", "stripeKey",
                                  "PresharedKey", "AccountKey", "x-api-key", "key"])
def test_names_that_contain_a_secret_word(name: str) -> None:
    assert secret_name(name)


@pytest.mark.parametrize("name", ["keyboard", "monkey", "hotkey", "keys", "tokens",
                                  "max_tokens", "tokenizer", "secretary", "bypass",
                                  "password_field", "key_sha256", "token_count"])
def test_names_that_only_look_like_it(name: str) -> None:
    assert not secret_name(name)


def test_random_values_are_judged_random() -> None:
    """How often a random value given to a secret name is missed (read as a word, a
    placeholder or too regular): rarely for keys of the usual shapes."""
    rng = random.Random(3)
    for alphabet, size, most in [(ALNUM, 16, 0.01), (ALNUM, 24, 0.005), (BASE64, 40, 0.002),
                                 ("0123456789abcdef", 32, 0.01)]:
        missed = sum(not looks_secret("api_key", "".join(rng.choice(alphabet)
                                                          for _ in range(size)))
                     for _ in range(4000))
        assert missed / 4000 <= most, (alphabet, size, missed)


# --------------------------------------------------------------------------- whole texts


def pem(lines: int = 50) -> str:
    body = [fake(BASE64, 64) for _ in range(lines)]
    return "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body) + \
        "\n-----END RSA PRIVATE KEY-----"


def test_chunks_find_what_the_whole_text_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A text over WHOLE_SCAN_CHARS is searched chunk by chunk, only where it is read; a
    secret across a chunk's edge is still found whole."""
    filler = "".join(f"value_{n} = compute({n})\n" for n in range(3000))
    text = filler + f"KEY = '''{pem()}'''\n" + filler + f'token = "{fake(ALNUM, 36, "ghp_")}"\n'
    monkeypatch.setattr(redact_module, "WHOLE_SCAN_CHARS", 1000)
    monkeypatch.setattr(redact_module, "SCAN_CHUNK", 4096)
    chunked = SecretScan(text)
    whole = find_secrets(text)

    assert chunked.within(0, len(text)) == whole
    key = whole[0]
    middle = (key.start + key.end) // 2
    assert chunked.within(middle, middle + 10) == [key]  # from a chunk inside the key
    part, count = chunked.part(middle - 200, middle + 200)
    assert count == 1
    assert "BEGIN" not in part
    assert set(part.replace("\n", "")) <= set(PLACEHOLDER)
    assert chunked.within(0, 100) == []


def test_a_window_inside_a_key_is_redacted_line_for_line() -> None:
    """The issue's leak: a window cut from the middle of a key holds neither marker."""
    key = pem()
    text = "import os\n\nKEY = '''" + key + "'''\n\nprint(KEY)\n"
    entry = Text("keys.py", text, version=1, large=False)
    inside = text.count("\n", 0, text.index(key)) + 10

    part, count = entry.between(inside - 8, inside + 8)

    assert count == 1
    assert part == (PLACEHOLDER + "\n") * 17
    assert entry.redactions(1, 2) == 0
    whole, _ = entry.between(1, 100)
    assert whole.count("\n") == text.count("\n")  # every line where it was
    assert not any(line in whole for line in key.split("\n"))


def test_lexical_windows_are_cut_from_the_redacted_text_once_per_version() -> None:
    key = pem()
    text = "def load_key():\n    return KEY\n\nKEY = '''" + key + "'''\n"
    store = DocumentStore(lambda path: None)
    entry = store.open_text("a.py", OpenDocument(text, 1))
    [counted] = entry.lexical()

    for window in counted.windows:
        assert not any(line in window.window.text for line in key.split("\n")[1:-1])
    assert store.open_text("a.py", OpenDocument(text, 1)).secrets is entry.secrets
    assert entry.secrets.within(0, len(text)) is entry.secrets.within(0, len(text)) or \
        entry.secrets.within(0, len(text)) == entry.secrets.within(0, len(text))
    edited = store.open_text("a.py", OpenDocument(text + "x = 1\n", 2))
    assert edited.secrets is not entry.secrets


def test_a_text_without_secrets_is_its_own_redaction() -> None:
    text = "def f(x):\n    return x + 1\n"
    entry = Text("a.py", text, version=None, large=False)
    assert entry.clean is text
    assert entry.between(1, 2) == (text, 0)


def test_the_secrets_of_a_version_are_searched_once(monkeypatch: pytest.MonkeyPatch) -> None:
    searched: list[int] = []
    real = redact_module.find_secrets

    def counting(text: str) -> list[redact_module.Secret]:
        searched.append(len(text))
        return real(text)

    monkeypatch.setattr(redact_module, "find_secrets", counting)
    entry = Text("a.py", f"x = 1\nKEY = '{fake(ALNUM, 36, 'ghp_')}'\n" * 20, version=1,
                 large=False)
    for first in range(1, 30):
        entry.between(first, first + 3)
    entry.lexical()
    assert len(searched) == 1


def test_every_token_rule_is_looked_for_by_its_literal_head_first() -> None:
    """A rule with no literal head would cost a regex search over every text (the scan of a
    file runs once per version, but on every file a prompt reads from)."""
    from deskmate.context.redact_rules import _HEADS, TOKEN_RULES, _literal_head

    assert all(_HEADS)
    assert len(_HEADS) == len(TOKEN_RULES)
    assert _literal_head(r"sk\-ant\-(?<!x)") == "sk-ant-"
    assert _literal_head(r"ab*c") == "a"  # a repeated character is not in every match
    assert _literal_head(r"(?:a|b)c") == ""


def test_rules_looked_for_in_runs_match_only_long_runs_of_token_characters() -> None:
    """The run prefilter is sound only for rules whose every match is at least RUN_CHARS
    characters of the run alphabet: check the shortest match of each (the regex parser's own
    width) and that a match found in a text is one run."""
    import re

    from deskmate.context.redact_rules import _IN_RUNS, _RUN, RUN_CHARS, TOKEN_RULES

    for rule, in_runs in zip(TOKEN_RULES, _IN_RUNS, strict=True):
        if in_runs:
            shortest = re._parser.parse(rule.pattern.pattern).getwidth()[0]  # type: ignore[attr-defined]
            assert shortest >= RUN_CHARS, rule.kind
    for _, around, secret in CASES:
        text = around.format(secret)
        for found in find_secrets(text):
            value = text[found.start:found.end]
            kinds = {r.kind for r, r_in in zip(TOKEN_RULES, _IN_RUNS, strict=True) if r_in}
            if found.kind in kinds:
                assert _RUN.fullmatch(value) or any(
                    value in run for run in _RUN.findall(text)), (found.kind, value)
