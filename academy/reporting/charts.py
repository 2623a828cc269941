"""Charts drawn on the server as inline SVG, so a dashboard needs no script to show them, prints
as it looks, and reads the same to everyone.

Each chart is an image to assistive technology (`role="img"`, named by its `<title>` and described
by its `<desc>`), and carries its points so the page can put a table of the same numbers right
next to it (templates/reporting/_charts.html). Every series is one dark-outlined shape with its
value written beside it, so no meaning rests on colour and a black-and-white print loses nothing.
Every piece of text is escaped here: labels come from data people typed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from markupsafe import Markup, escape

#: NHS.UK palette: text and outlines dark enough for print, one blue for the data.
INK = "#212b32"
DATA = "#005eb8"
GRID = "#aeb7bd"
FONT = 'font-family="Frutiger W01, Arial, sans-serif"'
_ID = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    #: What the categories are (the axis along the bars or under the line).
    category_label: str
    #: What the numbers count.
    value_label: str
    points: tuple[tuple[str, int], ...]
    svg: Markup


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _scale(largest: int) -> tuple[int, int]:
    """(top of the value axis, step between ticks): whole numbers, at most six ticks."""
    if largest <= 5:
        return 5, 1
    rough = largest / 5
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    return step * math.ceil(largest / step), step


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: int = 14,
    anchor: str = "start",
    bold: bool = False,
    turn: int = 0,
) -> str:
    """A label at (x, y), turned `turn` degrees about that point."""
    weight = ' font-weight="bold"' if bold else ""
    rotation = f' transform="rotate({turn} {_number(x)} {_number(y)})"' if turn else ""
    return (
        f'<text x="{_number(x)}" y="{_number(y)}" font-size="{size}" fill="{INK}" '
        f'text-anchor="{anchor}"{weight}{rotation}>{escape(text)}</text>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, colour: str = INK, width: int = 1) -> str:
    return (
        f'<line x1="{_number(x1)}" y1="{_number(y1)}" x2="{_number(x2)}" y2="{_number(y2)}" '
        f'stroke="{colour}" stroke-width="{width}"/>'
    )


def _svg(chart_id: str, title: str, description: str, width: int, height: int, body: list[str]):
    if not _ID.match(chart_id):
        raise ValueError(f"A chart id must be a lower-case slug, not {chart_id!r}")
    return Markup(  # noqa: S704 - every text and attribute value above is escaped or a number
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" id="{chart_id}" '
        f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'class="academy-chart__image" {FONT}>'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def bar_chart(
    chart_id: str,
    *,
    title: str,
    description: str,
    category_label: str,
    value_label: str,
    points: list[tuple[str, int]],
) -> Chart:
    """Horizontal bars, one per category, each with its value written at its end."""
    width, label_width, value_room = 640, 150, 50
    top, row, bar, bottom = 34, 36, 22, 56
    plot_width = width - label_width - value_room
    height = top + row * len(points) + bottom
    axis_y = top + row * len(points)
    maximum, step = _scale(max((value for _, value in points), default=0))
    body = [_text(label_width - 10, 20, category_label, size=13, anchor="end", bold=True)]
    for tick in range(0, maximum + 1, step):
        x = label_width + plot_width * tick / maximum
        body.append(_line(x, top - 6, x, axis_y, GRID))
        body.append(_line(x, axis_y, x, axis_y + 6))
        body.append(_text(x, axis_y + 22, str(tick), size=13, anchor="middle"))
    for index, (label, value) in enumerate(points):
        y = top + row * index + (row - bar) / 2
        length = plot_width * value / maximum
        body.append(_text(label_width - 10, y + bar / 2 + 5, label, anchor="end"))
        if value:
            body.append(
                f'<rect x="{label_width}" y="{_number(y)}" width="{_number(length)}" '
                f'height="{bar}" fill="{DATA}" stroke="{INK}" stroke-width="1.5"/>'
            )
        body.append(_text(label_width + length + 8, y + bar / 2 + 5, str(value), bold=True))
    body.append(_line(label_width, top - 6, label_width, axis_y, INK, 2))
    body.append(_line(label_width, axis_y, label_width + plot_width, axis_y, INK, 2))
    body.append(
        _text(
            label_width + plot_width / 2,
            height - 8,
            value_label,
            size=13,
            anchor="middle",
            bold=True,
        )
    )
    svg = _svg(chart_id, title, description, width, height, body)
    return Chart(chart_id, title, description, category_label, value_label, tuple(points), svg)


def line_chart(
    chart_id: str,
    *,
    title: str,
    description: str,
    category_label: str,
    value_label: str,
    points: list[tuple[str, int]],
) -> Chart:
    """A line through one point per category (months, say), each point marked and labelled with
    its value, over a whole-number value axis from zero."""
    width, height = 640, 320
    left, right, top, bottom = 64, 24, 24, 96
    plot_width, plot_height = width - left - right, height - top - bottom
    axis_y = top + plot_height
    maximum, step = _scale(max((value for _, value in points), default=0))
    gap = plot_width / max(len(points), 1)
    body = []
    for tick in range(0, maximum + 1, step):
        y = axis_y - plot_height * tick / maximum
        body.append(_line(left, y, left + plot_width, y, GRID))
        body.append(_line(left - 6, y, left, y))
        body.append(_text(left - 10, y + 5, str(tick), size=13, anchor="end"))
    coordinates = []
    for index, (label, value) in enumerate(points):
        x = left + gap * (index + 0.5)
        y = axis_y - plot_height * value / maximum
        coordinates.append((x, y, value))
        body.append(_line(x, axis_y, x, axis_y + 6))
        body.append(_text(x, axis_y + 18, label, size=12, anchor="end", turn=-45))
    if coordinates:
        path = " ".join(f"{_number(x)},{_number(y)}" for x, y, _ in coordinates)
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{DATA}" stroke-width="3" '
            'stroke-linejoin="round"/>'
        )
    for x, y, value in coordinates:
        body.append(
            f'<circle cx="{_number(x)}" cy="{_number(y)}" r="5" fill="{DATA}" stroke="{INK}" '
            'stroke-width="1.5"/>'
        )
        body.append(_text(x, y - 10, str(value), size=13, anchor="middle", bold=True))
    body.append(_line(left, top, left, axis_y, INK, 2))
    body.append(_line(left, axis_y, left + plot_width, axis_y, INK, 2))
    body.append(
        _text(16, top + plot_height / 2, value_label, size=13, anchor="middle", bold=True, turn=-90)
    )
    body.append(
        _text(
            left + plot_width / 2, height - 8, category_label, size=13, anchor="middle", bold=True
        )
    )
    svg = _svg(chart_id, title, description, width, height, body)
    return Chart(chart_id, title, description, category_label, value_label, tuple(points), svg)


def meter(chart_id: str, *, title: str, value: int, target: int) -> Markup:
    """How far `value` has come towards `target`: a bar outlined in full and filled in
    proportion, dark-edged so it survives printing. The page writes the numbers beside it."""
    width, height = 400, 28
    share = 1.0 if target <= 0 else min(1.0, value / target)
    body = [
        f'<rect x="1" y="1" width="{width - 2}" height="{height - 2}" fill="#ffffff" '
        f'stroke="{INK}" stroke-width="2"/>',
    ]
    if share:
        body.append(
            f'<rect x="1" y="1" width="{_number((width - 2) * share)}" height="{height - 2}" '
            f'fill="{DATA}" stroke="{INK}" stroke-width="2"/>'
        )
    return _svg(chart_id, title, f"{value} of a target of {target}", width, height, body)
