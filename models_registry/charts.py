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
