"""The report as ONE self-contained HTML file: inline CSS and hand-drawn SVG bar charts, no external assets."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.campaign.report import COLUMNS, Figures, Report, cells
from bot.errors import ConfigError

_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}.charts{display:flex;flex-wrap:wrap;gap:2em}
svg text{font:12px system-ui,sans-serif}"""
_BAR, _LABEL, _WIDTH = 18, 110, 260


def bar_chart(title: str, bars: list[tuple[str, float | None]]) -> str:
    """A horizontal bar per label, 0-100 %; a missing value (nothing to divide by) is drawn as '-'."""
    height = 24 + len(bars) * (_BAR + 4)
    parts = [f'<svg role="img" width="{_LABEL + _WIDTH + 60}" '
             f'height="{height}"><title>{escape(title)}</title>',
             f'<text x="0" y="14" font-weight="bold">{escape(title)}</text>']
    for i, (label, value) in enumerate(bars):
        y = 22 + i * (_BAR + 4)
        width = round(_WIDTH * max(0.0, min(1.0, value or 0.0)))
        shown = "-" if value is None else f"{value:.1%}"
        parts.append(f'<text x="{_LABEL - 6}" y="{y + 13}" text-anchor="end">{escape(label[:18])}</text>'
                     f'<rect x="{_LABEL}" y="{y}" width="{_WIDTH}" height="{_BAR}" fill="#eee"/>'
                     f'<rect x="{_LABEL}" y="{y}" width="{width}" height="{_BAR}" fill="#3b7dd8"/>'
                     f'<text x="{_LABEL + _WIDTH + 6}" y="{y + 13}">{shown}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: list[Figures]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells(f)) + "</tr>" for f in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _section(title: str, rows: list[Figures]) -> str:
    charts = "".join(bar_chart(name, [(f.label, value(f)) for f in rows]) for name, value in (
        ("reach rate", lambda f: f.reach_rate), ("promise-to-pay rate", lambda f: f.ptp_rate),
        ("kept-promise rate", lambda f: f.kept_rate)))
    return f"<h2>{escape(title)}</h2>{_table(rows)}<div class=charts>{charts}</div>"


def render(report: Report) -> str:
    first = (report.first_attempt.astimezone(ZoneInfo(report.zone)).isoformat(sep=" ", timespec="minutes")
             if report.first_attempt else "no attempts yet")
    return "".join((
        "<!DOCTYPE html><html><head><meta charset=utf-8>",
        f"<title>collbot report: {escape(report.campaign)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Campaign {escape(report.campaign)}</h1>",
        f"<p>As of {report.today.isoformat()} ({escape(report.zone)}); first attempt {escape(first)}. "
        "Rates: reached / debtors, right party / reached, promised / reached, kept / (kept + broken). "
        "A promise is kept when payments from its day to its date + 1 day cover it. "
        f"Hours are local to {escape(report.zone)}. Script: {escape(report.script_note)}.</p>",
        _table([report.total]),
        _section("By round", report.by_round), _section("By hour of day", report.by_hour),
        _section("By script", report.by_script), "</body></html>\n"))


def write_html(report: Report, path: Path) -> None:
    """Write the file under a temporary name first: a half-written report never has the real name."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(render(report), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write the report: {exc.strerror or exc}", path=str(path)) from None
