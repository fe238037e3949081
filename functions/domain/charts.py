"""Small bar charts for the weekly report email, as inline SVG and as HTML/CSS bars (pure, no I/O).

Inline SVG renders in Apple Mail (macOS, iOS), Thunderbird, Outlook on the web
and most webmail clients; Gmail and desktop Outlook drop it. So every chart
also comes as a table of CSS bars (``table_bars``), which renders everywhere.
Labels and titles are escaped here: nothing from data reaches the markup raw.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Optional, Sequence

WIDTH, BAR_HEIGHT, GAP, LABEL_WIDTH, VALUE_WIDTH = 420, 18, 6, 110, 70
COLOURS = ("#2f6fdf", "#9aa5b1")


@dataclass(frozen=True)
class Bar:
    label: str
    value: Optional[float]  # None: no data
    previous: Optional[float] = None  # last week's, drawn thinner beneath

    def text(self, unit: str) -> str:
        return "–" if self.value is None else f"{self.value:g}{unit}"


def svg_bars(title: str, bars: Sequence[Bar], unit: str = "") -> str:
    """A horizontal bar chart; each bar may carry last week's value as a thin grey bar under it."""
    top = max([b.value or 0 for b in bars] + [b.previous or 0 for b in bars] + [1])
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = 24 + len(bars) * (BAR_HEIGHT + GAP)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
             'style="font-family:Arial,Helvetica,sans-serif;font-size:12px">',
             f'<title>{escape(title)}</title>',
             f'<text x="0" y="14" font-weight="bold" fill="#222">{escape(title)}</text>']
    for n, bar in enumerate(bars):
        y = 24 + n * (BAR_HEIGHT + GAP)
        parts.append(f'<text x="0" y="{y + 13}" fill="#333">{escape(bar.label[:18])}</text>')
        width = round(span * (bar.value or 0) / top, 1)
        parts.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR_HEIGHT - 6}" fill="{COLOURS[0]}"/>')
        if bar.previous is not None:
            previous = round(span * bar.previous / top, 1)
            parts.append(f'<rect x="{LABEL_WIDTH}" y="{y + BAR_HEIGHT - 5}" width="{previous}" height="3" '
                         f'fill="{COLOURS[1]}"/>')
        parts.append(f'<text x="{LABEL_WIDTH + span + 6}" y="{y + 13}" fill="#333">{escape(bar.text(unit))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def table_bars(title: str, bars: Sequence[Bar], unit: str = "") -> str:
    """The same chart as an HTML table with CSS-width cells: the fallback that every mail client renders."""
    top = max([b.value or 0 for b in bars] + [1])
    rows = []
    for bar in bars:
        pct = max(1, round(100 * (bar.value or 0) / top)) if bar.value else 0
        cell = (f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr>'
                f'<td width="{pct}%" style="background:{COLOURS[0]};height:10px;font-size:0;line-height:0">&nbsp;</td>'
                f'<td style="font-size:0;line-height:0">&nbsp;</td></tr></table>') if pct else ""
        rows.append(f'<tr><td style="padding:2px 8px 2px 0;white-space:nowrap">{escape(bar.label)}</td>'
                    f'<td width="240" style="padding:2px 0">{cell}</td>'
                    f'<td style="padding:2px 0 2px 8px;white-space:nowrap">{escape(bar.text(unit))}</td></tr>')
    return (f'<table role="presentation" cellpadding="0" cellspacing="0" style="font-family:Arial,Helvetica,'
            f'sans-serif;font-size:12px"><caption style="text-align:left;font-weight:bold;padding-bottom:4px">'
            f'{escape(title)}</caption>{"".join(rows)}</table>')
