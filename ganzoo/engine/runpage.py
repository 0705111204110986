"""The run page: ``index.html`` in the run directory, one static file that opens from disk (no server).

It shows what a person judging a GAN run looks at: the run's settings, the
curves of every figure in ``log.jsonl`` against step (D and G loss, D(x) and
D(G(z)), the task's own terms, the ``eval/<figure>`` records of
``--eval-every``, lr and img/s), drawn as inline SVG so the page needs
nothing beside it but the sample grids, which follow, newest first.
The trainer rewrites it with every sample grid.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
from pathlib import Path
from typing import Any

from PIL import Image

from ..api import Task
from ..files import write_atomic

PAGE_NAME = "index.html"
LOG_NAME = "log.jsonl"
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
WIDTH, PLOT_HEIGHT = 400, 180  # the chart area's height; the legend above adds a line per row
LEFT, RIGHT, BOTTOM, LEGEND_LINE = 58, 14, 34, 15  # margins: tick labels left and below
GRID_SIDE = 640  # sample grids are shown enlarged by a whole factor, up to about this many pixels a side
MARKERS_UP_TO = 30  # points per series drawn as dots too (sparse evaluation curves stay visible)
SCORE = re.compile(r".+\(.+\)")  # D(x), D(G(z)), D_A(G(x)): the mean score a D gives (Loss.score)
Series = dict[str, list[tuple[int, float | None]]]


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a log.jsonl; a line that is not one (a partial last line after a crash) is skipped."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    return records


def panels(records: list[dict[str, Any]], d_nets: tuple[str, ...]) -> dict[str, Series]:
    """Every numeric figure as a series of (step, value), grouped into titled panels in reading order."""
    order = ["D loss", "G loss", "D scores", "task terms", "lr", "img/s", "evaluation"]
    keys = {key for record in records for key in record}
    grouped: dict[str, Series] = {}
    for record in records:
        for key, value in record.items():
            if key == "step" or isinstance(value, (bool, str, list, dict)):
                continue
            number = float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
            grouped.setdefault(_panel(key, d_nets, keys), {}).setdefault(key, []).append((record["step"], number))
    titles = {"G loss": "G loss (adversarial + the task's terms)",
              "D scores": "D scores: D's mean score for real and generated images, e.g. D(x) and D(G(z)) (the "
                          "loss's score: a probability of 'real' unless the loss reports its raw output)",
              "task terms": "the task's own terms",
              "lr": "learning rate (G)", "img/s": "images/s (D steps)"}
    ranked = sorted(grouped, key=lambda name: order.index(name.split(":")[0]))  # stable: as first logged
    return {titles.get(name, name): grouped[name] for name in ranked}


def _panel(key: str, d_nets: tuple[str, ...], keys: set[str]) -> str:
    if key.startswith("eval/"):  # a panel per figure; a baseline's (AtoB_identity_psnr) joins the model's (AtoB_psnr)
        parts = key.split("_")
        joined = ("_".join(parts[:i] + parts[-1:]) for i in range(1, len(parts) - 1))
        return f"evaluation: {next((k for k in joined if k in keys), key)[5:]}"
    if key == "d_loss" or key in d_nets:  # the total, and each D's own where a task has several
        return "D loss"
    if key == "g_loss":
        return "G loss"
    if SCORE.fullmatch(key):
        return "D scores"
    return {"lr": "lr", "img_per_s": "img/s"}.get(key, "task terms")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2 or 5 times a power of ten apart) covering low..high."""
    span = high - low
    raw = span / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def svg_plot(title: str, series: Series) -> str:
    """One inline SVG line chart: the series against step, shared axes, a legend above."""
    points = [(x, y) for values in series.values() for x, y in values if y is not None]
    steps = [x for values in series.values() for x, _ in values]
    x_low, x_high = min(steps), max(steps)
    if x_low == x_high:
        x_low, x_high = x_low - 1, x_high + 1
    ys = [y for _, y in points] or [0.0]
    y_low, y_high = min(ys), max(ys)
    if y_low == y_high:
        pad = abs(y_low) * 0.1 or 1.0
        y_low, y_high = y_low - pad, y_high + pad
    y_ticks = nice_ticks(y_low, y_high)
    y_low, y_high = min(y_low, y_ticks[0]), max(y_high, y_ticks[-1])
    x_ticks = [t for t in nice_ticks(x_low, x_high) if x_low <= t <= x_high]
    legend, row, at = [], 0, LEFT  # (name, x, row) of each legend entry, wrapped to the width
    for name in series:
        width = 18 + 6.2 * len(name)
        if at + width > WIDTH - RIGHT and at > LEFT:
            row, at = row + 1, LEFT
        legend.append((name, at, row))
        at += width + 10
    top = 8 + LEGEND_LINE * (row + 1)
    height = top + PLOT_HEIGHT + BOTTOM
    inner_w, inner_h = WIDTH - LEFT - RIGHT, PLOT_HEIGHT

    def px(x: float) -> float:
        return round(LEFT + (x - x_low) / (x_high - x_low) * inner_w, 1)

    def py(y: float) -> float:
        return round(top + (y_high - y) / (y_high - y_low) * inner_h, 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" role="img"><title>{html.escape(title)}</title>',
             f'<rect x="{LEFT}" y="{top}" width="{inner_w}" height="{inner_h}" fill="#fff" stroke="#bbb"/>']
    for t in y_ticks:
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py(t)}" y2="{py(t)}" stroke="#eee"/>'
                     f'<text x="{LEFT - 5}" y="{py(t) + 4}" text-anchor="end">{_fmt(t)}</text>')
    for t in x_ticks:
        parts.append(f'<line x1="{px(t)}" x2="{px(t)}" y1="{top}" y2="{top + inner_h}" stroke="#eee"/>'
                     f'<text x="{px(t)}" y="{top + inner_h + 15}" text-anchor="middle">{_fmt(t)}</text>')
    parts.append(f'<text x="{LEFT + inner_w / 2}" y="{height - 4}" text-anchor="middle" class="axis">step</text>')
    for i, ((name, values), (_, legend_x, legend_row)) in enumerate(zip(series.items(), legend, strict=True)):
        colour = COLOURS[i % len(COLOURS)]
        segments: list[list[tuple[int, float]]] = [[]]
        for x, y in values:
            if y is None:
                segments.append([])
            else:
                segments[-1].append((x, y))
        for segment in (s for s in segments if s):
            coords = " ".join(f"{px(x)},{py(y)}" for x, y in segment)
            parts.append(f'<polyline class="series" data-name="{html.escape(name)}" points="{coords}" fill="none" '
                         f'stroke="{colour}" stroke-width="1.6"><title>{html.escape(name)}</title></polyline>')
            if len(values) <= MARKERS_UP_TO:
                parts += [f'<circle cx="{px(x)}" cy="{py(y)}" r="2.5" fill="{colour}"/>' for x, y in segment]
        y = 8 + LEGEND_LINE * legend_row
        parts.append(f'<rect x="{legend_x}" y="{y}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{legend_x + 14}" y="{y + 9}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def settings_list(config: Any) -> str:
    """The run's resolved settings, one ``name value`` line each (unset ones left out)."""
    rows = []
    for name, value in dataclasses.asdict(config).items():
        if value is None or value == {} or value == []:
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        rows.append(f"<div><span>{html.escape(name)}</span> {html.escape(str(value))}</div>")
    return f'<div class="settings">{"".join(rows)}</div>'


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.2em 2em;color:#222;max-width:1500px}
h1{font-size:1.4em;margin-bottom:.2em} h2{font-size:1.1em;margin:1.2em 0 .5em;border-bottom:1px solid #ddd}
.summary{color:#555} .plots{display:flex;flex-wrap:wrap;gap:12px}
.plot{border:1px solid #ddd;border-radius:4px;background:#fafafa;font-size:11px}
.plot figcaption{font-weight:600;margin:4px 8px} .plot text{fill:#444} .plot text.axis{fill:#777}
figure{margin:0} .grids{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.grids img{image-rendering:pixelated;max-width:100%;height:auto}
.settings{column-width:16em;column-gap:2em;font-size:12px;line-height:1.5}
.settings div{break-inside:avoid} .settings span{color:#777;margin-right:.4em}
"""


def _grid_image(path: Path) -> str:
    """An <img> of a sample grid, enlarged by a whole factor (pixels stay crisp) to about GRID_SIDE."""
    with Image.open(path) as image:
        width, height = image.size
    scale = max(1, GRID_SIDE // max(width, height))
    return (f'<img src="samples/{path.name}" width="{width * scale}" height="{height * scale}" '
            f'alt="samples at step {int(path.stem[5:])}">')


def write_page(run_dir: Path, task: Task) -> Path:
    """Write ``run_dir/index.html`` from the run's log.jsonl, settings and sample grids."""
    config = task.config
    records = read_records(run_dir / LOG_NAME)
    charts = panels(records, task.d_nets)
    plots = "".join(f'<figure class="plot"><figcaption>{html.escape(title)}</figcaption>{svg_plot(title, series)}'
                    "</figure>" for title, series in charts.items())
    grids = sorted((run_dir / "samples").glob("step_*.png"), reverse=True)
    figures = "".join(f'<figure><figcaption>step {int(p.stem[5:])}</figcaption>{_grid_image(p)}</figure>'
                      for p in grids)
    last = max((r["step"] for r in records), default=0)
    summary = (f"{config.task}: {config.arch} + {config.loss} on {config.dataset}, {config.image_size} px; "
               f"step {last} of {config.steps}")
    page = (
        f"<!doctype html><html lang='en'><meta charset='utf-8'><title>ganzoo run {html.escape(run_dir.name)}</title>"
        f"<style>{STYLE}</style><h1>{html.escape(run_dir.name)}</h1><p class='summary'>{html.escape(summary)}</p>"
        f"<h2>Curves</h2><div class='plots'>{plots or '<p>nothing logged yet</p>'}</div>"
        f"<h2>Samples</h2><p>{html.escape(task.sample_caption)}</p><div class='grids'>{figures}</div>"
        f"<h2>Settings</h2>{settings_list(config)}</html>"
    )
    return write_atomic(run_dir / PAGE_NAME, page)
