"""The `deskmate` command: `serve` (the LSP server), `complete`, `doctor`."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from deskmate.context.engine import ContextEngine
from deskmate.server import logs
from deskmate.server.config import Config, load_config
from deskmate.server.errors import DeskmateError
from deskmate.server.jobs.snapshot import DocumentSnapshot


def main(argv: list[str] | None = None) -> int:
    _printable_output()
    args = _parser().parse_args(argv)
    logs.setup(args.verbose)
    try:
        code: int = args.run(args)
        return code
    except DeskmateError as exc:
        print(f"deskmate: {logs.mask(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _printable_output() -> None:
    """Text the terminal cannot encode (a lone surrogate in a file name, or in what a server
    sent) prints as '?' instead of ending the command with a traceback."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deskmate", description="A coding colleague in your editor (LSP server and tools).")
    _add_common(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT",
                       help="listen on TCP (loopback only) instead of stdio; clients send the "
                            "token in initialize as initializationOptions.token")
    serve.add_argument("--token-file", type=Path, metavar="PATH",
                       help="with --tcp: the token clients must send, read from PATH (a file "
                            "only you can read); default: a new one, printed on stderr")
    serve.set_defaults(run=_serve)

    complete = commands.add_parser("complete", help="print a completion at FILE:LINE:COL")
    complete.add_argument("location", metavar="FILE:LINE:COL",
                          help="1-based line and column (the column counts characters)")
    complete.add_argument("--json", action="store_true", help="print one JSON object")
    complete.set_defaults(run=_complete)

    context = commands.add_parser(
        "context", help="print the context packed for a completion at FILE:LINE:COL")
    context.add_argument("location", metavar="FILE:LINE:COL",
                         help="1-based line and column (the column counts characters)")
    context.add_argument("--budget", type=int, metavar="N",
                         help="total token budget of the prompt (default: window - "
                              "reserve_output)")
    context.add_argument("--json", action="store_true",
                         help="print one JSON object: the prompt and every section's decision")
    context.set_defaults(run=_context)

    doctor = commands.add_parser("doctor", help="check profiles, models and offline assets")
    doctor.set_defaults(run=_doctor)

    trust = commands.add_parser(
        "trust", help="let DIR's .deskmate.toml choose model servers, keys and routes")
    trust.add_argument("directory", metavar="DIR", nargs="?", type=Path, default=Path.cwd(),
                       help="the workspace (default: the current directory)")
    trust.add_argument("--revoke", action="store_true", help="stop trusting DIR")
    trust.set_defaults(run=_trust)

    for sub in (serve, complete, context, doctor, trust):
        _add_common(sub, suppress=True)
    return parser


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # Accepted before or after the subcommand; SUPPRESS keeps a subcommand's absent flag from
    # overwriting the value given before it.
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--config", type=Path, metavar="PATH", default=default,
                        help="config file (default: $DESKMATE_CONFIG, <workspace>/.deskmate.toml, "
                             "$XDG_CONFIG_HOME/deskmate/config.toml)")
    parser.add_argument("--workspace", type=Path, metavar="DIR", default=default,
                        help="workspace root (default: the git root of FILE, else the current "
                             "directory)")
    parser.add_argument("-v", "--verbose", action="count",
                        default=argparse.SUPPRESS if suppress else 0,
                        help="more logging on stderr (repeat for more)")


# --------------------------------------------------------------------------- serve


def _serve(args: argparse.Namespace) -> int:
    from deskmate.server.lsp import build_server

    if args.tcp:
        from deskmate.server.lsp import tcp
        from deskmate.server.lsp.server import serve_tcp

        address, port = tcp.listen_address(args.tcp)
        token = tcp.read_token_file(args.token_file) if args.token_file else tcp.new_token()
        serve_tcp(address, port, token=token, token_file=args.token_file,
                  config_path=args.config, workspace=args.workspace)
        return 0
    if args.token_file:
        raise DeskmateError("--token-file goes with --tcp HOST:PORT (stdio needs no token)")
    build_server(config_path=args.config, workspace=args.workspace).start_io()
    return 0


# --------------------------------------------------------------------------- complete, context


def parse_location(location: str) -> tuple[Path, int, int]:
    """FILE:LINE:COL → (file, line, col), both numbers 1-based."""
    try:
        file, line, col = location.rsplit(":", 2)
        line_number, column = int(line), int(col)
    except ValueError:
        raise DeskmateError(f"expected FILE:LINE:COL, got {location!r}") from None
    if line_number < 1 or column < 1:
        raise DeskmateError(f"LINE and COL start at 1, got {line_number}:{column}")
    return Path(file), line_number, column


def workspace_of(file: Path) -> Path:
    try:
        out = subprocess.run(["git", "-C", str(file.parent), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return Path.cwd()
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else Path.cwd()


def _cli_config(args: argparse.Namespace, workspace: Path) -> Config:
    config = load_config(explicit=args.config, workspace=workspace)
    for problem in config.problems:
        print(f"deskmate: config: {problem}", file=sys.stderr)
    for profile in config.profiles.values():
        logs.register_secret(profile.api_key())
    return config


def _snapshot(args: argparse.Namespace) -> tuple[DocumentSnapshot, Path]:
    """The file at FILE:LINE:COL as a job sees it, and its workspace."""
    file, line, column = parse_location(args.location)
    workspace = args.workspace or workspace_of(file.resolve())
    return DocumentSnapshot.from_file(file, workspace=workspace, line=line,
                                      column=column), workspace


def _engine(workspace: Path, exclude: tuple[str, ...]) -> tuple[ContextEngine, float]:
    """The context engine of a workspace with its index built (from the cache when it is
    fresh); the milliseconds that took."""
    started = time.perf_counter()
    engine = ContextEngine(workspace, exclude=exclude, workers=os.cpu_count() or 1)
    engine.build_index()
    return engine, (time.perf_counter() - started) * 1000


def _gate(snapshot: DocumentSnapshot, config: Config, workspace: Path) -> str | None:
    """The gate, before anything is indexed, read or sent: why the document must not reach a
    model (and the one-line message saying so is printed), or None."""
    from deskmate.server.jobs import gate

    engine = ContextEngine(workspace, exclude=config.privacy.exclude)
    reason = gate.exclusion(snapshot, engine)
    if reason is not None:
        print(f"deskmate: {gate.Excluded(snapshot.shown_path, reason)}", file=sys.stderr)
    return reason


def _context(args: argparse.Namespace) -> int:
    from deskmate.server.jobs.context_report import excluded_report, prompt_budget, report_context

    snapshot, workspace = _snapshot(args)
    config = _cli_config(args, workspace)
    configured = [p.window for p in config.chain("completion")]  # no model is loaded here
    budget = args.budget if args.budget is not None else prompt_budget(config, configured)
    if budget < 1:
        raise DeskmateError(f"--budget must be a positive number of tokens, got {budget}")
    if (reason := _gate(snapshot, config, workspace)) is not None:
        if args.json:  # what would be sent (nothing), and why
            print(json.dumps(excluded_report(budget, reason, index_ms=0.0), ensure_ascii=False))
        return 1
    engine, index_ms = _engine(workspace, config.privacy.exclude)
    report = asyncio.run(report_context(snapshot, engine, budget=budget, index_ms=index_ms))
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(report["prompt"], end="")
    return 0


def _complete(args: argparse.Namespace) -> int:
    from deskmate.server.jobs.complete import Completion, Completions
    from deskmate.server.jobs.runner import JobRunner
    from deskmate.server.router import Router

    snapshot, workspace = _snapshot(args)
    config = _cli_config(args, workspace)
    if _gate(snapshot, config, workspace) is not None:
        return 1
    engine, _ = _engine(workspace, config.privacy.exclude)

    async def run() -> int:
        router = Router()
        runner = JobRunner(config=lambda: config, router=router, engine=lambda: engine)
        try:
            result = await runner.run(Completions().job(), snapshot)
        finally:
            await router.aclose()
        if result.message:
            print(f"deskmate: {logs.mask(result.message)}", file=sys.stderr)
            return 1
        completion = result.value if isinstance(result.value, Completion) else None
        g = completion.generation if completion else None
        record = result.record
        if args.json:
            print(json.dumps({
                "text": completion.text if completion else "",
                "profile": g.profile if g else "",
                "model": g.model if g else "",
                "latency_ms": round(record.total_ms, 1),
                "first_token_ms": round(g.first_token_ms, 1) if g and g.first_token_ms else None,
                "prompt_tokens": g.prompt_tokens if g else 0,
                "output_tokens": g.output_tokens if g else 0,
                "usage_reported": g.usage_reported if g else False,
                "finish_reason": g.finish_reason if g else "",
                "context_tokens": completion.context.tokens
                if completion and completion.context else 0,
                "job": record.id,
                "attempts": [{"profile": a.profile, "outcome": a.outcome, "ms": a.ms,
                              "message": logs.mask(a.message)} for a in record.attempts],
            }, ensure_ascii=False))
        else:
            print(completion.text if completion else "")
        return 0

    return asyncio.run(run())


# --------------------------------------------------------------------------- trust


def _trust(args: argparse.Namespace) -> int:
    from deskmate.server.trust import set_trust, trust_file

    directory: Path = args.directory
    if not directory.is_dir():
        raise DeskmateError(f"{directory} is not a directory")
    changed = set_trust(directory, not args.revoke)
    state = "no longer trusted" if args.revoke else "trusted"
    note = "" if changed else " (it already was)" if not args.revoke else " (it was not)"
    print(f"{directory.resolve()}: {state}{note}; recorded in {trust_file()}")
    return 0


# --------------------------------------------------------------------------- doctor


def _doctor(args: argparse.Namespace) -> int:
    from deskmate.server.doctor import run_doctor

    workspace = args.workspace or Path.cwd()
    config = _cli_config(args, workspace)
    ok, lines = asyncio.run(run_doctor(config))
    print("\n".join(lines))
    return 0 if ok else 1
