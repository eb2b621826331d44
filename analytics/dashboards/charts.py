"""Charts drawn on the server as inline SVG: no JavaScript and nothing from a CDN, so they work on a
closed network, print, and read the same in every browser. Each chart's numbers are also in the table
below it; the SVG has a title and each point a tooltip."""

from __future__ import annotations

import math
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from analytics.dashboards.base import Chart

PALETTE = ["#417690", "#e08e0b", "#5b9f4a", "#b94a48", "#7a5ea8", "#8c8c8c"]
WIDTH = 960


def compact(value: float) -> str:
    """An axis label: 12k / 1.2M in English, 1.2万 / 3亿 in Chinese."""
    v = float(value)
    chinese = (get_language() or "").lower().startswith("zh")
    steps = [(1e8, "亿"), (1e4, "万")] if chinese else [(1e9, "B"), (1e6, "M"), (1e3, "k")]
    for size, suffix in steps:
        if abs(v) >= size:
            return f"{v / size:.1f}".rstrip("0").rstrip(".") + suffix
    if v == int(v):
        return f"{int(v):,}"
    return f"{v:,.2f}".rstrip("0").rstrip(".")


def nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    fraction = value / 10**exponent
    for step in (1, 2, 2.5, 5, 10):
        if fraction <= step:
            return step * 10**exponent
    return 10 ** (exponent + 1)


def _number(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, Decimal | int | float):
        return float(value)
    return None


def _legend(chart: Chart, y: int) -> list[str]:
    parts, x = [], 60
    for i, series in enumerate(chart.series):
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{y - 9}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 18}" y="{y + 1}" class="legend">{escape(series.name)}</text>')
        x += 30 + 8 * len(str(series.name)) + (6 * sum(1 for ch in str(series.name) if ord(ch) > 0x2E80))
    return parts


def line_chart(chart: Chart, height: int = 260) -> SafeString:
    left, right, top, bottom = 64, 16, 30, 34
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    values = [v for s in chart.series for v in map(_number, s.values) if v is not None]
    low = min([0.0, *values])
    high = nice_ceiling(max([0.0, *values]))
    span = (high - low) or 1.0
    n = len(chart.labels)

    def x_at(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y_at(v: float) -> float:
        return top + plot_h * (1 - (v - low) / span)

    parts = [f"<title>{escape(chart.title)}</title>", *_legend(chart, 14)]
    for k in range(5):
        v = low + span * k / 4
        y = y_at(v)
        parts.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{escape(compact(v))}</text>')
    every = max(1, math.ceil(n / 10))
    for i, label in enumerate(chart.labels):
        if i % every == 0:
            parts.append(
                f'<text x="{x_at(i):.1f}" y="{height - bottom + 16}" class="axis" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    for s_index, series in enumerate(chart.series):
        colour = PALETTE[s_index % len(PALETTE)]
        run: list[str] = []
        runs: list[list[str]] = []
        for i, raw in enumerate(series.values):
            v = _number(raw)
            if v is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append(f"{x_at(i):.1f},{y_at(v):.1f}")
            tip = f"{chart.labels[i]} · {series.name}: {compact(v)}{chart.unit}"
            parts.append(
                f'<circle cx="{x_at(i):.1f}" cy="{y_at(v):.1f}" r="{3 if n <= 62 else 1.5}" fill="{colour}">'
                f"<title>{escape(tip)}</title></circle>"
            )
        if run:
            runs.append(run)
        for points in runs:
            if len(points) > 1:
                parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="2"/>')
    return _svg(chart, height, parts)


def bar_chart(chart: Chart) -> SafeString:
    left, right, top, row = 170, 90, 30, 26
    series_count = max(1, len(chart.series))
    height = top + row * max(1, len(chart.labels)) + 10
    values = [v for s in chart.series for v in map(_number, s.values) if v is not None]
    high = nice_ceiling(max([0.0, *values]))
    plot_w = WIDTH - left - right
    bar_h = (row - 8) / series_count
    parts = [f"<title>{escape(chart.title)}</title>"]
    if len(chart.series) > 1:
        parts += _legend(chart, 14)
    for i, label in enumerate(chart.labels):
        y = top + row * i
        parts.append(
            f'<text x="{left - 8}" y="{y + row / 2 + 4:.1f}" class="axis" text-anchor="end">{escape(label)}</text>'
        )
        for s_index, series in enumerate(chart.series):
            v = _number(series.values[i]) or 0.0
            w = max(0.0, plot_w * v / high)
            colour = PALETTE[s_index % len(PALETTE)]
            by = y + 4 + bar_h * s_index
            tip = f"{label} · {series.name}: {compact(v)}{chart.unit}"
            parts.append(
                f'<rect x="{left}" y="{by:.1f}" width="{w:.1f}" height="{bar_h - 1:.1f}" fill="{colour}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            parts.append(
                f'<text x="{left + w + 6:.1f}" y="{by + bar_h / 2 + 3:.1f}" class="value">'
                f"{escape(compact(v))}{escape(chart.unit)}</text>"
            )
    return _svg(chart, height, parts)


def _svg(chart: Chart, height: int, parts: list[str]) -> SafeString:
    body = "".join(parts)
    # Every text above went through escape().
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(chart.title)}" '
        f'preserveAspectRatio="xMinYMin meet">{body}</svg>'
    )


def render(chart: Chart) -> SafeString:
    return bar_chart(chart) if chart.kind == "bar" else line_chart(chart)
