"""Bar charts as numbers for an SVG template: no chart library, no JavaScript. The template draws them and
prints the same data as a table for screen readers and for copying."""

import math
from dataclasses import dataclass, field
from datetime import date

LEFT = 40
RIGHT = 8
TOP = 10
BOTTOM = 24
PLOT_HEIGHT = 160
BAR_WIDTH = 16
GAP = 6


@dataclass
class Segment:
    y: float
    height: float
    css: str
    label: str
    value: int


@dataclass
class Bar:
    day: date
    x: float
    total: int
    segments: list[Segment] = field(default_factory=list)


@dataclass
class Tick:
    y: float
    label: str


@dataclass
class XLabel:
    x: float
    label: str


@dataclass
class Series:
    key: str
    label: str
    values: list[int]


@dataclass
class Row:
    """One day of the chart's data table."""

    day: date
    values: list[int]
    total: int


@dataclass
class Chart:
    title: str
    description: str
    width: int
    height: int
    plot_left: int
    plot_right: int
    series: list[Series]
    bars: list[Bar]
    ticks: list[Tick]
    x_labels: list[XLabel]
    baseline: float
    rows: list[Row]
    bar_width: int = BAR_WIDTH


def _nice_ceiling(value: int) -> int:
    """1, 2, 5, 10, 20, 50... at or above value, so the axis reads in round numbers."""
    if value <= 0:
        return 1
    magnitude = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def stacked_bars(
    title: str, description: str, days: list[date], series: list[Series], css_prefix: str
) -> Chart:
    totals = [sum(s.values[i] for s in series) for i in range(len(days))]
    top = _nice_ceiling(max(totals, default=0))
    scale = PLOT_HEIGHT / top
    baseline = TOP + PLOT_HEIGHT
    bars = []
    for i, day in enumerate(days):
        bar = Bar(day=day, x=LEFT + GAP / 2 + i * (BAR_WIDTH + GAP), total=totals[i])
        y: float = baseline
        for s in series:
            value = s.values[i]
            if not value:
                continue
            height = round(value * scale, 2)
            y = round(y - height, 2)
            bar.segments.append(Segment(y, height, f"{css_prefix}{s.key}", s.label, value))
        bars.append(bar)
    ticks = [Tick(round(baseline - PLOT_HEIGHT * f, 2), f"{round(top * f):,}") for f in (0, 0.5, 1)]
    # A date under every fifth bar, and under the last (today).
    x_labels = [
        XLabel(bar.x + BAR_WIDTH / 2, f"{bar.day.day} {bar.day:%b}")
        for i, bar in enumerate(bars)
        if i % 5 == 0 or i == len(bars) - 1
    ]
    width = LEFT + len(days) * (BAR_WIDTH + GAP) + RIGHT
    return Chart(
        title=title,
        description=description,
        width=width,
        height=TOP + PLOT_HEIGHT + BOTTOM,
        plot_left=LEFT,
        plot_right=width - RIGHT,
        series=series,
        bars=bars,
        ticks=ticks,
        x_labels=x_labels,
        baseline=baseline,
        rows=[Row(day, [s.values[i] for s in series], totals[i]) for i, day in enumerate(days)],
    )
