"""SVG charts written as text for the HTML pages: bars over nodes, a step curve, horizontal bars and a log-log
scatter. They place given values on axes (linear, or logarithmic when the values span more than three
decades) and compute no figure of the model. Every mark has class "mark" and a <title> (the browser's
tooltip); every string goes through ``esc``, so a hostile node name stays text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from .sanitize import visible

WIDTH = 1100  # the viewBox width; the page scales the SVG to its column
LOG_RANGE = 1000  # largest/smallest positive value past which an axis is logarithmic
OTHER_COLOUR = "#b0b0b0"
PALETTE = ["#3b6ea5", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#8c6d31"]  # colour-blind safe


def esc(text: object) -> str:
    """Text for an HTML or SVG element or attribute value: markup characters and quotes escaped, and control, bidi
    and separator characters shown as escapes as the terminal shows them (sanitize.visible)."""
    return escape(visible(str(text)), quote=True)


# --- axes -------------------------------------------------------------------------------------------------

_UNITS = {"count": (1000, ["", " K", " M", " G", " T", " P", " E"]),
          "bytes": (1024, [" B", " KiB", " MiB", " GiB", " TiB", " PiB", " EiB"]),
          "plain": (1000, ["", "k", "M", "G", "T", "P", "E"])}


def tick_label(value: float, kind: str) -> str:
    """A short axis label: 0, 500 M, 1.5 G, 32 KiB, 0.01 (for 'plain' values below 1)."""
    base, names = _UNITS[kind]
    if value == 0:
        return "0" + (" B" if kind == "bytes" else "")
    if abs(value) < 1:
        return f"{value:.3g}"
    power = 0
    while abs(value) >= base and power < len(names) - 1:
        value /= base
        power += 1
    return f"{value:.3g}{names[power]}"


@dataclass
class Axis:
    """Values ``lo``..``hi`` onto pixels ``px_lo``..``px_hi``, linear or base-10 logarithmic."""

    lo: float
    hi: float
    log: bool
    px_lo: float
    px_hi: float
    kind: str = "count"

    def at(self, value: float) -> float:
        if self.log:
            value = math.log10(max(value, self.lo))
            lo, hi = math.log10(self.lo), math.log10(self.hi)
        else:
            lo, hi = self.lo, self.hi
        fraction = (value - lo) / (hi - lo) if hi > lo else 0.0
        return self.px_lo + fraction * (self.px_hi - self.px_lo)

    def ticks(self) -> list[float]:
        if not self.log:
            return _linear_ticks(self.hi, self.kind)
        if self.kind == "bytes":  # powers of two: 1 KiB, 32 KiB, 1 MiB ... rather than 9.77 KiB
            first, last = round(math.log2(self.lo)), round(math.log2(self.hi))
            step = next(s for s in (1, 2, 5, 10, 20, 30) if (last - first) / s <= 7)
            return [2.0 ** k for k in range(first, last + 1) if k % step == 0]
        first, last = round(math.log10(self.lo)), round(math.log10(self.hi))
        step = max(1, math.ceil((last - first) / 7))
        return [10.0 ** k for k in range(first, last + 1, step)]

    @property
    def scale_name(self) -> str:
        return "log scale" if self.log else "linear scale"


def _linear_ticks(top: float, kind: str) -> list[float]:
    """0 and about five round steps, the last at or above ``top`` so that the highest value has a tick above it:
    1, 2, 2.5 or 5 times a power of ten in the axis's unit (K, M, G), or a power of two for bytes (256 B, 4 MiB)."""
    if top <= 0:
        return [0.0]
    raw = top / 5
    if kind == "bytes":
        step = 2.0 ** math.ceil(math.log2(raw))
    else:
        unit = 1.0
        while top / unit >= _UNITS[kind][0]:
            unit *= _UNITS[kind][0]
        magnitude = 10 ** math.floor(math.log10(raw / unit))
        step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw / unit) * unit
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def value_axis(values: Sequence[float], px_lo: float, px_hi: float, kind: str = "count", log: bool | None = None) -> Axis:
    """An axis for ``values``: logarithmic when ``log`` or (None) when the positive ones span over LOG_RANGE."""
    positive = [v for v in values if v > 0]
    top = max(positive, default=1.0)
    if log is None:
        log = bool(positive) and top / min(positive) > LOG_RANGE
    if log:
        base = 2 if kind == "bytes" else 10
        lo = base ** math.floor(math.log(min(positive, default=1.0), base) + 1e-9)
        hi = base ** math.ceil(math.log(top, base) - 1e-9)
        return Axis(lo, hi if hi > lo else lo * base, True, px_lo, px_hi, kind)
    ticks = _linear_ticks(top, kind)
    return Axis(0.0, max(top, ticks[-1]), False, px_lo, px_hi, kind)


def _y_grid(axis: Axis, left: float, right: float) -> list[str]:
    parts = []
    for tick in axis.ticks():
        y = axis.at(tick)
        parts.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(tick_label(tick, axis.kind))}</text>')
    return parts


def _x_ticks(count: int, left: float, right: float, bottom: float) -> list[str]:
    """Round positions 0 .. ``count`` - 1 (node indices, steps) under an axis of ``count`` equal slots."""
    if count <= 1:
        return []
    raw = count / 8
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1, int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)))
    slot = (right - left) / count
    return [f'<text class="tick" x="{left + (k + 0.5) * slot:.1f}" y="{bottom + 14}" text-anchor="middle">{k:,}</text>'
            for k in range(0, count, step)]


def _x_title(title: str, left: float, right: float, height: float) -> str:
    return f'<text class="axis-title" x="{(left + right) / 2}" y="{height - 4}" text-anchor="middle">{esc(title)}</text>'


def _svg(height: float, label: str, body: Sequence[str]) -> str:
    return (f'<svg viewBox="0 0 {WIDTH} {height:.0f}" role="img" aria-label="{esc(label)}" '
            f'preserveAspectRatio="xMidYMid meet">{"".join(body)}</svg>')


# --- charts -----------------------------------------------------------------------------------------------

@dataclass
class Bar:
    """One bar: its value, colour, tooltip and the short label shown above it when it is among the heaviest."""

    value: float
    colour: str
    tooltip: str
    label: str = ""


def column_chart(bars: Sequence[Bar], kind: str, label: str, x_title: str, highlight: int = 5, items: int | None = None,
                 height: int = 240) -> tuple[str, Axis]:
    """Bars left to right, one per item (node) or per run of ``items`` / len(bars) items; the ``highlight``
    heaviest (and any more tied with the heaviest of all) carry their label."""
    left, right, top, bottom = 72, WIDTH - 10, 46, height - 36  # room above for three lines of labels
    axis = value_axis([b.value for b in bars], bottom, top, kind)
    slot = (right - left) / max(len(bars), 1)
    dense = slot < 4  # bars of a pixel or so: no gaps, no anti-aliased stripes
    width = slot if dense else slot * 0.8
    body = _y_grid(axis, left, right)
    body.append('<g shape-rendering="crispEdges">' if dense else "<g>")
    for i, bar in enumerate(bars):
        if bar.value <= 0:
            continue
        x, y = left + i * slot, min(axis.at(bar.value), bottom - 1)  # a positive value is at least one pixel tall
        body.append(f'<rect class="mark" x="{x:.2f}" y="{y:.1f}" width="{width:.2f}" height="{bottom - y:.1f}" '
                    f'fill="{bar.colour}"><title>{esc(bar.tooltip)}</title></rect>')
    body.append("</g>")
    heaviest = sorted((i for i, b in enumerate(bars) if b.value > 0 and b.label), key=lambda i: (-bars[i].value, i))
    named: list[int] = []
    for i in heaviest[:4 * highlight]:
        tied = bars[i].value == bars[heaviest[0]].value  # all bars tied with the heaviest are named, up to twice as many
        if len(named) >= (2 * highlight if tied else highlight):
            break
        if all(abs(i - j) * slot >= 12 for j in named):  # one name per neighbourhood
            named.append(i)
    body.extend(_labels([(left + i * slot + width / 2, axis.at(bars[i].value), bars[i].label) for i in sorted(named)],
                        left, right))
    body.extend(_x_ticks(items or len(bars), left, right, bottom))
    body.append(f'<line class="axis" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>'
                + _x_title(x_title, left, right, height))
    return _svg(height, label, body), axis


def _labels(points: list[tuple[float, float, str]], left: float, right: float) -> list[str]:
    """Labels above their points (within left..right), raised a line where they would overlap the one before."""
    parts, ends = [], [-1e9, -1e9, -1e9]  # the right end of the last label on each of three lines
    for mark_x, y, text in points:
        half = 3.3 * len(text) + 4
        x = min(max(mark_x, left + half), right - half)
        line = next((k for k, end in enumerate(ends) if x - half > end), len(ends) - 1)
        ends[line] = x + half
        label_y = y - 6 - 13 * line
        parts.append(f'<text class="label" x="{x:.1f}" y="{label_y:.1f}" text-anchor="middle">{esc(text)}</text>')
        if line or x != mark_x:
            parts.append(f'<line class="leader" x1="{mark_x:.1f}" x2="{mark_x:.1f}" y1="{label_y + 3:.1f}" y2="{y - 2:.1f}"/>')
    return parts


@dataclass
class Step:
    """One point of a curve: its value and tooltip."""

    value: float
    tooltip: str


def step_chart(steps: Sequence[Step], marked: int | None, mark_text: Sequence[str], label: str, x_title: str,
               items: int | None = None, height: int = 270) -> str:
    """A filled step curve of byte values, one step per item or per run of ``items`` / len(steps) items; the
    point ``marked`` gets a dot and ``mark_text`` beside it."""
    left, right, top, bottom = 72, WIDTH - 10, 20, height - 36
    axis = value_axis([s.value for s in steps], bottom, top, "bytes", log=False)
    slot = (right - left) / max(len(steps), 1)
    path = [f"M{left},{bottom}"]
    for i, step in enumerate(steps):
        y = axis.at(step.value)
        path.append(f"V{y:.1f}H{left + (i + 1) * slot:.2f}")
    path.append(f"V{bottom}Z")
    body = _y_grid(axis, left, right)
    body.append(f'<path class="mark area" d="{"".join(path)}"><title>{esc(label)}</title></path>')
    body.extend(f'<rect class="hover" x="{left + i * slot:.2f}" y="{top}" width="{slot:.2f}" height="{bottom - top}">'
                f'<title>{esc(step.tooltip)}</title></rect>' for i, step in enumerate(steps))
    if marked is not None and steps:
        x, y = left + (marked + 0.5) * slot, axis.at(steps[marked].value)
        anchor, dx = ("end", -10) if x > (left + right) / 2 else ("start", 10)
        body.append(f'<circle class="mark peak" cx="{x:.1f}" cy="{y:.1f}" r="5"><title>{esc(mark_text[0])}</title></circle>')
        for k, line in enumerate(mark_text):
            body.append(f'<text class="{"peak-label" if k == 0 else "label"}" x="{x + dx:.1f}" y="{y + 4 + 14 * k:.1f}" '
                        f'text-anchor="{anchor}">{esc(line)}</text>')
    body.extend(_x_ticks(items or len(steps), left, right, bottom))
    body.append(f'<line class="axis" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>'
                + _x_title(x_title, left, right, height))
    return _svg(height, label, body)


@dataclass
class Row:
    """One line of a horizontal bar chart: its name, one (value, text) per panel and, for a before/after chart,
    the value before per panel (drawn as a grey bar behind)."""

    name: str
    cells: list[tuple[float, str]]
    before: list[float] | None = None


def bar_rows(rows: Sequence[Row], panels: Sequence[str], label: str, colours: Sequence[str] | None = None) -> str:
    """Horizontal bars: one line per row, one panel per figure, each bar scaled to its panel's largest value."""
    name_width, line, top = 170, 22, 26
    panel_width = (WIDTH - name_width - 10) / len(panels)
    height = top + line * len(rows) + 6
    body = [f'<text class="panel-title" x="{name_width + p * panel_width}" y="16">{esc(title)}</text>'
            for p, title in enumerate(panels)]
    tops = [max((max(r.cells[p][0], r.before[p] if r.before else 0) for r in rows), default=0) or 1
            for p in range(len(panels))]
    for k, row in enumerate(rows):
        y = top + k * line
        colour = colours[k] if colours else PALETTE[0]
        body.append(f'<text class="name" x="{name_width - 8}" y="{y + 15}" text-anchor="end">{esc(_clip(row.name, 26))}'
                    f'<title>{esc(row.name)}</title></text>')
        for p, (value, text) in enumerate(row.cells):
            x, scale = name_width + p * panel_width, (panel_width - 130) / tops[p]
            end = value * scale
            if row.before:
                end = max(end, row.before[p] * scale)
                body.append(f'<rect class="before" x="{x:.1f}" y="{y + 4}" width="{max(row.before[p] * scale, 1):.1f}" '
                            f'height="{line - 8}"/>')
            if value > 0:
                body.append(f'<rect class="mark" x="{x:.1f}" y="{y + 4}" width="{max(value * scale, 1):.1f}" '
                            f'height="{line - 8}" fill="{colour}"><title>{esc(f"{row.name}: {text}")}</title></rect>')
            body.append(f'<text class="value" x="{x + end + 5:.1f}" y="{y + 15}">{esc(text)}</text>')
    return _svg(height, label, body)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Point:
    """One scatter mark: x, y (both positive), colour, tooltip, how many nodes it stands for and a label."""

    x: float
    y: float
    colour: str
    tooltip: str
    count: int = 1
    label: str = ""


def scatter(points: Sequence[Point], x_kind: str, y_kind: str, x_title: str, y_title: str, label: str,
            height: int = 360) -> str:
    """A log-log scatter; a mark standing for several nodes is larger."""
    left, right, top, bottom = 72, WIDTH - 20, 16, height - 40
    x_axis = value_axis([p.x for p in points], left, right, x_kind, log=True)
    y_axis = value_axis([p.y for p in points], bottom, top, y_kind, log=True)
    body = _y_grid(y_axis, left, right)
    for tick in x_axis.ticks():
        x = x_axis.at(tick)
        body.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}"/>'
                    f'<text class="tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{esc(tick_label(tick, x_kind))}</text>')
    for point in points:
        radius = 3.5 + 1.5 * math.log10(point.count)
        body.append(f'<circle class="mark" cx="{x_axis.at(point.x):.1f}" cy="{y_axis.at(point.y):.1f}" r="{radius:.1f}" '
                    f'fill="{point.colour}"><title>{esc(point.tooltip)}</title></circle>')
    placed: list[tuple[float, float, float]] = []  # left, right and baseline of the labels so far
    for point in points:
        if not point.label:
            continue
        x, y = x_axis.at(point.x) + 7, y_axis.at(point.y) - 6
        x = min(x, right - 6.6 * len(point.label))
        while any(a - 4 < x + 6.6 * len(point.label) and x < b + 4 and abs(y - base) < 12 for a, b, base in placed):
            y += 12  # below the label it would cover
        placed.append((x, x + 6.6 * len(point.label), y))
        body.append(f'<text class="label" x="{x:.1f}" y="{y:.1f}">{esc(point.label)}</text>')
    body.append(f'<text class="axis-title" x="{(left + right) / 2}" y="{height - 6}" text-anchor="middle">{esc(x_title)}</text>'
                f'<text class="axis-title" transform="translate(14 {(top + bottom) / 2}) rotate(-90)" '
                f'text-anchor="middle">{esc(y_title)}</text>')
    return _svg(height, label, body)


def legend(entries: Sequence[tuple[str, str]]) -> str:
    """Coloured keys in HTML: (name, colour) pairs."""
    return '<p class="legend">' + "".join(
        f'<span><i style="background:{colour}"></i>{esc(name)}</span>' for name, colour in entries) + "</p>"

