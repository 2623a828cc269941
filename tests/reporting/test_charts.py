"""The server-drawn charts: images to assistive technology with a title and description, every
label escaped, dark outlines and written values so nothing rests on colour, and a table of the
same figures beside each chart on the dashboard."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from academy.reporting.charts import bar_chart, line_chart, meter

SVG = "{http://www.w3.org/2000/svg}"
POINTS = [("On track", 12), ("Late work", 3), ("At risk", 0)]


def parsed(chart_svg) -> ET.Element:
    return ET.fromstring(str(chart_svg))  # noqa: S314 - our own chart, not outside input


def texts(root: ET.Element) -> list[str]:
    return [element.text for element in root.iter(f"{SVG}text")]


@pytest.mark.no_db
@pytest.mark.parametrize("draw", [bar_chart, line_chart])
def test_a_chart_is_a_named_described_image(draw):
    chart = draw(
        "status-chart",
        title="Learners by progress",
        description="Twelve on track, three late, none at risk.",
        category_label="Progress",
        value_label="Learners",
        points=POINTS,
    )
    root = parsed(chart.svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "status-chart-title"
    assert root.get("aria-describedby") == "status-chart-desc"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert (title.get("id"), title.text) == ("status-chart-title", "Learners by progress")
    assert (desc.get("id"), desc.text) == ("status-chart-desc", chart.description)
    labels = texts(root)
    # Axis titles and every category with its value written out, not only drawn.
    assert {"Progress", "Learners", "On track", "Late work", "At risk"} <= set(labels)
    assert {"12", "3", "0"} <= set(labels)
    assert chart.points == tuple(POINTS)


@pytest.mark.no_db
def test_bars_are_outlined_in_a_dark_colour_and_sized_by_value():
    root = parsed(bar_chart("bars", title="t", description="d", category_label="c",
                            value_label="v", points=POINTS).svg)  # fmt: skip
    bars = root.findall(f"{SVG}rect")
    assert len(bars) == 2  # nothing is drawn for a zero, its value is still written
    assert all(bar.get("stroke") == "#212b32" for bar in bars)
    widths = [float(bar.get("width")) for bar in bars]
    assert widths[0] == pytest.approx(widths[1] * 4)


@pytest.mark.no_db
def test_the_line_marks_each_point_with_an_outlined_marker():
    points = [(f"Month {n}", n) for n in range(12)]
    root = parsed(line_chart("trend", title="t", description="d", category_label="Month",
                             value_label="Staff", points=points).svg)  # fmt: skip
    markers = root.findall(f"{SVG}circle")
    assert len(markers) == 12
    assert all(marker.get("stroke") == "#212b32" for marker in markers)
    assert len(root.find(f"{SVG}polyline").get("points").split()) == 12
    # Whole-number ticks from zero up to at least the largest value.
    ticks = [int(t) for t in texts(root) if t.isdigit()]
    assert 0 in ticks and max(ticks) >= 11


@pytest.mark.no_db
@pytest.mark.parametrize("draw", [bar_chart, line_chart])
def test_every_text_is_escaped(draw):
    evil = '<script>alert("x")</script> & co'
    chart = draw("evil", title=evil, description=evil, category_label=evil, value_label=evil,
                 points=[(evil, 1)])  # fmt: skip
    svg = str(chart.svg)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    root = parsed(svg)  # still well-formed XML
    assert root.find(f"{SVG}title").text == evil
    assert evil in texts(root)


@pytest.mark.no_db
def test_an_id_that_is_not_a_slug_is_refused():
    with pytest.raises(ValueError):
        bar_chart('x" onload="alert(1)', title="t", description="d", category_label="c",
                  value_label="v", points=[])  # fmt: skip


@pytest.mark.no_db
@pytest.mark.parametrize("draw", [bar_chart, line_chart])
def test_an_empty_or_all_zero_chart_still_draws_its_axes(draw):
    for points in ([], [("A", 0), ("B", 0)]):
        root = parsed(draw("empty", title="t", description="d", category_label="c",
                           value_label="v", points=points).svg)  # fmt: skip
        assert "5" in texts(root)  # the value axis runs 0 to 5


@pytest.mark.no_db
def test_the_meter_fills_in_proportion_and_caps_at_the_target():
    def filled(value, target):
        rects = parsed(meter("m", title="Coverage", value=value, target=target)).findall(
            f"{SVG}rect"
        )
        return [float(r.get("width")) for r in rects]

    outline, fill = filled(3, 5)
    assert fill == pytest.approx(outline * 0.6)
    assert filled(0, 5) == [filled(0, 5)[0]]
    outline, fill = filled(9, 5)
    assert fill == outline
    root = parsed(meter("m", title="Coverage: 3 of 5 credentialed", value=3, target=5))
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Coverage: 3 of 5 credentialed"


@pytest.mark.no_db
def test_the_scale_uses_round_steps():
    root = parsed(bar_chart("s", title="t", description="d", category_label="c",
                            value_label="v", points=[("A", 37)]).svg)  # fmt: skip
    ticks = sorted(int(t) for t in texts(root) if re.fullmatch(r"\d+", t) and t != "37")
    assert ticks == [0, 10, 20, 30, 40]
