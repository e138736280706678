"""Render a fidelity report (``Report.to_dict()``) as one self-contained HTML page.

The page needs nothing but a browser: the CSS is inline, every chart is inline SVG drawn here
(no JavaScript, no fonts, images or scripts fetched from anywhere), and long sections fold into
``<details>``. Every string that comes from the data (source labels, table, column and category
names, constraint text, notes) goes through :func:`html.escape`.

Layout, top to bottom:

- header: the real and synthetic source labels and the relsynth version;
- summary cards coloured by score, each with one line on how to read it and links to its
  weakest columns, tables or relationships (the overall card names the weakest families);
- an overview of every table and relationship (links to their sections; empty tables and
  tables without comparable columns are tagged);
- the integrity checks on the synthetic data, violations first and in red;
- per table: row counts, the table's notes, column-shape small multiples (worst first), the
  real / synthetic / |difference| association heatmaps, the column-pair trends (worst first,
  with the association measure of each side: Pearson r, Cramér's V or η) and the detection AUC;
  a table with nothing to compare (empty, or only keys and generated text) is one line;
- per relationship: the children-per-parent histogram, the parent-child and aggregate trends
  (worst first) and the detection AUC;
- ML efficacy and the notes.

Scores in [0, 1] show as percentages (green ≥ 90 %, amber ≥ 75 %, red below); detection AUCs
show as decimals (0.5 ideal: green within 0.10 of it, amber within 0.25, red beyond). Colours
follow the printed (rounded) number, so they always agree with the key. A missing score shows
as "—".

Usage::

    from pathlib import Path
    from relsynth.evaluate.html import render_html

    Path("report.html").write_text(render_html(report.to_dict()), encoding="utf-8")
"""

from __future__ import annotations

import functools
import html
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["render_html"]

_DASH = "—"
_REAL = "#0072B2"  # Okabe-Ito blue and vermillion: distinct for every common colour-vision type
_SYNTH = "#D55E00"
_NA_FILL = "#d9dce1"
#: Diverging scale for associations in [-1, 1] (ColorBrewer RdBu, reversed: blue −1, red +1).
_DIVERGING = ("#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7",
              "#fddbc7", "#f4a582", "#d6604d", "#b2182b")
#: Sequential scale for |real − synthetic| in [0, _DIFF_MAX] (ColorBrewer Purples).
_SEQUENTIAL = ("#fcfbfd", "#efedf5", "#dadaeb", "#bcbddc", "#9e9ac8",
               "#807dba", "#6a51a3", "#54278f", "#3f007d")
_DIFF_MAX = 0.5
_TOP_ROWS = 10  # rows of a worst-first table shown before the <details>
_MAX_PAIRS = 50  # pairs listed per table (worst first); 30 columns make 435, the JSON has them all
_TOP_COLUMNS = 12  # column charts shown before the <details>
_MAX_CATEGORIES = 24  # bars per categorical chart; the rest are summed into one bar
_CELL_TOOLTIPS = 12  # heatmaps of up to this many columns get one tooltip per cell
_HEAT_LABEL = 16  # characters of a column name beside a heatmap

# ---------------------------------------------------------------------------------------------
# Values and formatting


def _e(value: Any) -> str:
    """Escaped text of any value (None as the empty string)."""
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any) -> float | None:
    """A finite float, or None for null, NaN, infinities, booleans and non-numbers."""
    kind = type(value)
    if kind is not float and kind is not int and (kind is bool or not isinstance(value, numbers.Real)):
        return None  # (exact float / int first: this runs for every heatmap cell)
    f = float(value)
    return f if math.isfinite(f) else None


def _shares(values: Any) -> list[float]:
    """A list of shares; nulls and non-numbers count as 0."""
    return [max(_num(v) or 0.0, 0.0) for v in _list(values)]


def _paired_shares(plot: Mapping[str, Any], length: int = 0) -> tuple[list[float], list[float]]:
    """The real and synthetic shares of a chart, padded with zeros to one length (at least ``length``)."""
    real, synth = _shares(plot.get("real")), _shares(plot.get("synthetic"))
    n = max(len(real), len(synth), length)
    return real + [0.0] * (n - len(real)), synth + [0.0] * (n - len(synth))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    """A list from a list, tuple or numpy array; [] from null, strings, mappings and scalars."""
    if value is None or isinstance(value, (str, bytes, Mapping)):
        return []
    if hasattr(value, "tolist"):
        value = value.tolist()
    return list(value) if isinstance(value, (list, tuple)) else []


def _pct(value: Any) -> str:
    n = _num(value)
    return _DASH if n is None else f"{n * 100:.1f}%"


def _dec(value: Any, digits: int = 2) -> str:
    n = _num(value)
    if n is None:
        return _DASH
    n = round(n, digits) + 0.0  # no "−0.00"
    return f"{n:.{digits}f}".replace("-", "−")


def _mean_text(value: Any) -> str:
    """A mean with two decimals, or two significant digits below 0.1 (0.0033, not 0.00)."""
    n = _num(value)
    if n is not None and 0 < abs(n) < 0.1:
        return f"{n:.2g}".replace("-", "−")
    return _dec(value)


def _int(value: Any) -> str:
    n = _num(value)
    return _DASH if n is None else f"{round(n):,}"


def _compact(value: Any) -> str:
    """A number in at most ~6 characters: 12, 0.25, 27.4, 2019, 12.3k, 4.5M, 1.2e-5, 3.1e17."""
    n = _num(value)
    if n is None:
        return _DASH
    if n == 0:
        return "0"
    a = abs(n)
    if a < 1e-3 or a >= 1e15:
        return f"{n:.1e}".replace(".0e", "e").replace("e-0", "e-").replace("e+", "e")
    if a < 1e4:  # 2019 stays 2019, 135.47 becomes 135, 27.43 becomes 27.4
        return f"{n:.0f}" if a >= 100 else f"{n:.3g}"
    n = float(f"{n:.3g}")
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}"
    return f"{n:.3g}"  # pragma: no cover - unreachable (a >= 1e4)


def _share_tick(value: float) -> str:
    return f"{value * 100:.2f}".rstrip("0").rstrip(".") + "%"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"


def _middle(text: str, limit: int) -> str:
    """``text`` cut in the middle to ``limit`` characters: 'adven…rks\\linda3'."""
    if len(text) <= limit:
        return text
    head = max(limit // 3, 1)
    tail = max(limit - head - 1, 1)
    return text[:head] + "…" + text[-tail:]


def _shorten_all(texts: Sequence[str], limit: int) -> list[str]:
    """Labels of at most ``limit`` characters that keep distinct texts distinct where possible.

    Cut at the end by default; texts whose cut collides with another's ("adventure-works\\linda3"
    and "adventure-works\\jose1" both becoming "adventure-works…") are cut in the middle instead.
    """
    shown = [_truncate(t, limit) for t in texts]
    seen: dict[str, set[str]] = {}
    for text, cut in zip(texts, shown):
        seen.setdefault(cut, set()).add(text)
    return [_middle(text, limit) if len(seen[cut]) > 1 else cut for text, cut in zip(texts, shown)]


_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]00:00(:00(\.0+)?)?$")


def _short_label(text: str) -> str:
    """Tick text of a histogram label: dates at midnight lose their time, ISO 'T' becomes a space."""
    m = _MIDNIGHT.match(text)
    if m:
        return m.group(1)
    if re.match(r"^\d{4}-\d{2}-\d{2}T\d", text):
        text = text.replace("T", " ", 1)
    return re.sub(r"(\d{2}:\d{2}):00(\.0+)?$", r"\1", text)


def _grade(value: Any, *, auc: bool = False) -> str:
    """CSS class of a score: good / warn / bad, or na when there is none."""
    n = _num(value)
    if n is None:
        return "na"
    # graded as shown, so the colour agrees with the printed number and the key: an AUC of 0.7519
    # prints as 0.75 and is amber (≤ 0.75), a score of 0.8996 prints as 90.0% and is green
    n = round(n, 2) if auc else round(n, 3)
    if auc:
        gap = abs(n - 0.5)  # 0.3 is as separable as 0.7
        return "good" if gap <= 0.1 + 1e-12 else "warn" if gap <= 0.25 + 1e-12 else "bad"
    return "good" if n >= 0.9 else "warn" if n >= 0.75 else "bad"


def _chip(value: Any, *, auc: bool = False) -> str:
    """A score as a coloured pill: a percentage, or a decimal for an AUC."""
    text = _dec(value) if auc else _pct(value)
    return f'<span class="chip {_grade(value, auc=auc)}">{text}</span>'


def _worst_first(items: list[Any]) -> list[Mapping[str, Any]]:
    rows = [_mapping(it) for it in items]
    return sorted(rows, key=lambda r: (_num(r.get("score")) is None, _num(r.get("score")) or 0.0))


def _names(value: Any) -> str:
    """Column names of a pair or key, escaped and joined."""
    items = _list(value)
    if not items:
        return _e(value) if isinstance(value, str) else _DASH
    return " × ".join(_e(v) for v in items)


# ---------------------------------------------------------------------------------------------
# SVG helpers (coordinates rounded to one decimal; styles come from the page's CSS classes)


def _c(x: float) -> str:
    """An SVG coordinate: one decimal at most, no trailing '.0'."""
    s = "%.1f" % x  # (the fastest spelling: a big report has a few hundred thousand)
    if s[-1] == "0":
        s = s[:-2]
        return "0" if s == "-0" else s
    return s


def _svg_open(width: float, height: float, label: str) -> str:
    return (f'<svg class="plot" width="{_c(width)}" height="{_c(height)}" '
            f'viewBox="0 0 {_c(width)} {_c(height)}" role="img" aria-label="{_e(label)}">')


def _svg_text(x: float, y: float, text: str, *, anchor: str = "start", limit: int = 0,
              attrs: str = "", shown: str | None = None) -> str:
    """A text element; text longer than ``limit`` characters is cut (or shown as ``shown``), the
    full text in a <title>."""
    if shown is None:
        shown = _truncate(text, limit) if limit else text
    title = f"<title>{_e(text)}</title>" if shown != text else ""
    anchor_attr = "" if anchor == "start" else f' text-anchor="{anchor}"'
    return f'<text x="{_c(x)}" y="{_c(y)}"{anchor_attr}{attrs}>{title}{_e(shown)}</text>'


def _nice_ticks(top: float, target: int = 3) -> tuple[list[float], float]:
    """Ticks from 0 to a round number ≥ ``top``, and that number."""
    if top <= 0:
        top = 1.0
    raw = top / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    count = max(math.ceil(top / step - 1e-9), 1)
    return [k * step for k in range(count + 1)], count * step


def _y_axis(ticks: list[float], y_of: Callable[[float], float], left: float, right: float) -> list[str]:
    grid = "".join(f"M{_c(left)} {_c(y_of(t))}H{_c(right)}" for t in ticks)
    out = [f'<path class="gl" d="{grid}"/>']
    out.append('<g text-anchor="end">')
    out += [_svg_text(left - 4, y_of(t) + 3.5, _share_tick(t)) for t in ticks]
    out.append("</g>")
    return out


def _svg_histogram(plot: Mapping[str, Any], label: str) -> str:
    """Overlaid histogram: real as a filled area, synthetic as a step line, shared bins."""
    real, synth = _paired_shares(plot)
    n = len(real)
    if n == 0:
        return ""
    width, height, left, right, top, bottom = 300.0, 158.0, 40.0, 12.0, 8.0, 24.0
    pw, ph = width - left - right, height - top - bottom
    ticks, ymax = _nice_ticks(max(real + synth))
    base = top + ph

    def x_of(i: float) -> float:
        return left + pw * i / n

    def y_of(v: float) -> float:
        return top + ph * (1 - min(v, ymax) / ymax)

    parts = [_svg_open(width, height, label), *_y_axis(ticks, y_of, left, left + pw)]
    area = [f"M{_c(left)} {_c(base)}"]
    line = [f"M{_c(left)} {_c(base)}"]
    for path, values in ((area, real), (line, synth)):
        previous = ""
        for i, v in enumerate(values):
            y = _c(y_of(v))
            path.append(("" if y == previous else f"V{y}") + f"H{_c(x_of(i + 1))}")
            previous = y
    parts.append(f'<path class="ra" d="{"".join(area)}V{_c(base)}Z"/>')
    parts.append(f'<path class="sl" d="{"".join(line)}V{_c(base)}"/>')
    parts.append(f'<path class="ax" d="M{_c(left)} {_c(base)}H{_c(left + pw)}"/>')
    parts += _x_ticks(plot, n, x_of, base, pw)
    parts.append("</svg>")
    return "".join(parts)


def _x_ticks(plot: Mapping[str, Any], n: int, x_of: Callable[[float], float], base: float,
             pw: float) -> list[str]:
    """First, middle and last bin edge: the report's labels if it has them, else compact numbers.

    Unit-wide bins centred on integers (an integer column) are labelled at their centres.
    """
    edges = [_num(v) for v in _list(plot.get("edges"))]
    labels = _list(plot.get("labels"))
    positions: list[tuple[float, str]] = []
    if len(labels) == n + 1:
        positions = [(i, _short_label(str(labels[i]))) for i in sorted({0, n // 2, n})]
    elif len(edges) == n + 1 and all(e is not None for e in edges):
        vals = [e for e in edges if e is not None]
        unit = all(abs(b - a - 1) < 1e-9 for a, b in zip(vals, vals[1:])) and abs(vals[0] % 1 - 0.5) < 1e-9
        if unit:
            positions = [(i + 0.5, _compact(vals[i] + 0.5)) for i in sorted({0, (n - 1) // 2, n - 1})]
        else:
            positions = [(i, _compact(vals[i])) for i in sorted({0, n // 2, n})]
    if len({text for _, text in positions}) == 1 and len(positions) > 1:
        positions = [positions[len(positions) // 2]]  # a one-value column: its value once, centred
    else:  # neighbours with the same text (bins narrower than the labels' precision): the first only
        positions = [p for k, p in enumerate(positions) if k == 0 or p[1] != positions[k - 1][1]]
    limit = max(int(pw / max(len(positions), 1) / 5.8), 4)
    if len(positions) == 3 and any(len(text) > limit for _, text in positions):
        positions = [positions[0], positions[2]]  # long labels (date and time): first and last only
        limit = int(pw / 2 / 5.8)
    out: list[str] = []
    marks = "".join(f"M{_c(x_of(i))} {_c(base)}v4" for i, _ in positions)
    if marks:
        out.append(f'<path class="ax" d="{marks}"/>')
    for k, (i, text) in enumerate(positions):
        anchor = "middle"
        if len(positions) > 1 and k == 0 and x_of(i) - len(text) * 2.8 < x_of(0) - 30:
            anchor = "start"
        if len(positions) > 1 and k == len(positions) - 1 and x_of(i) + len(text) * 2.8 > x_of(n) + 10:
            anchor = "end"
        out.append(_svg_text(x_of(i), base + 15, text, anchor=anchor, limit=limit))
    return out


def _merge_categories(cats: list[str], real: list[float], synth: list[float]
                      ) -> tuple[list[str], list[float], list[float]]:
    if len(cats) <= _MAX_CATEGORIES:
        return cats, real, synth
    keep = _MAX_CATEGORIES - 1
    rest = len(cats) - keep
    return (cats[:keep] + [f"({rest} more)"], real[:keep] + [sum(real[keep:])],
            synth[:keep] + [sum(synth[keep:])])


def _svg_bars(plot: Mapping[str, Any], label: str) -> str:
    """Horizontal grouped bars per category: real above, synthetic below."""
    raw_cats = _list(plot.get("categories"))
    real, synth = _paired_shares(plot, len(raw_cats))
    n = len(real)
    if n == 0:
        return ""
    cats = ["(null)" if c is None else str(c) for c in raw_cats] + [f"#{i + 1}" for i in range(len(raw_cats), n)]
    cats, real, synth = _merge_categories(cats, real, synth)
    n = len(cats)
    row = 17.0 if n <= 10 else 13.0  # many categories: thinner bars, so the chart stays short
    bar = (row - 5) / 2
    width, left, right, top, bottom = 300.0, 100.0, 14.0, 4.0, 20.0
    pw = width - left - right
    height = top + n * row + bottom
    ticks, xmax = _nice_ticks(max(real + synth))

    def x_of(v: float) -> float:
        return left + pw * min(v, xmax) / xmax

    base = top + n * row
    grid = "".join(f"M{_c(x_of(t))} {_c(top)}V{_c(base)}" for t in ticks)
    bars = {
        cls: "".join(f"M{_c(left)} {_c(top + i * row + dy)}H{_c(x_of(v))}v{_c(bar)}H{_c(left)}z"
                     for i, v in enumerate(values))
        for cls, values, dy in (("r", real, 2), ("s", synth, 3 + bar))
    }
    parts = [_svg_open(width, height, label), f'<path class="gl" d="{grid}"/>',
             f'<path class="r" d="{bars["r"]}"/><path class="s" d="{bars["s"]}"/><g text-anchor="end">']
    for i, (cat, short) in enumerate(zip(cats, _shorten_all(cats, 16))):  # full category in the tooltip
        parts.append(_svg_text(left - 5, top + i * row + row / 2 + 3.5, cat, shown=short))
    parts.append("</g>")
    parts.append(f'<path class="ax" d="M{_c(left)} {_c(top)}V{_c(base)}H{_c(left + pw)}"/>')
    parts += [_svg_text(x_of(t), base + 13, _share_tick(t), anchor="middle") for t in ticks]
    parts.append("</svg>")
    return "".join(parts)


def _ramp(stops: tuple[str, ...], t: float) -> str:
    """Colour at ``t`` in [0, 1] along evenly spaced hex stops (quantised to 1/40)."""
    return _ramp_step(stops, round(min(max(t, 0.0), 1.0) * 40))


@functools.lru_cache(maxsize=256)
def _ramp_step(stops: tuple[str, ...], step: int) -> str:
    pos = step / 40 * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    f = pos - i
    a, b = stops[i], stops[i + 1]
    rgb = [round(int(a[k:k + 2], 16) * (1 - f) + int(b[k:k + 2], 16) * f) for k in (1, 3, 5)]
    return "#" + "".join(f"{v:02x}" for v in rgb)


def _gradient_css(stops: Sequence[str]) -> str:
    return "linear-gradient(90deg," + ",".join(stops) + ")"


def _square(matrix: Any, n: int) -> list[list[float | None]]:
    """An n × n matrix of floats or None, whatever shape ``matrix`` had."""
    rows = [_list(r) for r in _list(matrix)[:n]]
    rows += [[]] * (n - len(rows))
    return [[_num(v) for v in r[:n]] + [None] * (n - len(r[:n])) for r in rows]


def _svg_heatmap(columns: list[str], value: Callable[[int, int], float | None],
                 color: Callable[[float], str], tip: Callable[[int, int, float | None], str],
                 label: str, dark_from: float) -> str:
    """Lower triangle (without the diagonal) of a symmetric matrix over ``columns``.

    Small matrices get one <rect> with a tooltip per cell and the value written in it; large
    ones are drawn as one path per colour, which keeps a 30-column heatmap a few kilobytes.
    """
    n = len(columns)
    if n < 2:
        return ""
    m = n - 1
    cell = float(min(max(math.floor(280 / m), 12), 40))  # three side by side up to ~12 columns
    vertical = cell < 20  # column labels at 45° need ~20 px between them, upright ones 12
    short = _shorten_all(columns, _HEAT_LABEL)
    longest = max(len(c) for c in short)
    text_w = longest * 5.8
    left, top = float(math.ceil(text_w + 8)), 4.0  # whole pixels: no seams between cells
    bottom = text_w + 12 if vertical else text_w * 0.72 + 14
    width = left + m * cell + 10
    height = top + m * cell + bottom
    parts = [_svg_open(width, height, label)]
    with_tips = n <= _CELL_TOOLTIPS
    by_color: dict[str, list[str]] = {}
    for i in range(1, n):
        y = top + (i - 1) * cell
        for j in range(i):
            x = left + j * cell
            v = value(i, j)
            fill = _NA_FILL if v is None else color(v)
            if with_tips:
                text = ""
                if cell >= 30 and v is not None:
                    cls = ' class="hv dk"' if abs(v) >= dark_from else ' class="hv"'
                    text = (f'<text x="{_c(x + cell / 2)}" y="{_c(y + cell / 2 + 3.5)}" text-anchor="middle"'
                            f'{cls}>{_dec(v)}</text>')
                parts.append(f'<g><title>{_e(tip(i, j, v))}</title><rect x="{_c(x)}" y="{_c(y)}" '
                             f'width="{_c(cell)}" height="{_c(cell)}" fill="{fill}"/>{text}</g>')
            else:
                by_color.setdefault(fill, []).append(f"M{j} {i - 1}h1v1h-1z")
    if by_color:  # unit cells, scaled: a few bytes per cell
        parts.append(f'<g transform="translate({_c(left)} {_c(top)}) scale({_c(cell)})">')
        parts += [f'<path fill="{fill}" d="{"".join(cells)}"/>' for fill, cells in by_color.items()]
        parts.append("</g>")
    parts.append(f'<path class="hb" d="M{_c(left)} {_c(top)}V{_c(top + m * cell)}H{_c(left + m * cell)}"/>')
    parts.append('<g text-anchor="end">')
    for i in range(1, n):
        y = top + (i - 1) * cell + cell / 2 + 3.5
        parts.append(_svg_text(left - 4, y, columns[i], shown=short[i]))
    # column labels: one rotated group, each label placed in the rotated frame
    parts.append(f'<g transform="rotate({-90 if vertical else -45})">')
    cos = math.sqrt(0.5)
    for j in range(m):
        x, y = left + j * cell + cell / 2 + 3.5, top + m * cell + 6
        rx, ry = (-y, x) if vertical else ((x - y) * cos, (x + y) * cos)
        parts.append(_svg_text(rx, ry, columns[j], shown=short[j]))
    parts.append("</g></g>")
    parts.append("</svg>")
    return "".join(parts)


def _svg_cardinality(card: Mapping[str, Any], label: str) -> str:
    """Grouped vertical bars: share of parents with k children, real and synthetic side by side."""
    real, synth = _paired_shares(card)
    n = len(real)
    if n == 0:
        return ""
    labels = [str(v) for v in _list(card.get("labels"))]
    if len(labels) != n:
        counts = _list(card.get("counts"))
        labels = [_compact(v) for v in counts] if len(counts) == n else [str(i) for i in range(n)]
    width, height, left, right, top, bottom = 560.0, 230.0, 56.0, 12.0, 10.0, 42.0
    pw, ph = width - left - right, height - top - bottom
    ticks, ymax = _nice_ticks(max(real + synth), target=4)
    base = top + ph
    bw = pw / n

    def y_of(v: float) -> float:
        return top + ph * (1 - min(v, ymax) / ymax)

    parts = [_svg_open(width, height, label), *_y_axis(ticks, y_of, left, left + pw)]
    bar = bw * 0.4
    # label every k-th bar, k such that labels ("2272–2273") never overlap: 5.8 px a character
    shown = [_truncate(t, 14) for t in labels]
    every = max(math.ceil((max(len(t) for t in shown) * 5.8 + 8) / bw), 1)
    for i in range(n):
        x = left + i * bw
        tip = f"{labels[i]} children: real {_share_tick(real[i])} of parents, synthetic {_share_tick(synth[i])}"
        parts.append(
            f"<g><title>{_e(tip)}</title>"
            f'<rect class="r" x="{_c(x + bw * 0.1)}" y="{_c(y_of(real[i]))}" width="{_c(bar)}" '
            f'height="{_c(base - y_of(real[i]))}"/>'
            f'<rect class="s" x="{_c(x + bw * 0.5)}" y="{_c(y_of(synth[i]))}" width="{_c(bar)}" '
            f'height="{_c(base - y_of(synth[i]))}"/></g>')
        if (i % every == 0 and i + every <= n - 1) or i == n - 1:  # first, every k-th, last; no crowding
            parts.append(_svg_text(x + bw / 2, base + 14, labels[i], anchor="middle", shown=shown[i]))
    parts.append(f'<path class="ax" d="M{_c(left)} {_c(base)}H{_c(left + pw)}"/>')
    parts.append(_svg_text(left + pw / 2, height - 6, "children per parent row", anchor="middle",
                           attrs=' class="at"'))
    mid = top + ph / 2
    parts.append(_svg_text(14, mid, "share of parent rows", anchor="middle",
                           attrs=f' class="at" transform="rotate(-90 14 {_c(mid)})"'))
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Page sections

_HOW_TO_READ = {
    "overall": ("Mean of column shapes, pair trends, cardinality and parent-child trends. "
                "100% = the synthetic data matches the real data on every one."),
    "column_shapes": "Per column: 1 − KS statistic (numbers, dates) or 1 − total variation distance (categories).",
    "column_pair_trends": "Pairs of columns in one table: 1 − |Δ correlation| / 2, or 1 − TV of the two-way table.",
    "cardinality": "Children per parent row, per foreign key: 1 − KS of the two distributions.",
    "parent_child_trends": "Parent column vs child column (and child aggregates) across each foreign key.",
    "integrity": "Share of key and constraint checks with no violating row in the synthetic data.",
    "detection_auc": "A classifier tells real from synthetic rows: 0.5 = it cannot (ideal), 1.0 = it always can.",
    "detection_auc_relational": "The same on parent rows joined with aggregates of their children.",
    "ml_efficacy": "Model trained on synthetic vs on real data, scored the same way: 100% = just as good.",
}


def _card(title: str, value_html: str, grade: str, key: str, extra: str = "", wide: bool = False,
          spots: str = "") -> str:
    cls = f"card {grade}" + (" wide" if wide else "")
    sub = f'<div class="x">{extra}</div>' if extra else ""
    return (f'<div class="{cls}"><div class="k">{_e(title)}</div><div class="v">{value_html}</div>{sub}{spots}'
            f'<div class="h">{_e(_HOW_TO_READ[key])}</div></div>')


_SPOTS = 3  # weakest items named on a summary card


def _spots(items: list[tuple[str, str, Any]], *, auc: bool = False) -> str:
    """The worst of ``items`` (label, link, score) that are not graded good, as a short list."""
    flagged = [(label, href, _num(v)) for label, href, v in items
               if _num(v) is not None and _grade(v, auc=auc) != "good"]
    if not flagged:
        return ""
    flagged.sort(key=lambda it: -abs((it[2] or 0.0) - 0.5) if auc else (it[2] or 0.0))
    rows = "".join(f'<li><a href="{href}" title="{_e(label)}">{_e(label)}</a>{_chip(v, auc=auc)}</li>'
                   for label, href, v in flagged[:_SPOTS])
    more = len(flagged) - _SPOTS
    if more > 0:
        rows += f'<li class="more">and {more} more {"above 0.60" if auc else "below 90%"}</li>'
    return f'<div class="wk"><div class="wt">{"highest" if auc else "lowest"}</div><ul>{rows}</ul></div>'


def _summary(report: Mapping[str, Any], tables: Mapping[str, Any] | None = None,
             rels: Sequence[Mapping[str, Any]] = ()) -> str:
    s = _mapping(report.get("summary"))
    ml = _mapping(report.get("ml_efficacy"))
    tables = tables or {}
    violations = _num(s.get("integrity_violations"))
    integrity_grade = _grade(s.get("integrity"))
    if violations is not None and violations > 0:
        integrity_grade = "bad"
    elif violations == 0 and integrity_grade == "na":
        integrity_grade = "good"
    if violations is None:
        vio = ""
    else:
        word = "row" if violations == 1 else "rows"
        vio = f'<span class="{"vbad" if violations > 0 else "vok"}">{_int(violations)} violating {word}</span>'
    ml_extra = ""
    if ml:
        ml_extra = (f"{_e(ml.get('metric') or 'score')}: {_dec(ml.get('synthetic'))} synthetic vs "
                    f"{_dec(ml.get('real'))} real")
    else:
        ml_extra = '<span class="muted">not requested: <code>relsynth report --target TABLE.COLUMN</code></span>'

    # where it is weak: the worst columns, tables and relationships behind each headline figure
    tabs = [(str(name), f"#t-{k}", _mapping(t)) for k, (name, t) in enumerate(tables.items())]
    links = [(_rel_label(r), f"#r-{k}", r) for k, r in enumerate(rels)]
    column_items = [(f"{name}.{col}", href, _mapping(c).get("score"))
                    for name, href, t in tabs for col, c in _mapping(t.get("columns")).items()]
    weak = {
        "column_shapes": _spots(column_items),
        "column_pair_trends": _spots([(name, href, t.get("pair_trends")) for name, href, t in tabs]),
        "cardinality": _spots([(label, href, _mapping(r.get("cardinality")).get("score"))
                               for label, href, r in links]),
        "parent_child_trends": _spots([(label, href, _mapping(r.get("parent_child_trends")).get("score"))
                                       for label, href, r in links]),
        "detection_auc": _spots([(name, href, _mapping(t.get("detection")).get("auc")) for name, href, t in tabs],
                                auc=True),
        "detection_auc_relational": _spots([(label, href, _mapping(r.get("detection")).get("auc"))
                                            for label, href, r in links], auc=True),
    }
    families = [("column shapes", s.get("column_shapes")), ("column pair trends", s.get("column_pair_trends")),
                ("cardinality", s.get("cardinality")), ("parent-child trends", s.get("parent_child_trends"))]
    scored = sorted(((name, _num(v)) for name, v in families if _num(v) is not None), key=lambda nv: nv[1])
    below = [f"{name} {_chip(v)}" for name, v in scored if _grade(v) != "good"]
    if below:
        verdict = "Weakest: " + ", ".join(below)
    elif scored:
        verdict = '<span class="vok">Every family scores 90% or more.</span>'
    else:
        verdict = ""
    cards = [
        _card("Overall", _pct(s.get("overall")), _grade(s.get("overall")), "overall", verdict, wide=True),
        _card("Column shapes", _pct(s.get("column_shapes")), _grade(s.get("column_shapes")), "column_shapes",
              spots=weak["column_shapes"]),
        _card("Column pair trends", _pct(s.get("column_pair_trends")), _grade(s.get("column_pair_trends")),
              "column_pair_trends", spots=weak["column_pair_trends"]),
        _card("Cardinality", _pct(s.get("cardinality")), _grade(s.get("cardinality")), "cardinality",
              spots=weak["cardinality"]),
        _card("Parent-child trends", _pct(s.get("parent_child_trends")), _grade(s.get("parent_child_trends")),
              "parent_child_trends", spots=weak["parent_child_trends"]),
        _card("Integrity", _pct(s.get("integrity")), integrity_grade, "integrity", vio),
        _card("Detection AUC", _dec(s.get("detection_auc")), _grade(s.get("detection_auc"), auc=True),
              "detection_auc", spots=weak["detection_auc"]),
        _card("Detection AUC, relational", _dec(s.get("detection_auc_relational")),
              _grade(s.get("detection_auc_relational"), auc=True), "detection_auc_relational",
              spots=weak["detection_auc_relational"]),
        _card("ML efficacy", _pct(s.get("ml_efficacy")), _grade(s.get("ml_efficacy")), "ml_efficacy", ml_extra),
    ]
    return (
        '<section id="summary"><h2>Summary</h2><div class="cards">' + "".join(cards) + "</div>"
        '<p class="key"><span class="chip good">≥ 90%</span> <span class="chip warn">≥ 75%</span> '
        '<span class="chip bad">&lt; 75%</span> for scores (100% = identical); for detection AUCs '
        '<span class="chip good">0.40–0.60</span> <span class="chip warn">≤ 0.75</span> '
        '<span class="chip bad">&gt; 0.75</span>; <span class="chip na">—</span> = not computed. '
        "Each card names its weakest columns, tables or relationships (links).</p></section>"
    )


def _overview(tables: Mapping[str, Any], rels: list[Any]) -> str:
    if not tables and not rels:
        return ""
    out = ['<section id="overview"><h2>Overview</h2>']
    if tables:
        out.append('<table class="data"><thead><tr><th>table</th><th class="n">rows real</th>'
                   '<th class="n">rows synthetic</th><th>column shapes</th><th>pair trends</th>'
                   '<th>detection AUC</th></tr></thead><tbody>')
        for k, (name, t) in enumerate(tables.items()):
            t = _mapping(t)
            det = _mapping(t.get("detection"))
            empty = _empty_sides(t)
            if empty:
                tag = f' <span class="tag">{empty}</span>'
            elif not _mapping(t.get("columns")):
                tag = ' <span class="tag">no comparable columns</span>'
            else:
                tag = ""
            out.append(f'<tr><td><a href="#t-{k}">{_e(name)}</a>{tag}</td><td class="n">{_int(t.get("rows_real"))}</td>'
                       f'<td class="n">{_int(t.get("rows_synthetic"))}</td><td>{_chip(t.get("column_shapes"))}</td>'
                       f'<td>{_chip(t.get("pair_trends"))}</td><td>{_chip(det.get("auc"), auc=True)}</td></tr>')
        out.append("</tbody></table>")
    if rels:
        out.append('<table class="data"><thead><tr><th>relationship</th><th>cardinality</th>'
                   "<th>parent-child trends</th><th>aggregate trends</th><th>detection AUC</th></tr></thead><tbody>")
        for k, r in enumerate(rels):
            r = _mapping(r)
            empty = _empty_sides(tables.get(str(r.get("child"))))
            tag = f' <span class="tag">child table {empty}</span>' if empty else ""
            out.append(
                f'<tr><td><a href="#r-{k}">{_e(_rel_label(r))}</a>{tag}</td>'
                f'<td>{_chip(_mapping(r.get("cardinality")).get("score"))}</td>'
                f'<td>{_chip(_mapping(r.get("parent_child_trends")).get("score"))}</td>'
                f'<td>{_chip(_mapping(r.get("aggregate_trends")).get("score"))}</td>'
                f'<td>{_chip(_mapping(r.get("detection")).get("auc"), auc=True)}</td></tr>')
        out.append("</tbody></table>")
    out.append("</section>")
    return "".join(out)


def _rel_label(rel: Mapping[str, Any]) -> str:
    if rel.get("label"):
        return str(rel["label"])
    cols = ", ".join(str(c) for c in _list(rel.get("columns")))
    child = f"{rel.get('child') or '?'}" + (f".{cols}" if cols else "")
    return f"{child} → {rel.get('parent') or '?'}"


def _folded_rows(rows: list[str], header: str, what: str, unlisted: str = "") -> str:
    """A table of its first _TOP_ROWS rows, the rest in a <details> below it (``unlisted``: a last line)."""
    head = f'<table class="data"><thead>{header}</thead><tbody>'
    out = head + "".join(rows[:_TOP_ROWS]) + "</tbody></table>"
    if len(rows) > _TOP_ROWS:
        rest = len(rows) - _TOP_ROWS
        out += (f"<details><summary>{rest} more {what}</summary>{head}"
                + "".join(rows[_TOP_ROWS:]) + "</tbody></table></details>")
    if unlisted:
        out += f'<p class="muted small">{unlisted}</p>'
    return out


def _pair_rows(pairs: list[Any], row: Callable[[Mapping[str, Any]], str]) -> tuple[list[str], str]:
    """Rows of the worst _MAX_PAIRS pairs, and a line on the pairs left out (all better than those)."""
    ordered = _worst_first(pairs)
    rows = [row(p) for p in ordered[:_MAX_PAIRS]]
    left_out = ordered[_MAX_PAIRS:]
    if not left_out:
        return rows, ""
    scores = [v for v in (_num(p.get("score")) for p in left_out) if v is not None]
    span = ""
    if scores:
        low, high = _pct(min(scores)), _pct(max(scores))
        span = f", all scoring {low}" if low == high else f", scoring {low} to {high}"
    return rows, (f"{len(left_out):,} more pairs{span}, are not listed here; "
                  "the JSON report has every pair.")


def _integrity(report: Mapping[str, Any]) -> str:
    checks = [_mapping(c) for c in _list(report.get("integrity"))]
    out = ['<section id="integrity"><h2>Integrity of the synthetic data</h2>']
    if not checks:
        out.append('<p class="muted">No integrity checks in this report.</p></section>')
        return "".join(out)
    bad = sum(1 for c in checks if (_num(c.get("violations")) or 0) > 0)
    verdict = (f'<p class="vbad">{bad} of {len(checks)} checks have violating rows.</p>' if bad
               else f'<p class="vok">All {len(checks)} checks pass: no violating row.</p>')
    out.append(verdict)
    checks.sort(key=lambda c: -(_num(c.get("violations")) or 0))
    rows = []
    for c in checks:
        v = _num(c.get("violations"))
        cls = ' class="bad"' if v is not None and v > 0 else ""
        rows.append(f"<tr{cls}><td>{_e(c.get('table'))}</td><td>{_e(c.get('kind'))}</td>"
                    f"<td><code>{_e(c.get('constraint'))}</code></td><td class=\"n\">{_int(c.get('rows'))}</td>"
                    f'<td class="n">{_int(v)}</td></tr>')
    header = ('<tr><th>table</th><th>kind</th><th>constraint</th><th class="n">rows</th>'
              '<th class="n">violations</th></tr>')
    out.append(_folded_rows(rows, header, "checks"))
    out.append("</section>")
    return "".join(out)


def _legend() -> str:
    return ('<div class="legend"><span><i class="sw r"></i>real</span>'
            '<span><i class="sw s"></i>synthetic</span></div>')


def _column_card(name: str, col: Mapping[str, Any]) -> str:
    plot = _mapping(col.get("plot"))
    kind, metric = col.get("kind"), col.get("metric")
    title = f"{name}: {metric or 'score'} {_pct(col.get('score'))}"
    kind_str = plot.get("type")
    svg = ""
    if kind_str == "histogram":
        svg = _svg_histogram(plot, title)
    elif kind_str == "bars":
        svg = _svg_bars(plot, title)
    body = svg or '<div class="noplot">no values to plot</div>'
    meta = " · ".join(_e(v) for v in (kind, str(metric).upper() if metric else None) if v)
    return (f'<div class="cc"><div class="ct"><span class="cn" title="{_e(name)}">{_e(name)}</span>'
            f'{_chip(col.get("score"))}</div><div class="cm">{meta or "&nbsp;"}</div>{body}</div>')


def _columns_block(columns: Mapping[str, Any]) -> str:
    if not columns:
        return '<p class="muted">No columns compared.</p>'
    items = sorted(((str(k), _mapping(v)) for k, v in columns.items()),
                   key=lambda kv: (_num(kv[1].get("score")) is None, _num(kv[1].get("score")) or 0.0))
    cards = [_column_card(k, v) for k, v in items]
    out = (_legend() + '<p class="muted small">Share of rows per bin or category, worst score first. '
           "Histogram: real filled, synthetic as a line over the same bins.</p>"
           '<div class="grid">' + "".join(cards[:_TOP_COLUMNS]) + "</div>")
    if len(cards) > _TOP_COLUMNS:
        out += (f"<details><summary>{len(cards) - _TOP_COLUMNS} more columns (better scores)</summary>"
                '<div class="grid">' + "".join(cards[_TOP_COLUMNS:]) + "</div></details>")
    return out


def _heatmaps(assoc: Mapping[str, Any], compared: int = 0) -> str:
    """Real, synthetic and |difference| heatmaps (``compared``: how many columns the table compares)."""
    columns = [str(c) for c in _list(assoc.get("columns"))]
    if len(columns) < 2:
        return ""
    n = len(columns)
    some = f" The first {n} of the {compared} compared columns." if compared > n else ""
    real, synth = _square(assoc.get("real"), n), _square(assoc.get("synthetic"), n)

    def side(matrix: list[list[float | None]]) -> Callable[[int, int], float | None]:
        return lambda i, j: matrix[i][j]

    def diff(i: int, j: int) -> float | None:
        a, b = real[i][j], synth[i][j]
        return None if a is None or b is None else abs(a - b)

    def tip(name: str) -> Callable[[int, int, float | None], str]:
        return lambda i, j, v: f"{columns[i]} × {columns[j]}: {name} {_dec(v)}"

    def diverging(v: float) -> str:
        return _ramp(_DIVERGING, (v + 1) / 2)

    def sequential(v: float) -> str:
        return _ramp(_SEQUENTIAL, v / _DIFF_MAX)

    any_na = any(real[i][j] is None or synth[i][j] is None for i in range(1, n) for j in range(i))
    na_note = '<span class="nak"><i class="sw na"></i>not computed</span>' if any_na else ""
    div_legend = ('<div class="lg"><span class="bar div"></span><span class="lt"><span>−1</span><span>0</span>'
                  f"<span>+1</span></span>{na_note}</div>")
    seq_legend = ('<div class="lg"><span class="bar seq"></span><span class="lt"><span>0</span>'
                  f"<span>{_DIFF_MAX / 2:g}</span><span>≥ {_DIFF_MAX:g}</span></span>{na_note}</div>")
    figs = [
        ("Real", _svg_heatmap(columns, side(real), diverging, tip("real"), "real associations", 0.6), div_legend),
        ("Synthetic", _svg_heatmap(columns, side(synth), diverging, tip("synthetic"), "synthetic associations",
                                   0.6), div_legend),
        ("|Real − synthetic|", _svg_heatmap(columns, diff, sequential, tip("|difference|"),
                                            "absolute difference of associations", 0.3), seq_legend),
    ]
    return ('<h3>Associations</h3><p class="muted small">Correlation of two numeric columns '
            "(−1…+1); Cramér's V or the correlation ratio otherwise (0…1). Lower triangle: each pair once."
            f'{some}</p><div class="heat">'
            + "".join(f"<figure><figcaption>{t}</figcaption>{svg}{lg}</figure>" for t, svg, lg in figs)
            + "</div>")


def _delta(row: Mapping[str, Any]) -> str:
    a, b = _num(row.get("real")), _num(row.get("synthetic"))
    if a is None or b is None:
        return _DASH
    d = b - a
    return ("+" if d > 0 else "") + _dec(d)


_STATISTICS = {"pearson": "Pearson r", "spearman": "Spearman ρ", "cramers_v": "Cramér's V",
               "eta": "correlation ratio η"}
_PAIR_NOTE = ("real / synthetic: the strength of the association on each side (Pearson r for two numbers, "
              "Cramér's V for two categories, the correlation ratio η for a number and a category). "
              "Score: 1 − |Δr| / 2 for Pearson pairs; otherwise 1 − the total variation distance between the "
              "real and synthetic two-way tables (numbers binned), which can be low while V or η match: "
              "the same strength, but values paired differently.")


def _statistic(row: Mapping[str, Any]) -> str:
    """The pair's association measure as a reader knows it ('Cramér's V'), else its metric."""
    stat, metric = row.get("statistic"), row.get("metric")
    if isinstance(stat, str) and stat:
        label = _STATISTICS.get(stat, stat)
    elif metric == "correlation":
        label = "correlation"
    else:
        label = str(metric) if metric else _DASH
    tip = f' title="score by {_e(metric)}"' if metric else ""
    return f"<td{tip}>{_e(label)}</td>"


_PAIR_HEAD = ('<th>measure</th><th class="n">real</th><th class="n">synthetic</th><th class="n">Δ</th>'
              "<th>score</th></tr>")


def _pair_cells(p: Mapping[str, Any]) -> str:
    return (f'{_statistic(p)}<td class="n">{_dec(p.get("real"))}</td><td class="n">{_dec(p.get("synthetic"))}'
            f'</td><td class="n">{_delta(p)}</td><td>{_chip(p.get("score"))}</td></tr>')


def _pairs_block(pairs: list[Any], why: str = "No column pairs compared.") -> str:
    """The pairs table, worst first; ``why``: the line shown when there are no pairs."""
    if not pairs:
        return f'<h3>Column pair trends</h3><p class="muted">{_e(why)}</p>'
    rows, unlisted = _pair_rows(pairs, lambda p: f"<tr><td>{_names(p.get('columns'))}</td>{_pair_cells(p)}")
    header = "<tr><th>columns</th>" + _PAIR_HEAD
    return ("<h3>Column pair trends <small>worst first</small></h3>"
            + _folded_rows(rows, header, "pairs", unlisted) + f'<p class="muted small">{_e(_PAIR_NOTE)}</p>')


def _plural(count: Any, word: str) -> str:
    n = _num(count)
    return f"{_int(count)} {word}" + ("" if n is not None and round(n) == 1 else "s")


def _detection(det: Any, what: str, detail: str = "") -> str:
    d = _mapping(det)
    if not d or _num(d.get("auc")) is None:
        return (f'<p class="det"><b>Detection AUC</b> {_chip(None, auc=True)} '
                '<span class="muted">not computed</span></p>')
    auc, raw = _num(d.get("auc")), _num(d.get("raw_auc"))
    measured = ""
    if raw is not None and auc is not None and _dec(raw) != _dec(auc):
        # the report floors the AUC at 0.5 (see relsynth.evaluate.detection)
        measured = (f" Measured {_dec(raw)}, counted as {_dec(auc)}: below 0.5 is chance, or rows with "
                    "near-copies on the other side.")
    return (f'<p class="det"><b>Detection AUC</b> {_chip(d.get("auc"), auc=True)} '
            f'<span class="muted">a classifier on {_plural(d.get("rows"), what)} per side with '
            f'{_plural(d.get("features"), "feature")}{detail}; 0.5 = it cannot tell real from synthetic, '
            f"1.0 = it always can.{measured}</span></p>")


def _notes_about(name: str, notes: Sequence[Any]) -> list[str]:
    """The report's notes that are about table ``name`` ("name: ..."), without that prefix."""
    prefix = f"{name}: "
    return [str(n)[len(prefix):] for n in notes if isinstance(n, str) and n.startswith(prefix)]


def _table_section(k: int, name: str, t: Mapping[str, Any], notes: Sequence[Any] = ()) -> str:
    rr, rs = _num(t.get("rows_real")), _num(t.get("rows_synthetic"))
    ratio = f" (×{rs / rr:.2f})" if rr and rs is not None else ""
    columns = _mapping(t.get("columns"))
    pairs = _list(t.get("pairs"))
    out = [f'<section class="tbl" id="t-{k}"><h2><span class="muted">table</span> {_e(name)}</h2>',
           f'<p class="meta"><b>{_int(rr)}</b> real rows · <b>{_int(rs)}</b> synthetic rows{ratio}']
    about = "".join(f'<p class="muted small">{_e(n)}</p>' for n in _notes_about(name, notes))
    if rr == 0 or rs == 0:  # nothing to compare: say why in one line instead of three empty blocks
        if rr == 0 and rs == 0:
            out.append('</p><p class="muted">Empty in the real data and in the synthetic copy: nothing to compare.</p>')
        else:
            side, other = ("real", "synthetic") if rr == 0 else ("synthetic", "real")
            out.append(f'</p><p class="vbad">The {side} table is empty but the {other} one is not.</p>')
        out += [about, "</section>"]
        return "".join(out)
    out.append(f' · column shapes {_chip(t.get("column_shapes"))} · pair trends {_chip(t.get("pair_trends"))}</p>')
    if not columns and not pairs:
        out += ['<p class="muted">No comparable columns: only keys and generated values (free text, '
                "identifiers), which are not compared.</p>", about,
                _detection(t.get("detection"), "row") if _mapping(t.get("detection")) else "", "</section>"]
        return "".join(out)
    few_rows = rr is not None and rs is not None and min(rr, rs) < 3
    why = ("One column compared: no pairs." if len(columns) == 1 else
           f"Too few rows ({_int(min(rr or 0, rs or 0))}) to compare column pairs." if few_rows else
           "No column pairs compared.")
    out += [about, "<h3>Column shapes</h3>", _columns_block(columns),
            # associations over 1 or 2 rows say nothing: no heatmaps where no pair was compared for that
            "" if few_rows and not pairs else _heatmaps(_mapping(t.get("association")), len(columns)),
            _pairs_block(pairs, why), _detection(t.get("detection"), "row"), "</section>"]
    return "".join(out)


def _trend_block(title: str, block: Any, second: tuple[str, str]) -> str:
    b = _mapping(block)
    pairs = _list(b.get("pairs"))
    head = f"<h3>{title} {_chip(b.get('score'))} <small>worst first</small></h3>"
    if not pairs:
        return head + '<p class="muted">No pairs compared.</p>'
    key, label = second
    rows, unlisted = _pair_rows(pairs, lambda p: (
        f"<tr><td>{_e(p.get('parent_column'))}</td><td>{_e(p.get(key))}</td>{_pair_cells(p)}"))
    header = f"<tr><th>parent column</th><th>{label}</th>" + _PAIR_HEAD
    return head + _folded_rows(rows, header, "pairs", unlisted)


def _empty_sides(table: Any) -> str:
    """'' , 'empty' (no row on either side), or which side is empty."""
    t = _mapping(table)
    rr, rs = _num(t.get("rows_real")), _num(t.get("rows_synthetic"))
    if rr == 0 and rs == 0:
        return "empty"
    if rr == 0 or rs == 0:
        return "empty in the real data" if rr == 0 else "empty in the synthetic data"
    return ""


def _relationship_section(k: int, rel: Mapping[str, Any], anchors: Mapping[str, int],
                          tables: Mapping[str, Any] | None = None) -> str:
    def link(name: Any) -> str:
        if name is None:
            return _DASH
        key = str(name)
        return f'<a href="#t-{anchors[key]}">{_e(key)}</a>' if key in anchors else _e(key)

    card = _mapping(rel.get("cardinality"))
    label = _rel_label(rel)
    out = [f'<section class="rel" id="r-{k}"><h2><span class="muted">relationship</span> {_e(label)}</h2>',
           f'<p class="meta">child {link(rel.get("child"))} → parent {link(rel.get("parent"))} '
           f'on ({_names(rel.get("columns"))})</p>']
    tables = tables or {}
    for role in ("child", "parent"):
        empty = _empty_sides(tables.get(str(rel.get(role))))
        if role == "child" and empty == "empty":
            out.append('<p class="warnline">The child table is empty on both sides: every parent row has 0 '
                       "children, so the figures below compare nothing.</p>")
        elif empty:
            out.append(f'<p class="warnline">The {role} table is {empty}.</p>')
    out.append(f"<h3>Cardinality {_chip(card.get('score'))}</h3>")
    svg = _svg_cardinality(card, f"children per parent of {label}") if card else ""
    if svg:
        out.append(f"{_legend()}<figure class=\"card-plot\">{svg}<figcaption>mean children per parent: "
                   f"<b>{_mean_text(card.get('mean_real'))}</b> real · "
                   f"<b>{_mean_text(card.get('mean_synthetic'))}</b> "
                   "synthetic</figcaption></figure>")
    else:
        out.append('<p class="muted">No cardinality computed.</p>')
    out.append(_trend_block("Parent-child trends", rel.get("parent_child_trends"), ("child_column", "child column")))
    out.append(_trend_block("Aggregate trends", rel.get("aggregate_trends"), ("aggregate", "child aggregate")))
    if any(_list(_mapping(rel.get(key)).get("pairs")) for key in ("parent_child_trends", "aggregate_trends")):
        out.append(f'<p class="muted small">{_e(_PAIR_NOTE)}</p>')
    out.append(_detection(rel.get("detection"), "parent row", " (parent columns and aggregates of the children)"))
    out.append("</section>")
    return "".join(out)


def _ml(report: Mapping[str, Any]) -> str:
    ml = _mapping(report.get("ml_efficacy"))
    out = ['<section id="ml"><h2>ML efficacy</h2>']
    if not ml:
        out.append('<p class="muted">Not computed: run <code>relsynth report REAL SYNTHETIC --target '
                   "TABLE.COLUMN</code> to train a model on each side and compare them on real rows.</p></section>")
        return "".join(out)
    out.append(
        '<table class="data"><thead><tr><th>table</th><th>target</th><th>task</th><th>metric</th>'
        '<th class="n">trained on real</th><th class="n">trained on synthetic</th><th>ratio</th></tr></thead>'
        f"<tbody><tr><td>{_e(ml.get('table'))}</td><td>{_e(ml.get('target'))}</td><td>{_e(ml.get('task'))}</td>"
        f"<td>{_e(ml.get('metric'))}</td><td class=\"n\">{_dec(ml.get('real'), 3)}</td>"
        f'<td class="n">{_dec(ml.get("synthetic"), 3)}</td><td>{_chip(ml.get("ratio"))}</td></tr></tbody></table>'
        f'<p class="muted small">{_e(_HOW_TO_READ["ml_efficacy"])}</p></section>')
    return "".join(out)


def _privacy(report: Mapping[str, Any]) -> str:
    """Distances to closest records, closer-to-train share, exact copies, personal-data columns."""
    priv = _mapping(report.get("privacy"))
    out = ['<section id="privacy"><h2>Privacy</h2>']
    if not priv:
        out.append('<p class="muted">Not computed.</p></section>')
        return "".join(out)
    s = _mapping(priv.get("summary"))
    share = s.get("closer_to_train_share")
    out.append(
        "<p>Closer-to-train share "
        + (f"<b>{_dec(share, 3)}</b> (0.5 = synthetic rows are no closer to the training rows than to "
           "real rows the model never saw)" if share is not None else
           '<span class="muted">not computed: it needs a holdout of real rows the model never saw '
           "(<code>--holdout URL</code>)</span>")
        + f"; exact copies <b>{_int(s.get('exact_copies'))}</b> ({_pct(s.get('exact_copy_rate'))} of synthetic rows, "
        f"{_int(s.get('exact_copies_beyond_domain'))} not forced by the columns' few values); personal-data columns "
        f"<b>{_int(s.get('pii_columns'))}</b>, real values found in them <b>{_int(s.get('pii_values_leaked'))}</b>.</p>")
    rows, pii_rows = [], []
    for name, t in _mapping(priv.get("tables")).items():
        t = _mapping(t)
        syn, hold, copies = _mapping(t.get("dcr_synthetic")), _mapping(t.get("dcr_holdout")), _mapping(t.get("exact_copies"))
        forced = " (domain)" if copies.get("domain_forced") else ""
        rows.append(f'<tr><td>{_e(name)}</td><td class="n">{_dec(syn.get("median"), 4)}</td>'
                    f'<td class="n">{_dec(hold.get("median"), 4)}</td>'
                    f'<td class="n">{_dec(t.get("closer_to_train_share"), 3)}</td>'
                    f'<td class="n">{_int(copies.get("copies"))}{forced}</td></tr>')
        for col, info in _mapping(t.get("pii")).items():
            info = _mapping(info)
            leaked = _num(info.get("real_values_in_synthetic")) or 0
            cls = ' class="bad"' if leaked else ""
            pii_rows.append(f"<tr{cls}><td>{_e(name)}.{_e(col)}</td><td>{_e(info.get('kind'))}</td>"
                            f"<td>{_e(info.get('reason'))}</td><td>{_e(info.get('generator') or _DASH)}</td>"
                            f'<td class="n">{_int(leaked)}</td></tr>')
    header = ('<tr><th>table</th><th class="n">DCR synthetic→train (median)</th><th class="n">DCR holdout→train '
              '(median)</th><th class="n">closer to train</th><th class="n">exact copies</th></tr>')
    out.append(_folded_rows(rows, header, "tables"))
    if pii_rows:
        out.append("<h3>Personal data</h3>")
        out.append(_folded_rows(pii_rows, "<tr><th>column</th><th>kind</th><th>why</th><th>generated as</th>"
                                '<th class="n">real values in the synthetic column</th></tr>', "columns"))
    out.append("</section>")
    return "".join(out)


def _notes(report: Mapping[str, Any]) -> str:
    notes = [n for n in _list(report.get("notes")) if n not in (None, "")]
    if not notes:
        return ""
    return '<section id="notes"><h2>Notes</h2><ul>' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul></section>"


_CSS = f"""
*{{box-sizing:border-box}}
body{{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:#1f2328;background:#f6f7f9}}
main{{max-width:1340px;margin:0 auto;padding:0 24px 48px}}
header{{background:#1f2937;color:#f3f4f6;padding:18px 24px;margin-bottom:8px}}
header .in{{max-width:1292px;margin:0 auto;display:flex;justify-content:space-between;align-items:flex-end;
gap:24px;flex-wrap:wrap}}
header h1{{margin:0 0 6px;font-size:22px;font-weight:600}}
header code{{background:#374151;color:#fff;padding:1px 6px;border-radius:4px;word-break:break-all}}
header .src{{display:flex;gap:18px;flex-wrap:wrap}}
header .ver{{color:#9ca3af;font-size:13px}}
h2{{font-size:19px;margin:30px 0 10px;padding-bottom:4px;border-bottom:1px solid #d0d7de}}
h3{{font-size:15px;margin:20px 0 8px}}
h3 small,.small{{font-weight:400;color:#6b7280;font-size:12px}}
section.tbl,section.rel{{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:4px 20px 16px;
margin-top:24px}}
section.tbl h2,section.rel h2{{border:0;margin-top:14px}}
.muted{{color:#6b7280}}
.meta{{margin:4px 0}}
code{{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}}
.cards{{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:12px}}
.card{{background:#fff;border:1px solid #d0d7de;border-left:6px solid #9ca3af;border-radius:8px;padding:10px 14px}}
.card .k{{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#57606a;font-weight:600}}
.card .v{{font-size:28px;font-weight:650;margin:2px 0}}
.card .x{{font-size:13px;margin-bottom:4px}}
.card .h{{font-size:12px;color:#6b7280}}
.card.wide{{grid-column:span 2}}
.card.wide .v{{font-size:40px}}
.wk{{font-size:12px;margin:2px 0 6px}}.wk .wt{{color:#57606a;font-weight:600}}
.wk ul{{list-style:none;margin:0;padding:0}}
.wk li{{display:flex;justify-content:space-between;align-items:center;gap:6px;margin:1px 0}}
.wk li a{{min-width:0;overflow-wrap:anywhere}}
.wk li.more{{color:#6b7280}}.wk .chip{{min-width:46px}}
.card.good{{border-left-color:#1a7f37}}.card.good .v{{color:#1a7f37}}
.card.warn{{border-left-color:#bf8700}}.card.warn .v{{color:#9a6700}}
.card.bad{{border-left-color:#cf222e}}.card.bad .v{{color:#cf222e}}
.card.na .v{{color:#8c959f}}
.chip{{display:inline-block;min-width:52px;text-align:center;padding:0 7px;border-radius:10px;font-size:12.5px;
font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap}}
.chip.good{{background:#dafbe1;color:#116329}}.chip.warn{{background:#fff1c2;color:#7d4e00}}
.chip.bad{{background:#ffe0e0;color:#a40e26}}.chip.na{{background:#eef0f2;color:#6b7280}}
.key{{font-size:12.5px;color:#57606a}}
.vbad{{color:#cf222e;font-weight:600}}.vok{{color:#1a7f37}}
.tag{{font-size:11.5px;color:#6b7280;background:#eef0f2;border-radius:8px;padding:0 6px;white-space:nowrap}}
.warnline{{background:#fff8c5;border:1px solid #eac54f;border-radius:6px;padding:4px 10px;color:#7d4e00}}
table.data{{border-collapse:collapse;width:100%;margin:6px 0;background:#fff;font-size:13px}}
table.data th,table.data td{{text-align:left;padding:4px 10px;border-bottom:1px solid #eaeef2;vertical-align:top}}
table.data th{{background:#f6f8fa;font-weight:600;color:#424a53}}
table.data .n{{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}}
table.data tr.bad td{{background:#ffebe9;color:#a40e26;font-weight:600}}
details{{margin:6px 0}}
summary{{cursor:pointer;color:#0969da;font-size:13px;padding:4px 0}}
.grid{{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px;align-items:start}}
.cc{{border:1px solid #eaeef2;border-radius:6px;padding:6px 8px 2px;background:#fff;min-width:0}}
.ct{{display:flex;justify-content:space-between;align-items:center;gap:8px}}
.cn{{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}}
.cm{{font-size:11.5px;color:#6b7280}}
.noplot{{color:#8c959f;font-size:12px;padding:24px 0;text-align:center}}
.legend{{display:flex;gap:16px;font-size:12.5px;margin:4px 0}}
.sw{{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}}
.sw.r{{background:{_REAL};opacity:.6;outline:1px solid {_REAL}}}.sw.s{{background:{_SYNTH}}}
.sw.na{{background:{_NA_FILL}}}
.heat{{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}}
.heat figure,figure.card-plot{{margin:0}}
figcaption{{font-weight:600;font-size:13px;margin-bottom:4px}}
figure.card-plot figcaption{{font-weight:400;margin-top:2px}}
.lg{{font-size:11px;color:#57606a;display:flex;flex-direction:column;gap:2px;width:180px}}
.lg .bar{{display:block;height:9px;border-radius:2px;border:1px solid #d0d7de}}
.lg .bar.div{{background:{_gradient_css(_DIVERGING)}}}
.lg .bar.seq{{background:{_gradient_css(_SEQUENTIAL)}}}
.lg .lt{{display:flex;justify-content:space-between}}
.nak{{margin-top:2px}}
.det{{margin:14px 0 4px}}
svg.plot{{display:block;max-width:100%;height:auto;overflow:visible}}
svg.plot text{{font-size:10px;fill:#57606a}}
svg.plot text.at{{font-size:11px;fill:#424a53}}
svg.plot text.hv{{font-size:9.5px;fill:#1f2328}}svg.plot text.hv.dk{{fill:#fff}}
.gl{{stroke:#e5e7eb;stroke-width:1;fill:none}}
.ax{{stroke:#8c959f;stroke-width:1;fill:none}}
.hb{{stroke:#8c959f;stroke-width:1;fill:none}}
.ra{{fill:{_REAL};fill-opacity:.35;stroke:{_REAL};stroke-width:1}}
.sl{{fill:none;stroke:{_SYNTH};stroke-width:2;stroke-linejoin:round}}
.r{{fill:{_REAL}}}.s{{fill:{_SYNTH}}}
footer{{margin-top:36px;color:#6b7280;font-size:12px}}
"""


def render_html(report: Mapping[str, Any]) -> str:
    """The fidelity report ``report`` (the dict of ``Report.to_dict()``) as one self-contained HTML page.

    Missing keys, nulls and empty lists are tolerated everywhere: a missing score shows as "—",
    a table without columns or pairs says so. The page fetches nothing from the network.
    """
    rep = _mapping(report)
    tables = _mapping(rep.get("tables"))
    rels = [_mapping(r) for r in _list(rep.get("relationships"))]
    version = rep.get("relsynth_version")
    anchors = {str(name): k for k, name in enumerate(tables)}
    notes = _list(rep.get("notes"))
    body = [
        '<header><div class="in"><div><h1>Synthetic data fidelity report</h1><div class="src">'
        f'<span>real <code>{_e(rep.get("real") or _DASH)}</code></span>'
        f'<span>synthetic <code>{_e(rep.get("synthetic") or _DASH)}</code></span></div></div>'
        f'<div class="ver">relsynth {_e(version or _DASH)}</div></div></header><main>',
        _summary(rep, tables, rels),
        _overview(tables, rels),
        _integrity(rep),
        *(_table_section(k, str(name), _mapping(t), notes) for k, (name, t) in enumerate(tables.items())),
        *(_relationship_section(k, r, anchors, tables) for k, r in enumerate(rels)),
        _ml(rep),
        _privacy(rep),
        _notes(rep),
        f"<footer>Generated by relsynth {_e(version or '')}. Self-contained page: no network access needed."
        "</footer></main>",
    ]
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>relsynth fidelity report</title><style>{_CSS}</style></head><body>"
            + "".join(body) + "</body></html>\n")
