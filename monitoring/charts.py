"""Server-rendered SVG line and bar charts for the monitoring pages: numbers in, geometry out."""

import math

WIDTH, HEIGHT = 480, 200
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 10, 22
SERIES_LETTERS = "abcde"  # css classes line-a.. and swatch-a.., as the bar charts use
TICKS = 4


def _nice_max(value):
    """A round axis top at or above `value` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _label(value, unit):
    if unit == "%":
        return f"{value * 100:.3g}%"
    return f"{value:.3g}{unit}"


def line_chart(series, *, since, until, unit="", time_format="%H:%M"):
    """Geometry for a time-series chart: series = [{"label", "points": [(datetime, y|None)]}].

    None values break the line (no data), they are not drawn as zero.
    """
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [y for s in series for _, y in s["points"] if y is not None]
    top = _nice_max(max(values, default=0))
    span = (until - since).total_seconds() or 1

    def x_of(t):
        return round(LEFT + plot_w * (t - since).total_seconds() / span, 1)

    def y_of(v):
        return round(TOP + plot_h * (1 - v / top), 1)

    lines = []
    for index, s in enumerate(series):
        segments, current = [], []
        for t, y in s["points"]:
            if y is None:
                if current:
                    segments.append(current)
                current = []
                continue
            current.append((x_of(t), y_of(y)))
        if current:
            segments.append(current)
        letter = SERIES_LETTERS[index % len(SERIES_LETTERS)]
        lines.append(
            {
                "label": s["label"],
                "css": f"line-{letter}",
                "swatch": f"swatch-{letter}",
                "segments": [
                    " ".join(f"{x},{y}" for x, y in points)
                    for points in segments
                    if len(points) > 1
                ],
                # A point with no neighbour would be an invisible line: drawn as a dot.
                "dots": [{"x": p[0][0], "y": p[0][1]} for p in segments if len(p) == 1],
            }
        )
    y_ticks = [
        {"y": y_of(top * i / TICKS), "label": _label(top * i / TICKS, unit)}
        for i in range(TICKS + 1)
    ]
    x_ticks = [
        {
            "x": x_of(since + (until - since) * i / TICKS),
            "label": (since + (until - since) * i / TICKS).strftime(time_format),
            # The outer labels lean inwards, so neither is cut at the chart's edge.
            "anchor": "start" if i == 0 else "end" if i == TICKS else "middle",
        }
        for i in range(TICKS + 1)
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "lines": lines,
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
        "empty": not values,
    }


def histogram_pair(labels, reference, current, *, width=WIDTH):
    """Side-by-side bars per bin: the reference's share and the current window's share."""
    ref_total, cur_total = sum(reference) or 1, sum(current) or 1
    shares = [(r / ref_total, c / cur_total) for r, c in zip(reference, current, strict=True)]
    top = max((max(pair) for pair in shares), default=0) or 1
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (width - LEFT - RIGHT) / max(len(labels), 1)
    bar = max(slot / 2 - 2, 1)
    bins = []
    for index, (label, (ref, cur)) in enumerate(zip(labels, shares, strict=True)):
        x = LEFT + slot * index
        bins.append(
            {
                "label": label,
                "ref_x": round(x + 1, 1),
                "cur_x": round(x + 1 + bar, 1),
                "ref_y": round(TOP + plot_h * (1 - ref / top), 1),
                "cur_y": round(TOP + plot_h * (1 - cur / top), 1),
                "ref_h": round(plot_h * ref / top, 1),
                "cur_h": round(plot_h * cur / top, 1),
                "ref": ref,
                "cur": cur,
                "text_x": round(x + slot / 2, 1),
            }
        )
    return {
        "width": width,
        "height": HEIGHT,
        "bar": round(bar, 1),
        "bottom": HEIGHT - BOTTOM,
        "left": LEFT,
        "bins": bins,
        "y_ticks": [
            {"y": round(TOP + plot_h * (1 - i / TICKS), 1), "label": _label(top * i / TICKS, "%")}
            for i in range(TICKS + 1)
        ],
    }
