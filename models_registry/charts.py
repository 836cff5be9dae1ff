"""Server-rendered SVG charts: plain numbers in, geometry out, no JavaScript."""

from models_registry.training.metrics import LOWER_IS_BETTER

BAR_WIDTH = 360


def compare_bars(a, b):
    """Rows for a two-version metrics chart; bars share one scale per metric."""
    rows = []
    for metric in sorted(set(a.metrics) & set(b.metrics)):
        va, vb = a.metrics[metric], b.metrics[metric]
        scale = max(abs(va), abs(vb)) or 1
        better = None
        if va != vb:
            a_better = va < vb if metric in LOWER_IS_BETTER else va > vb
            better = "a" if a_better else "b"
        rows.append(
            {
                "metric": metric,
                "a": va,
                "b": vb,
                "a_width": round(BAR_WIDTH * abs(va) / scale, 1),
                "b_width": round(BAR_WIDTH * abs(vb) / scale, 1),
                "better": better,
                "lower_is_better": metric in LOWER_IS_BETTER,
            }
        )
    return {"rows": rows, "height": 44 * len(rows) + 10, "bar_width": BAR_WIDTH}


DIST_BAR_HEIGHT = 12
DIST_LABEL_WIDTH = 130
ARM_CLASSES = ("bar-a", "bar-b", "bar-c", "bar-d", "bar-e")


def distribution_bars(results):
    """Grouped bars: per predicted value, each arm's share of its own predictions."""
    arms = [arm for arm in results["arms"] if sum(arm["distribution"])]
    if not arms or not results["labels"]:
        return None
    totals = {arm["name"]: sum(arm["distribution"]) for arm in arms}
    group = DIST_BAR_HEIGHT * len(arms) + 12
    rows = []
    for index, label in enumerate(results["labels"]):
        bars = []
        for position, arm in enumerate(arms):
            share = arm["distribution"][index] / totals[arm["name"]]
            width = round(BAR_WIDTH * share, 1)
            bars.append(
                {
                    "arm": arm["name"],
                    "share": share,
                    "count": arm["distribution"][index],
                    "width": width,
                    "y": position * DIST_BAR_HEIGHT,
                    "text_x": DIST_LABEL_WIDTH + width + 6,
                    "text_y": position * DIST_BAR_HEIGHT + DIST_BAR_HEIGHT - 2,
                    "css": ARM_CLASSES[position % len(ARM_CLASSES)],
                }
            )
        rows.append({"label": label, "y": index * group, "bars": bars})
    legend = [
        {"arm": arm["name"], "css": ARM_CLASSES[i % len(ARM_CLASSES)]} for i, arm in enumerate(arms)
    ]
    return {
        "rows": rows,
        "legend": legend,
        "height": group * len(rows) + 4,
        "label_width": DIST_LABEL_WIDTH,
        "bar_height": DIST_BAR_HEIGHT - 2,
    }
