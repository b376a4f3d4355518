"""`collbot script check|graph|chat|test`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.calls import bench, exit_on_mismatch, print_table
from bot.cli.context import out, settings

app = typer.Typer(no_args_is_help=True, help="Call scripts: check, chat, graph and test them.")


@app.command("check")
def script_check(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="Call script (YAML).")],
                 model: Annotated[Path | None, typer.Option("--model", help="Vosk model directory.")] = None,
                 pack: Annotated[str, typer.Option("--pack", help="Compliance pack the script will run under "
                                                                  "(kr requires a recording notice).")] = "default",
                 ) -> None:
    """Check a script: schema, graph, placeholders on every path, disclosure order, recording notice and
    vocabulary."""
    from bot.campaign.compliance import PACKS
    from bot.commands import check_script
    from bot.errors import InputError

    if pack not in PACKS:
        raise InputError(f"--pack {pack!r}: known packs are {', '.join(PACKS)}")
    problems, note = check_script(settings(ctx), file, model, recording_notice=PACKS[pack].recording_notice)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"collbot: error: {file}: {len(problems)} problem(s)", file=sys.stderr)
        raise typer.Exit(1)
    out.print(f"{file}: ok ({note})", highlight=False)


@app.command("graph")
def script_graph(file: Annotated[Path, typer.Argument(help="Call script (YAML).")],
                 fmt: Annotated[str, typer.Option("--format", help="mermaid or dot.")] = "mermaid") -> None:
    """Print the script's steps as a Mermaid or Graphviz diagram."""
    from bot.dialogue import graph
    from bot.dialogue.checker import load_script

    if fmt not in ("mermaid", "dot"):
        raise typer.BadParameter("--format is mermaid or dot")
    script, _ = load_script(file)
    sys.stdout.write(graph.mermaid(script) if fmt == "mermaid" else graph.dot(script))


@app.command("chat")
def script_chat(
    ctx: typer.Context,
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

    compiled = compiled_script(settings(ctx), file)
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


@app.command("test")
def script_test(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="Call script (YAML).")],
                personas: Annotated[Path, typer.Argument(help="Personas with expect: outcomes.")],
                concurrency: Annotated[int, typer.Option(min=1, max=500)] = 10) -> None:
    """Call the personas through the sandbox Asterisk and compare outcomes with expect:."""
    rows = bench(settings(ctx), file, personas, concurrency)
    print_table(rows)
    exit_on_mismatch(rows)


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
