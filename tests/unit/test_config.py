"""Configuration: where it comes from, how layers combine, and how bad values are reported."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from deskmate.server.backends.facts import BACKENDS
from deskmate.server.config import (
    LOCAL_PROFILE,
    CompletionSettings,
    Config,
    ContextSettings,
    PrivacySettings,
    Profile,
    Routes,
    config_files,
    load_config,
    user_config_dir,
)
from deskmate.server.config_schema import between, list_of, one_of, rules_of
from deskmate.server.trust import set_trust

FULL_EXAMPLE = """\
[context]
window = 8192
reserve_output = 512
[completion]
max_tokens = 64
deadline_ms = 3000
[profiles.fast]
backend = "openai"
url = "http://127.0.0.1:9999/v1"
model = "qwen2.5-coder-7b"
api_key_env = "MY_KEY"
fim = "qwen"
price_in = 0.5
price_out = 2
[route]
completion = ["fast"]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text), encoding="utf-8")
    return path


def from_text(tmp_path: Path, text: str, **kwargs) -> Config:
    """The config of one explicit file holding `text`, with no environment at all."""
    path = write(tmp_path / "deskmate.toml", text)
    return load_config(explicit=path, environ={}, **kwargs)


def only_problem(config: Config) -> str:
    assert len(config.problems) == 1, config.problems
    return config.problems[0]


# --------------------------------------------------------------------------- which file


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    """One config file in each place the search looks, each with its own deadline_ms; the
    workspace file also sets max_tokens."""
    xdg = tmp_path / "xdg"
    workspace = tmp_path / "ws"
    files = {
        "explicit": tmp_path / "explicit.toml",
        "env": tmp_path / "env.toml",
        "workspace": workspace / ".deskmate.toml",
        "xdg": xdg / "deskmate" / "config.toml",
    }
    for number, path in enumerate(files.values(), start=1):
        write(path, f"[completion]\ndeadline_ms = {1000 + number}\n")
    write(files["workspace"], "[completion]\nmax_tokens = 3\n")
    return {**files, "workspace_dir": workspace, "xdg_dir": xdg}


# Each case removes the files that should win before it: the user's own file is the first of
# --config, $DESKMATE_CONFIG and the XDG file (deadline_ms says which), and the workspace file
# is a layer on top of it (max_tokens), never instead of it.
@pytest.mark.parametrize(
    ("present", "deadline", "user_file"),
    [
        (("explicit", "env", "workspace", "xdg"), 1001, "explicit"),
        (("env", "workspace", "xdg"), 1002, "env"),
        (("workspace", "xdg"), 1004, "xdg"),
        (("xdg",), 1004, "xdg"),
        (("workspace",), 5000, None),
    ],
)
def test_the_user_config_then_the_workspace_file_apply(
    places: dict[str, Path], present: tuple[str, ...], deadline: int, user_file: str | None
) -> None:
    environ = {"XDG_CONFIG_HOME": str(places["xdg_dir"])}
    if "env" in present:
        environ["DESKMATE_CONFIG"] = str(places["env"])
    explicit = places["explicit"] if "explicit" in present else None
    if "workspace" not in present:
        places["workspace"].unlink()
    if "xdg" not in present:
        places["xdg"].unlink()

    config = load_config(explicit=explicit, workspace=places["workspace_dir"], environ=environ)

    assert config.completion.deadline_ms == deadline
    assert config.completion.max_tokens == (3 if "workspace" in present else 128)
    assert config.problems == ()
    expected = [places[user_file]] if user_file else []
    expected += [places["workspace"]] if "workspace" in present else []
    assert config.sources == tuple(map(str, expected))


def test_a_config_named_explicitly_in_the_workspace_is_read_once_and_trusted(
    places: dict[str, Path],
) -> None:
    write(places["workspace"], '[profiles.team]\nbackend = "ollama"\n[route]\n'
          'completion = ["team"]\n[privacy]\nexclude = ["*.sql"]\n')

    config = load_config(explicit=places["workspace"], workspace=places["workspace_dir"],
                         environ={})

    assert config.sources == (str(places["workspace"]),)
    assert config.problems == ()
    assert config.route == {"completion": ("team",)}  # the user chose this file: trusted
    assert config.privacy.exclude == ("*.sql",)  # once, not twice


def test_the_user_config_defaults_to_dot_config_under_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write(home / ".config" / "deskmate" / "config.toml", "[completion]\nmax_tokens = 77\n")

    config = load_config(workspace=tmp_path / "elsewhere", environ={"HOME": str(home)})

    assert user_config_dir({"HOME": str(home)}) == home / ".config" / "deskmate"
    assert config.completion.max_tokens == 77


def test_no_config_file_anywhere_gives_the_defaults(tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}

    assert config_files(None, tmp_path, environ) == []
    config = load_config(workspace=tmp_path, environ=environ)

    assert config == Config()
    assert config.chain("completion") == (LOCAL_PROFILE,)


@pytest.mark.parametrize("how", ["explicit", "env"])
def test_a_named_config_file_that_is_missing_is_reported(tmp_path: Path, how: str) -> None:
    missing = tmp_path / "nope.toml"
    write(tmp_path / "ws" / ".deskmate.toml", "[completion]\nmax_tokens = 5\n")
    environ = {"DESKMATE_CONFIG": str(missing)} if how == "env" else {}

    config = load_config(explicit=missing if how == "explicit" else None,
                         workspace=tmp_path / "ws", environ=environ)

    assert only_problem(config) == (f"{missing}: config file not found; its settings are "
                                    "skipped")
    # The workspace file is a layer of its own, not a fallback for the missing file.
    assert config.completion == CompletionSettings(max_tokens=5)
    assert config.sources == (str(tmp_path / "ws" / ".deskmate.toml"),)


# --------------------------------------------------------------------------- values


def test_the_documented_keys_parse_to_typed_values(tmp_path: Path) -> None:
    config = from_text(tmp_path, FULL_EXAMPLE)

    assert config.problems == ()
    assert config.context == ContextSettings(window=8192, reserve_output=512)
    assert config.completion.max_tokens == 64
    assert config.completion.deadline_ms == 3000
    fast = config.profiles["fast"]
    assert fast == Profile(name="fast", backend="openai", url="http://127.0.0.1:9999/v1",
                           model="qwen2.5-coder-7b", api_key_env="MY_KEY", fim="qwen",
                           price_in=0.5, price_out=2.0)
    assert type(fast.price_out) is float  # written as the integer 2
    assert config.route == {"completion": ("fast",)}
    assert config.chain("completion") == (fast,)


@pytest.mark.parametrize(
    ("backend", "url", "key_env"),
    [
        ("openai", "http://127.0.0.1:8080/v1", ""),
        ("ollama", "http://127.0.0.1:11434", ""),
        ("llamacpp", "http://127.0.0.1:8080", ""),
        ("anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY"),
        ("mistral", "https://codestral.mistral.ai", "MISTRAL_API_KEY"),
        ("local", "", ""),
    ],
)
def test_profiles_get_their_backends_defaults(
    tmp_path: Path, backend: str, url: str, key_env: str
) -> None:
    config = from_text(tmp_path, f'[profiles.p]\nbackend = "{backend}"\n')

    profile = config.profiles["p"]
    assert (profile.url, profile.api_key_env) == (url, key_env)
    assert (url, key_env) == (BACKENDS[backend].default_url, BACKENDS[backend].key_env)
    assert config.problems == ()


def test_every_backend_in_the_facts_table_is_a_valid_backend(tmp_path: Path) -> None:
    text = "".join(f'[profiles.{name}]\nbackend = "{name}"\n' for name in BACKENDS)

    config = from_text(tmp_path, text)

    assert config.problems == ()
    assert {name: config.profiles[name].backend for name in BACKENDS} == {n: n for n in BACKENDS}


def test_an_explicit_url_and_key_variable_beat_the_backend_defaults(tmp_path: Path) -> None:
    config = from_text(tmp_path, """\
        [profiles.claude]
        backend = "anthropic"
        url = "https://proxy.example"
        api_key_env = "TEAM_KEY"
        """)

    assert config.profiles["claude"].url == "https://proxy.example"
    assert config.profiles["claude"].api_key_env == "TEAM_KEY"


def test_api_key_reads_the_named_variable() -> None:
    profile = Profile(name="p", backend="anthropic", api_key_env="TEAM_KEY")

    assert profile.api_key({"TEAM_KEY": "sk-123456789", "ANTHROPIC_API_KEY": "other"}) == (
        "sk-123456789")
    assert profile.api_key({}) == ""
    assert Profile(name="q", backend="openai").api_key({"OPENAI_API_KEY": "x"}) == ""


@pytest.mark.parametrize(
    ("windows", "expected"),
    [
        ((), 16384 - 1024),  # no profile window: [context] window
        ((0,), 16384 - 1024),  # 0 means "use [context] window"
        ((8192,), 8192 - 1024),
        ((32768, 4096, 0), 4096 - 1024),  # the smallest window in the chain
        ((1000,), 0),  # a window smaller than the reserve leaves nothing, never less
    ],
)
def test_prompt_budget_is_the_smallest_window_minus_the_reserve(
    windows: tuple[int, ...], expected: int
) -> None:
    assert Config().prompt_budget(windows) == expected


def test_prompt_budget_follows_the_configured_context(tmp_path: Path) -> None:
    config = from_text(tmp_path, """\
        [context]
        window = 4096
        reserve_output = 96
        [profiles.big]
        backend = "openai"
        window = 8000
        """)

    assert config.prompt_budget([config.profiles["big"].window]) == 4000


# --------------------------------------------------------------------------- problems


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ('# deskmate\n[context]\nwindow = "big"\n', "context.window", 3),
        ("[context]\nwindow = 16384\nreserve_output = -1\n", "context.reserve_output", 3),
        ("[completion]\n\n\nmax_tokens = 0\n", "completion.max_tokens", 4),
        ("[completion]\ndeadline_ms = 1.5\n", "completion.deadline_ms", 2),
        ("[completion]\ntemperature = true\n", "completion.temperature", 2),
        ('[context]\n[profiles.fast]\nbackend = "openai"\nfim = "gpt"\n', "profiles.fast.fim", 4),
        ('[profiles.fast]\nbackend = "openai"\nprice_in = "free"\n', "profiles.fast.price_in", 3),
        ('[profiles.fast]\nbackend = "openai"\nurl = 8080\n', "profiles.fast.url", 3),
        ('[profiles.fast]\nbackend = "openai"\n[route]\ncompletion = "fast"\n',
         "route.completion", 4),
        # The same key name in another table, dotted keys, and CRLF line ends.
        ('[profiles.a]\nbackend = "openai"\nwindow = 1\n[context]\nwindow = -5\n',
         "context.window", 5),
        ('context.window = "big"\n', "context.window", 1),
        ('[context]\r\n# comment\r\nwindow = "big"\r\n', "context.window", 3),
        # TOML allows U+2028 in comments; it does not end a line.
        ('# a\u2028b\n[context]\nwindow = "big"\n', "context.window", 3),
    ],
)
def test_an_invalid_value_gives_one_message_with_key_and_line(
    tmp_path: Path, text: str, key: str, line: int
) -> None:
    path = write(tmp_path / "deskmate.toml", text)

    config = load_config(explicit=path, environ={})

    message = only_problem(config)
    assert message.startswith(f"{path}, line {line}: {key} ")
    assert message.endswith("the default is used")


def test_an_invalid_value_falls_back_to_its_default_only(tmp_path: Path) -> None:
    config = from_text(tmp_path, """\
        [context]
        window = "big"
        reserve_output = 2048
        """)

    assert config.context == ContextSettings(window=16384, reserve_output=2048)


def test_a_toml_syntax_error_gives_one_message_and_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path / "deskmate.toml", """\
        [completion]
        max_tokens = 64
        deadline_ms = = 3
        """)

    config = load_config(explicit=path, environ={})

    message = only_problem(config)
    assert message.startswith(f"{path}: ")
    assert "line 3" in message
    assert message.endswith("this file is ignored, defaults are used")
    assert config.completion == CompletionSettings()


def test_a_syntax_error_in_the_file_keeps_the_editor_settings(tmp_path: Path) -> None:
    config = from_text(tmp_path, "[completion\n",
                       overrides=[({"completion": {"max_tokens": 9}}, "initializationOptions")])

    assert config.completion.max_tokens == 9
    assert len(config.problems) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[context]\nwindow = 8192\nwindows = 3\n", "line 3: unknown key 'context.windows'"),
        ('[profiles.fast]\nbackend = "openai"\nmodle = "x"\n',
         "line 3: unknown key 'profiles.fast.modle'"),
        ("[completion]\nmax_tokens = 3\n[telemetry]\non = true\n",
         "line 3: unknown section 'telemetry'"),
        ("[route]\nrefactor = []\n", "line 2: unknown key 'route.refactor'"),
        # `local` once marked the in-process backend's profiles; the backend says it now.
        ('[profiles.mine]\nbackend = "local"\nlocal = true\n',
         "line 3: unknown key 'profiles.mine.local'"),
    ],
)
def test_unknown_keys_and_sections_are_reported(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path / "deskmate.toml", text)

    message = only_problem(load_config(explicit=path, environ={}))

    assert message == f"{path}, {expected}; ignored"


def test_a_route_naming_an_undefined_profile_is_reported_and_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "deskmate.toml", """\
        [profiles.fast]
        backend = "ollama"
        [route]
        completion = ["ghost", "fast"]
        """)

    config = load_config(explicit=path, environ={})

    assert only_problem(config) == (f"{path}, line 4: route.completion names profile 'ghost', "
                                    "which is not defined; it is skipped")
    assert config.route == {"completion": ("fast",)}
    assert [p.name for p in config.chain("completion")] == ["fast"]


def test_a_route_with_no_defined_profile_falls_back_to_local(tmp_path: Path) -> None:
    config = from_text(tmp_path, '[route]\ncompletion = ["ghost"]\n')

    assert len(config.problems) == 2
    assert "'ghost', which is not defined" in config.problems[0]
    assert "no usable profile" in config.problems[1]
    assert config.chain("completion") == (LOCAL_PROFILE,)


def test_a_profile_without_backend_is_reported_and_ignored(tmp_path: Path) -> None:
    path = write(tmp_path / "deskmate.toml", '[completion]\n[profiles.fast]\nmodel = "m"\n')

    config = load_config(explicit=path, environ={})

    assert only_problem(config).startswith(f"{path}, line 2: profile 'fast' has no backend")
    assert "fast" not in config.profiles


def test_a_reserve_as_large_as_the_window_is_reported(tmp_path: Path) -> None:
    config = from_text(tmp_path, "[context]\nwindow = 4096\nreserve_output = 4096\n")

    assert "context.reserve_output (4096) must be smaller than context.window (4096)" in (
        only_problem(config))
    assert config.context == ContextSettings()


# --------------------------------------------------------------------------- the schema


SECTIONS = {"context": ContextSettings, "completion": CompletionSettings,
            "privacy": PrivacySettings, "route": Routes}


def as_toml_values(values: dict[str, Any]) -> dict[str, Any]:
    """A dataclass's values as a config file writes them (lists, not tuples)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def test_every_field_of_the_settings_dataclasses_is_a_key() -> None:
    """The keys are the dataclass fields: each one set to its default is accepted as is."""
    settings = {name: as_toml_values(asdict(cls())) for name, cls in SECTIONS.items()}
    profile = as_toml_values({k: v for k, v in asdict(LOCAL_PROFILE).items() if k != "name"})

    config = load_config(environ={"XDG_CONFIG_HOME": "/nonexistent"}, overrides=[
        ({**settings, "profiles": {"mine": profile}}, "initializationOptions")])

    assert config.problems == ()
    assert config.profiles["mine"] == Profile(name="mine", backend="local")
    assert config.route == asdict(Routes())
    assert {f.name for f in fields(Profile)} - {"name"} == set(profile)


@pytest.mark.parametrize(("section", "key", "value", "complaint"), [
    ("context", "window", 255, "must be between 256 and 1048576, got 255"),
    ("completion", "temperature", float("inf"), "must be between 0.0 and 2.0, got inf"),
    ("completion", "temperature", "hot", "must be a number, got 'hot'"),
    ("privacy", "exclude", "*.sql", "must be a list of glob patterns, got '*.sql'"),
    ("route", "completion", [1], "must be a list of profile names, got [1]"),
])
def test_the_dataclass_fields_say_what_a_key_accepts(
    section: str, key: str, value: Any, complaint: str
) -> None:
    config = load_config(environ={"XDG_CONFIG_HOME": "/nonexistent"},
                         overrides=[({section: {key: value}}, "init")])

    assert config.problems == (f"init: {section}.{key} {complaint}; the default is used",)


@dataclass(frozen=True, kw_only=True)
class Example:
    count: int = field(default=1, metadata=between(1, 10))
    ratio: float = field(default=0.5, metadata=between(0.0, 1.0))
    mode: str = field(default="a", metadata=one_of(("a", "b")))
    on: bool = False
    names: tuple[str, ...] = field(default=(), metadata=list_of("names"))


@pytest.mark.parametrize(("key", "value", "complaint", "stored"), [
    ("count", 0, "must be between 1 and 10, got 0", None),
    ("count", 11, "must be between 1 and 10, got 11", None),
    ("count", 10**400, "must be between 1 and 10, got 1000000000000000000000000000000000000...",
     None),
    ("count", True, "must be a whole number, got True", None),
    ("count", 3, None, 3),
    ("count", 10, None, 10),
    ("ratio", 1, None, 1.0),
    ("ratio", 0.0, None, 0.0),
    ("ratio", float("nan"), "must be between 0.0 and 1.0, got nan", None),
    ("ratio", float("-inf"), "must be between 0.0 and 1.0, got -inf", None),
    ("ratio", 1.5, "must be between 0.0 and 1.0, got 1.5", None),
    ("ratio", "x", "must be a number, got 'x'", None),
    ("mode", "c", "must be one of a, b; got 'c'", None),
    ("on", 1, "must be true or false, got 1", None),
    ("on", True, None, True),
    ("names", ["x"], None, ("x",)),
    ("names", ["x", 2], "must be a list of names, got ['x', 2]", None),
])
def test_rules_are_read_off_type_hints_and_metadata(
    key: str, value: Any, complaint: str | None, stored: Any
) -> None:
    rule = rules_of(Example)[key]

    assert rule.check(value) == complaint
    if complaint is None:
        assert rule.convert(value) == stored
        assert type(rule.convert(value)) is type(stored)


def test_a_field_type_the_schema_cannot_check_is_an_error_at_once() -> None:
    @dataclass
    class Odd:
        when: dict[str, int] = field(default_factory=dict)

    with pytest.raises(TypeError, match=r"Odd\.when"):
        rules_of(Odd)


@pytest.mark.parametrize("metadata", [{}, {"min": 0}])
def test_a_number_setting_without_a_range_is_an_error_at_once(metadata: dict[str, Any]) -> None:
    @dataclass
    class Unbounded:
        count: int = field(default=1, metadata=metadata)

    with pytest.raises(TypeError, match=r"Unbounded\.count: a number setting needs its range"):
        rules_of(Unbounded)


@pytest.mark.parametrize(("low", "high"), [(0, float("inf")), (float("nan"), 1), (2, 1)])
def test_a_range_must_be_finite_and_in_order(low: float, high: float) -> None:
    with pytest.raises(ValueError, match="not a finite range"):
        between(low, high)


# --------------------------------------------------------------------------- workspace trust

UNTRUSTED_TEXT = """\
[completion]
max_tokens = 33
[profiles.team]
backend = "ollama"
url = "http://attacker.example:11434"
api_key_env = "ANTHROPIC_API_KEY"
model = "m"
[profiles.fast]
model = "from-workspace"
[route]
completion = ["team"]
"""


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A workspace with its own .deskmate.toml, and a user config folder elsewhere."""
    folder = tmp_path / "ws"
    write(folder / ".deskmate.toml", UNTRUSTED_TEXT)
    return folder, {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}


def test_an_untrusted_workspace_file_cannot_choose_servers_keys_or_routes(
    workspace: tuple[Path, dict[str, str]],
) -> None:
    folder, environ = workspace
    overrides = [({"profiles": {"fast": {"backend": "openai"}}}, "initializationOptions")]

    config = load_config(workspace=folder, environ=environ, overrides=overrides)

    assert config.problems[0] == (
        f"{folder / '.deskmate.toml'}: this workspace is not trusted, so its settings that "
        "choose where code is sent (profiles.team.backend, profiles.team.url, "
        "profiles.team.api_key_env, route) are ignored; if you trust this repository, "
        f"run  deskmate trust {folder}")
    assert "profile 'team' has no backend" in config.problems[1]
    assert len(config.problems) == 2
    assert config.completion.max_tokens == 33  # tuning is allowed
    assert "team" not in config.profiles
    # The editor's own settings are trusted, and the workspace may still pick the model.
    fast = config.profiles["fast"]
    assert (fast.backend, fast.model, fast.url) == ("openai", "from-workspace",
                                                    BACKENDS["openai"].default_url)
    assert config.route == asdict(Routes())


def test_a_trusted_workspace_file_chooses_servers_keys_and_routes(
    workspace: tuple[Path, dict[str, str]],
) -> None:
    folder, environ = workspace
    set_trust(folder, True, environ)

    config = load_config(workspace=folder, environ=environ)

    assert config.problems[0].startswith(f"{folder / '.deskmate.toml'}, line 8: profile 'fast'")
    assert len(config.problems) == 1
    team = config.profiles["team"]
    assert (team.url, team.api_key_env) == ("http://attacker.example:11434", "ANTHROPIC_API_KEY")
    assert config.route == {"completion": ("team",)}


# --------------------------------------------------------------------------- editor layers


def test_editor_settings_override_the_file_key_by_key(tmp_path: Path) -> None:
    init = {"completion": {"max_tokens": 32, "deadline_ms": 900},
            "profiles": {"fast": {"model": "from-init", "fim": "deepseek"}}}
    workspace_settings = {"completion": {"deadline_ms": 700},
                          "profiles": {"fast": {"model": "from-settings"}}}

    config = from_text(tmp_path, FULL_EXAMPLE, overrides=[
        (init, "initializationOptions"), (workspace_settings, "workspace/configuration")])

    assert config.problems == ()
    assert config.completion.max_tokens == 32  # init beats the file
    assert config.completion.deadline_ms == 700  # workspace/configuration beats init
    assert config.context.window == 8192  # untouched file value
    fast = config.profiles["fast"]
    assert (fast.model, fast.fim, fast.url) == ("from-settings", "deepseek",
                                                "http://127.0.0.1:9999/v1")
    assert config.sources[1:] == ("initializationOptions", "workspace/configuration")


def test_editor_settings_alone_define_profiles_and_routes(tmp_path: Path) -> None:
    settings = {"profiles": {"team": {"backend": "llamacpp", "window": 4096}},
                "route": {"completion": ["team", "local"]}}

    config = load_config(workspace=tmp_path, environ={"XDG_CONFIG_HOME": str(tmp_path)},
                         overrides=[(settings, "workspace/configuration")])

    assert [p.name for p in config.chain("completion")] == ["team", "local"]
    assert config.profiles["team"].url == "http://127.0.0.1:8080"
    assert config.prompt_budget([p.window for p in config.chain("completion")]) == 4096 - 1024


def test_bad_editor_settings_name_their_source(tmp_path: Path) -> None:
    config = load_config(workspace=tmp_path, environ={"XDG_CONFIG_HOME": str(tmp_path)},
                         overrides=[({"completion": {"max_tokens": "many"}},
                                     "workspace/configuration"),
                                    (["not", "an", "object"], "initializationOptions"),
                                    (None, "workspace/configuration")])

    assert config.problems == (
        "initializationOptions: settings must be an object; ignored",
        "workspace/configuration: completion.max_tokens must be a whole number, got 'many'; "
        "the default is used",
    )
    assert config.completion.max_tokens == 128


# --------------------------------------------------------------------------- layers only tighten


@pytest.fixture
def user_and_repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A user config with exclusions and a profile, and a repository with its own file."""
    xdg = tmp_path / "xdg"
    write(xdg / "deskmate" / "config.toml", """\
        [privacy]
        exclude = ["customers/**", "*.sql"]
        [profiles.mine]
        backend = "ollama"
        url = "http://127.0.0.1:11434"
        model = "user-model"
        [route]
        completion = ["mine"]
        """)
    repo = tmp_path / "repo"
    write(repo / ".deskmate.toml", """\
        [privacy]
        exclude = ["generated/"]
        [completion]
        max_tokens = 40
        [profiles.mine]
        model = "repo-model"
        """)
    return repo, {"XDG_CONFIG_HOME": str(xdg)}


def test_a_workspace_file_adds_to_the_user_config_instead_of_replacing_it(
    user_and_repo: tuple[Path, dict[str, str]],
) -> None:
    repo, environ = user_and_repo

    config = load_config(workspace=repo, environ=environ)

    assert config.problems == ()
    assert config.privacy.exclude == ("customers/**", "*.sql", "generated/")
    assert config.completion.max_tokens == 40
    mine = config.profiles["mine"]
    assert (mine.backend, mine.url, mine.model) == ("ollama", "http://127.0.0.1:11434",
                                                    "repo-model")
    assert config.route == {"completion": ("mine",)}


@pytest.mark.parametrize("editor_exclude", [[], ["*.sql"], ["build/", "*.csv"]])
def test_no_layer_can_remove_an_exclusion_another_layer_set(
    user_and_repo: tuple[Path, dict[str, str]], editor_exclude: list[str],
) -> None:
    repo, environ = user_and_repo
    write(repo / ".deskmate.toml", "[privacy]\nexclude = []\n")

    config = load_config(workspace=repo, environ=environ, overrides=[
        ({"privacy": {"exclude": editor_exclude}}, "initializationOptions"),
        ({"privacy": {"exclude": []}}, "workspace/configuration")])

    assert config.privacy.exclude == tuple(dict.fromkeys(["customers/**", "*.sql",
                                                          *editor_exclude]))


def test_an_untrusted_workspace_cannot_reroute_the_users_profiles(
    user_and_repo: tuple[Path, dict[str, str]],
) -> None:
    repo, environ = user_and_repo
    write(repo / ".deskmate.toml", """\
        [profiles.mine]
        url = "http://attacker.example"
        [profiles.theirs]
        backend = "openai"
        [route]
        completion = ["theirs"]
        """)

    config = load_config(workspace=repo, environ=environ)

    assert config.profiles["mine"].url == "http://127.0.0.1:11434"
    assert config.route == {"completion": ("mine",)}
    assert "not trusted" in config.problems[0]

    set_trust(repo, True, environ)
    trusted = load_config(workspace=repo, environ=environ)
    assert trusted.profiles["mine"].url == "http://attacker.example"
    assert trusted.route == {"completion": ("theirs",)}
    assert trusted.privacy.exclude == ("customers/**", "*.sql")  # trust does not loosen


NUMBER_FIELDS = [(section, f.name, f.metadata) for section, cls in [*SECTIONS.items(),
                                                                   ("profiles", Profile)]
                 for f in fields(cls) if f.type in ("int", "float", int, float)]


def test_every_number_setting_is_bounded() -> None:
    assert {(s, k) for s, k, _ in NUMBER_FIELDS} >= {
        ("completion", "debounce_ms"), ("completion", "temperature"),
        ("completion", "deadline_ms"), ("context", "window"), ("profiles", "price_in")}
    for _, _, meta in NUMBER_FIELDS:
        assert float("-inf") < meta["min"] <= meta["max"] < float("inf")


@pytest.mark.parametrize(("section", "key", "meta"), NUMBER_FIELDS)
@pytest.mark.parametrize("bad", ["inf", "-inf", "nan", "1e300", "below", "above"])
def test_a_number_out_of_range_gives_one_message_naming_key_and_range(
    tmp_path: Path, section: str, key: str, meta: dict[str, Any], bad: str,
) -> None:
    low, high = meta["min"], meta["max"]
    value = {"below": low - 1, "above": high + 1}.get(bad, bad)
    if isinstance(value, int | float) and isinstance(low, float):
        value = float(value)
    table = "profiles.p" if section == "profiles" else section
    extra = 'backend = "openai"\n' if section == "profiles" else ""
    path = write(tmp_path / "deskmate.toml", f"[{table}]\n{extra}{key} = {value}\n")

    config = load_config(explicit=path, environ={})

    message = only_problem(config)
    line = 3 if extra else 2
    assert message.startswith(f"{path}, line {line}: {table}.{key} must be ")
    assert (f"must be between {low} and {high}, got " in message
            or "must be a whole number" in message)
    assert message.endswith("; the default is used")
    settings = config.profiles["p"] if section == "profiles" else getattr(config, section)
    default = next(f.default for f in fields(type(settings)) if f.name == key)
    assert getattr(settings, key) == default


def test_a_later_layer_cannot_re_include_with_a_negated_glob(
    user_and_repo: tuple[Path, dict[str, str]],
) -> None:
    repo, environ = user_and_repo
    write(repo / ".deskmate.toml", '[privacy]\nexclude = ["!customers/**", "tmp/", "!*.sql"]\n')

    config = load_config(workspace=repo, environ=environ, overrides=[
        ({"privacy": {"exclude": ["!customers/public.py"]}}, "initializationOptions")])

    assert config.privacy.exclude == ("customers/**", "*.sql", "tmp/")
    assert config.problems == (
        f"{repo / '.deskmate.toml'}, line 2: privacy.exclude cannot re-include what an earlier "
        "settings layer excludes (!customers/**, !*.sql); ignored",
        "initializationOptions: privacy.exclude cannot re-include what an earlier settings "
        "layer excludes (!customers/public.py); ignored")


def test_the_first_layer_with_globs_keeps_its_own_exceptions(tmp_path: Path) -> None:
    config = from_text(tmp_path, '[privacy]\nexclude = ["*.sql", "!public/x.sql"]\n',
                       overrides=[({"privacy": {"exclude": ["build/"]}}, "init")])

    assert config.problems == ()
    assert config.privacy.exclude == ("*.sql", "!public/x.sql", "build/")
