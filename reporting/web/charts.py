"""Charts drawn on the server as inline SVG: no script, readable by screen readers.

`weekly_bars` draws escalations and resolutions per week as pairs of bars. In Persian the time
axis runs right to left, like the text around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup


@dataclass(frozen=True)
class Series:
    key: str
    name: str
    css_class: str


WIDTH, HEIGHT = 640, 276
TOP, BOTTOM, SIDE = 16, 52, 44
LINE = 19  # between an axis label's two lines


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, … that is at least `value` (and at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _axis_label(centre: float, label: str, axis: tuple[str, str | None] | None) -> str:
    """A group's label under the plot: one line, or a day over its month's name."""
    y = HEIGHT - BOTTOM + 18
    if axis is None:
        return (f'<text class="label" x="{centre:.1f}" y="{y}" '
                f'text-anchor="middle">{escape(label)}</text>')
    day, month = axis
    lines = f'<tspan x="{centre:.1f}" y="{y}">{escape(day)}</tspan>'
    if month:
        lines += f'<tspan class="month" x="{centre:.1f}" y="{y + LINE}">{escape(month)}</tspan>'
    return f'<text class="label" text-anchor="middle">{lines}</text>'


def weekly_bars(rows: Sequence[dict], series: Sequence[Series], labels: Sequence[str],
                title: str, rtl: bool, number=str,
                axis: Sequence[tuple[str, str | None]] | None = None) -> Markup:
    """A grouped bar chart: one group per row (labelled by `labels`), one bar per series.
    `number` formats axis and bar values (e.g. into Persian digits). `axis`, if given, is
    drawn under the groups instead of `labels`: a day over a month's name (or none), so long
    month names are whole and never overlap; `labels` still name each bar."""
    top_value = nice_ceiling(max((r[s.key] for r in rows for s in series), default=0))
    plot_w, plot_h = WIDTH - 2 * SIDE, HEIGHT - TOP - BOTTOM
    group_w = plot_w / max(len(rows), 1)
    bar_w = min(22.0, group_w * 0.7 / max(len(series), 1))
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'direction="{"rtl" if rtl else "ltr"}" aria-labelledby="chart-title" '
             'xmlns="http://www.w3.org/2000/svg">',
             f'<title id="chart-title">{escape(title)}</title>']
    for tick in (0, top_value / 2, top_value):
        y = TOP + plot_h - plot_h * tick / top_value
        # The axis is outside the plot: right of it in Persian, left in English. "end" is
        # the text's far side from the plot in either direction.
        x_text = WIDTH - SIDE + 6 if rtl else SIDE - 6
        parts.append(f'<line class="grid" x1="{SIDE}" x2="{WIDTH - SIDE}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/>')
        shown = number(int(tick)) if tick == int(tick) else number(tick)
        parts.append(f'<text class="tick" x="{x_text}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{escape(shown)}</text>')
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        slot = len(rows) - 1 - i if rtl else i
        centre = SIDE + group_w * (slot + 0.5)
        ordered = list(reversed(series)) if rtl else list(series)
        start = centre - bar_w * len(series) / 2
        for j, s in enumerate(ordered):
            value = row[s.key]
            h = plot_h * value / top_value
            x, y = start + j * bar_w, TOP + plot_h - h
            parts.append(
                f'<rect class="{s.css_class}" x="{x + 1:.1f}" y="{y:.1f}" '
                f'width="{bar_w - 2:.1f}" height="{h:.1f}" rx="2">'
                f'<title>{escape(label)} — {escape(s.name)}: {escape(number(value))}</title>'
                f'</rect>')
        parts.append(_axis_label(centre, label, None if axis is None else axis[i]))
    parts.append("</svg>")
    return Markup("".join(parts))
