"""SVG chart geometry: scales that fit the data, gaps where there is none."""

from datetime import UTC, datetime, timedelta

from monitoring.charts import HEIGHT, histogram_pair, line_chart

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_lines_scale_to_a_round_top_and_break_at_missing_points():
    points = [(T0 + timedelta(minutes=i), v) for i, v in enumerate([1, 3, None, 7, 2])]
    chart = line_chart(
        [{"label": "m", "points": points}], since=T0, until=T0 + timedelta(minutes=4)
    )
    assert chart["y_ticks"][-1]["label"] == "10"  # 7 rounds up to 10
    line = chart["lines"][0]
    assert len(line["segments"]) == 2  # the None splits the line
    xs = [float(p.split(",")[0]) for p in line["segments"][0].split()]
    assert xs == sorted(xs)
    assert chart["x_ticks"][0]["anchor"] == "start"
    assert chart["x_ticks"][-1]["anchor"] == "end"


def test_a_lone_point_becomes_a_dot_and_no_data_says_empty():
    lone = [(T0, None), (T0 + timedelta(minutes=1), 5), (T0 + timedelta(minutes=2), None)]
    chart = line_chart([{"label": "m", "points": lone}], since=T0, until=T0 + timedelta(minutes=2))
    assert chart["lines"][0]["segments"] == []
    assert len(chart["lines"][0]["dots"]) == 1
    empty = line_chart([{"label": "m", "points": [(T0, None)]}], since=T0, until=T0)
    assert empty["empty"]


def test_histograms_compare_shares_not_counts():
    chart = histogram_pair(["a", "b"], [0.5, 0.5], [10, 30])
    a, b = chart["bins"]
    assert (a["ref"], a["cur"], b["cur"]) == (0.5, 0.25, 0.75)
    assert b["cur_h"] > a["cur_h"] > 0
    assert b["cur_y"] + b["cur_h"] <= HEIGHT
