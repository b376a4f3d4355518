"""The collbot command: thin, it parses, calls and prints. Errors become one line and exit 1."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.config import Settings, load_settings
from bot.errors import CollbotError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="collbot: a voice collections robot for Asterisk.")
sandbox_app = typer.Typer(no_args_is_help=True, help="The bundled sandbox Asterisk (Debian sid, chrooted).")
sim_app = typer.Typer(no_args_is_help=True, help="Simulated carrier and customers in the sandbox.")
app.add_typer(sandbox_app, name="sandbox")
script_app = typer.Typer(no_args_is_help=True, help="Call scripts: check, chat, graph and test them.")
app.add_typer(sim_app, name="sim")
app.add_typer(script_app, name="script")
DEFAULT_SCRIPT = Path("scripts/reminder-ko.yaml")
ScriptOpt = Annotated[Path, typer.Option("--script", help="Call script the robot follows.")]
# Tables stay readable when the output is a file or a CI log, not only in a wide terminal.
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Settings file (default: ./collbot.yaml if present).")
]
_state: dict[str, Settings] = {}


@app.callback()
def _main(config: ConfigOpt = None) -> None:
    from bot.logutil import setup_logging

    settings = load_settings(config)
    setup_logging(settings)
    _state["settings"] = settings


def settings() -> Settings:
    return _state["settings"]


@sandbox_app.command("up")
def sandbox_up() -> None:
    """Build (once) and start the sandbox Asterisk; returns when AMI accepts a login."""
    from bot.telephony.sandbox import Sandbox

    started = time.monotonic()
    status = Sandbox(settings(), progress=lambda m: err.print(f"[dim]{m}[/dim]")).up()
    out.print(f"sandbox up in {time.monotonic() - started:.1f}s: {status.version} "
              f"(pid {status.pid}), AMI 127.0.0.1:{status.ami_port}, FastAGI 127.0.0.1:{status.agi_port}")


@sandbox_app.command("down")
def sandbox_down() -> None:
    """Stop the sandbox Asterisk (only the one it started) and unmount what it mounted."""
    from bot.telephony.sandbox import Sandbox

    was = Sandbox(settings()).down()
    out.print("sandbox stopped" if was else "sandbox was not running")


@sandbox_app.command("status")
def sandbox_status() -> None:
    """Whether the sandbox runs, its version and its ports."""
    from bot.telephony.sandbox import Sandbox

    s = Sandbox(settings()).status()
    state = f"running (pid {s.pid}), {s.version}" if s.running else "stopped"
    out.print(f"sandbox: {state}\nroot: {s.root}\nAMI: 127.0.0.1:{s.ami_port}\nFastAGI: 127.0.0.1:{s.agi_port}")
    if not s.running:
        raise typer.Exit(3)


@sim_app.command("load")
def sim_load(personas: Annotated[Path, typer.Argument(help="Personas YAML file.")]) -> None:
    """Install simulated customers into the running sandbox."""
    from bot.commands import load_personas

    loaded = asyncio.run(load_personas(settings(), personas))
    out.print(f"loaded {len(loaded.personas)} personas from {personas}")


@app.command("call")
def call(personas: Annotated[Path, typer.Argument(help="Personas file whose entries carry debtor data.")],
         script: ScriptOpt = DEFAULT_SCRIPT,
         concurrency: Annotated[int, typer.Option(min=1, max=500, help="Calls in flight at once.")] = 10) -> None:
    """Call every persona that carries debtor data and print one row per call."""
    from bot.commands import call_personas, compiled_script

    compiled = compiled_script(settings(), script)
    rows = asyncio.run(call_personas(settings(), personas, script=compiled, concurrency=concurrency,
                                     progress=_progress))
    _print_table(rows)
    _exit_on_mismatch(rows)


@app.command("demo")
def demo(personas: Annotated[Path, typer.Argument(help="Personas file.")] = Path("demo/personas.yaml"),
         script: ScriptOpt = DEFAULT_SCRIPT,
         concurrency: Annotated[int, typer.Option(min=1, max=500)] = 10) -> None:
    """Start the sandbox, load the demo customers, call them and show what happened."""
    started = time.monotonic()
    rows = _bench(script, personas, concurrency)
    _print_table(rows)
    s = settings()
    out.print(f"database: {s.database.url}\nlogs: {s.log.file or 'var/collbot.log'}\n"
              f"recordings: {s.host_path(s.asterisk.spool_dir)}\n"
              f"demo took {time.monotonic() - started:.0f}s")
    _exit_on_mismatch(rows)


@app.command("import")
def import_debtors_cmd(
    file: Annotated[Path, typer.Argument(help="Debtors CSV: id, name, phone, amount, currency, due_date, ...")],
    rejects: Annotated[Path | None, typer.Option(help="Where rejected rows go (default: FILE.rejects.csv).")] = None,
) -> None:
    """Import or update debtors from a CSV file; rejected rows are written with their line and reason."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from bot.campaign.importer import check_header, import_debtors
    from bot.store.repo import open_store

    check_header(file)  # a file-level problem is reported before any database is created
    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                   console=err, transient=True, disable=file.stat().st_size <= 1_000_000)
    task = bar.add_task("importing", total=None)
    with bar, open_store(settings().database.url) as store:
        report = import_debtors(file, store, settings().dial, rejects=rejects, progress=lambda done, total, rows:
                                bar.update(task, completed=done, total=total, description=f"{rows:,} rows"))
    where = f" (rejects written to {report.rejects_path})" if report.rejected else ""
    out.print(f"imported {report.imported}, updated {report.updated}, rejected {report.rejected}{where}",
              soft_wrap=True, highlight=False, markup=False)


def _exit_on_mismatch(rows: list[dict[str, str]]) -> None:
    if any(r["ok"] == "NO" for r in rows):
        err.print("collbot: some calls did not end as their personas expect (rows marked NO)")
        raise typer.Exit(1)


def _bench(script: Path, personas: Path, concurrency: int) -> list[dict[str, str]]:
    from bot.commands import call_personas, compiled_script, load_personas
    from bot.telephony.sandbox import Sandbox

    compiled = compiled_script(settings(), script)  # a broken script never calls anyone
    Sandbox(settings(), progress=lambda m: err.print(f"[dim]{m}[/dim]")).up()
    asyncio.run(load_personas(settings(), personas))
    return asyncio.run(call_personas(settings(), personas, script=compiled, concurrency=concurrency,
                                     progress=_progress))


@script_app.command("check")
def script_check(file: Annotated[Path, typer.Argument(help="Call script (YAML).")],
                 model: Annotated[Path | None, typer.Option("--model", help="Vosk model directory.")] = None) -> None:
    """Check a script: schema, graph, placeholders, disclosure order and vocabulary."""
    from bot.commands import check_script

    problems, note = check_script(settings(), file, model)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"collbot: error: {file}: {len(problems)} problem(s)", file=sys.stderr)
        raise typer.Exit(1)
    out.print(f"{file}: ok ({note})", highlight=False)


@script_app.command("graph")
def script_graph(file: Annotated[Path, typer.Argument(help="Call script (YAML).")],
                 fmt: Annotated[str, typer.Option("--format", help="mermaid or dot.")] = "mermaid") -> None:
    """Print the script's steps as a Mermaid or Graphviz diagram."""
    from bot.dialogue import graph
    from bot.dialogue.checker import load_script

    if fmt not in ("mermaid", "dot"):
        raise typer.BadParameter("--format is mermaid or dot")
    script, _ = load_script(file)
    sys.stdout.write(graph.mermaid(script) if fmt == "mermaid" else graph.dot(script))


@script_app.command("chat")
def script_chat(
    file: Annotated[Path, typer.Argument(help="Call script (YAML).")],
    debtor: Annotated[list[str] | None, typer.Option("--debtor", help="key=value, e.g. name=김민준.")] = None,
    replies: Annotated[Path | None, typer.Option("--replies", help="YAML list of replies instead of typing.")] = None,
    today: Annotated[str | None, typer.Option(help="Date the conversation happens (YYYY-MM-DD).")] = None,
) -> None:
    """Talk to a script in text: type replies, '#1' for a key, empty for silence, /hangup."""
    import datetime as dt

    from bot.commands import chat, compiled_script, debtor_from_values
    from bot.dialogue.chat import ChatChannel, reply_from_line
    from bot.errors import InputError

    compiled = compiled_script(settings(), file)
    values = dict(_pair(v) for v in debtor or [])
    person = debtor_from_values(values, compiled.script.language)
    queue = _replies(replies) if replies else None

    def next_reply(spec: object) -> object:
        if queue is not None:
            return queue.pop(0) if queue else None
        try:
            return reply_from_line(input("you> "))
        except EOFError:
            return {"hangup": True}

    try:
        day = dt.date.fromisoformat(today) if today else dt.date.today()
    except ValueError as exc:
        raise InputError(f"--today: {exc}") from exc
    channel = ChatChannel(next_reply, lambda line: print(line))  # type: ignore[arg-type]
    result = asyncio.run(chat(compiled, person, channel, today=day))
    print(f"path: {' > '.join(result.path)}")
    print(f"slots: {', '.join(f'{k}={v}' for k, v in result.slots.items()) or '-'}")
    detail = ", ".join(f"{k}={v}" for k, v in result.detail.items())
    print(f"outcome: {result.outcome.value}" + (f" ({detail})" if detail else ""))


@script_app.command("test")
def script_test(file: Annotated[Path, typer.Argument(help="Call script (YAML).")],
                personas: Annotated[Path, typer.Argument(help="Personas with expect: outcomes.")],
                concurrency: Annotated[int, typer.Option(min=1, max=500)] = 10) -> None:
    """Call the personas through the sandbox Asterisk and compare outcomes with expect:."""
    rows = _bench(file, personas, concurrency)
    _print_table(rows)
    _exit_on_mismatch(rows)


def _pair(text: str) -> tuple[str, str]:
    from bot.errors import InputError

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"--debtor {text!r}: write key=value")
    return key.strip(), value.strip()


def _replies(path: Path) -> list[object]:
    from bot.errors import ConfigError
    from bot.yamlfile import load_yaml

    loaded = load_yaml(path) if path.suffix in (".yaml", ".yml") else None
    if loaded is None or not isinstance(loaded.data.get("replies"), list):
        raise ConfigError("a replies file is YAML with a top-level 'replies:' list", path=str(path))
    return list(loaded.data["replies"])


def _progress(row: dict[str, str]) -> None:
    err.print(f"[dim]{row['number']}: {row['result']} {row['outcome']}[/dim]")


COLUMNS = ("number", "debtor", "behavior", "result", "cause", "outcome", "detail", "expected", "ok")


def _print_table(rows: list[dict[str, str]]) -> None:
    table = Table(title="collbot calls")
    for column in COLUMNS:
        table.add_column(column, no_wrap=column != "detail")
    for row in rows:
        table.add_row(*(row[c] for c in COLUMNS))
    out.print(table)
    checked = [r for r in rows if r["expected"]]
    matched = sum(r["ok"] == "yes" for r in checked)
    out.print(f"{len(rows)} calls; {matched} of {len(checked)} ended as their persona expects")


def _register_campaign_commands() -> None:
    from bot.cli_campaign import campaign_app, run_cmd, serve_cmd

    app.command("run")(run_cmd)
    app.command("serve")(serve_cmd)
    app.add_typer(campaign_app, name="campaign")


@app.command("export")
def export_cmd(campaign: Annotated[str, typer.Argument(help="Campaign name.")],
               output: Annotated[Path, typer.Option("-o", "--output", help="CSV file to write.")],
               attempts: Annotated[bool, typer.Option("--attempts", help="One row per attempt.")] = False,
               full_phone: Annotated[bool, typer.Option("--full-phone", help="Do not mask numbers.")] = False) -> None:
    """Export a campaign's results as CSV (numbers masked unless --full-phone)."""
    from bot.campaign.export import export
    from bot.errors import StoreError
    from bot.store.repo import open_store

    with open_store(settings().database.url) as store:
        if store.campaign_status(campaign) is None:
            raise StoreError(f"no campaign {campaign!r}")
        count = export(store, campaign, output, attempts=attempts, full_phone=full_phone, script="")
    out.print(f"wrote {count} rows to {output}")


_register_campaign_commands()


def _register_results_commands() -> None:
    from bot.cli_results import payments_app, report_cmd

    app.add_typer(payments_app, name="payments")
    app.command("report")(report_cmd)


_register_results_commands()
__import__("bot.cli_cases").cli_cases.register(app)  # collbot cases ..., collbot agents ...


def _register_web_commands() -> None:
    from bot.cli_web import web_app

    app.add_typer(web_app, name="web")


_register_web_commands()


def main() -> None:
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except CollbotError as exc:
        print(f"collbot: error: {exc}", file=sys.stderr)  # never wrapped or styled: one line per problem
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        err.print("collbot: interrupted")
        sys.exit(130)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except Exception as exc:  # click usage errors etc.
        # newer typer releases vendor click (typer._click) instead of depending on it: match the
        # exception by what it offers rather than importing a click that may not be installed
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise
