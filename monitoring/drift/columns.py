"""What each checked column looks like in the reference: its kind, bins or categories, method."""

from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise

from monitoring.drift import methods

PREDICTION = "prediction"
INPUT, OUTPUT = "input", "output"


@dataclass
class Column:
    name: str
    source: str  # INPUT (a key of each logged input row) or OUTPUT (the logged prediction)
    method: str
    reference_count: int
    # numeric: values are binned by `edges` (inner bin edges; outer bins are open-ended);
    # otherwise counted per entry of `categories` (str, or float for few-valued numbers),
    # with one more bucket for anything else.
    numeric: bool
    edges: list = field(default_factory=list)
    categories: list = field(default_factory=list)
    reference_props: list = field(default_factory=list)
    sample: list = field(default_factory=list)
    std: float = 0.0

    @property
    def bucket_count(self):
        return len(self.edges) + 1 if self.numeric else len(self.categories) + 1

    @property
    def bucket_labels(self):
        """A short label per bucket, in bucket order (for the drift page's histograms)."""
        if self.numeric:
            edges = [f"{e:.4g}" for e in self.edges]
            if not edges:
                return ["all"]
            inner = [f"{low} to {high}" for low, high in pairwise(edges)]
            return [f"< {edges[0]}", *inner, f"≥ {edges[-1]}"]
        return [f"{c:g}" if isinstance(c, float) else str(c) for c in self.categories] + ["other"]

    @property
    def numeric_values(self):
        """Whether values are read as numbers (binned, or matched against numeric categories)."""
        return self.numeric or bool(self.categories and isinstance(self.categories[0], float))


def _numeric_column(name, source, ref):
    sample = [float(v) for v in ref.get("sample") or []]
    count = int(ref.get("count") or len(sample))
    if len(set(sample)) >= methods.MIN_NUMERIC_UNIQUE:
        edges = list(ref["bin_edges"])
        return Column(
            name=name,
            source=source,
            method=methods.choose_method(numeric=True, reference_count=count),
            reference_count=count,
            numeric=True,
            edges=[float(e) for e in edges[1:-1]],
            reference_props=[float(c) for c in ref["bin_counts"]],
            sample=sample,
            std=float(ref.get("std") or 0.0),
        )
    # Few distinct values: compared as categories, the sample standing in for the frequencies.
    frequencies = Counter(sample)
    values = sorted(frequencies)
    return Column(
        name=name,
        source=source,
        method=methods.choose_method(numeric=False, reference_count=count),
        reference_count=count,
        numeric=False,
        categories=values,
        reference_props=[frequencies[v] / len(sample) for v in values] + [0.0],
    )


def _categorical_column(name, source, ref):
    frequencies = ref.get("frequencies") or {}
    categories = list(frequencies)
    props = [float(frequencies[c]) for c in categories]
    # Only the most frequent categories are stored; the rest of the mass is "other".
    props.append(max(0.0, 1.0 - sum(props)))
    count = int(ref.get("count") or 0)
    return Column(
        name=name,
        source=source,
        method=methods.choose_method(numeric=False, reference_count=count),
        reference_count=count,
        numeric=False,
        categories=[str(c) for c in categories],
        reference_props=props,
    )


def _column(name, source, ref):
    if ref.get("kind") == "numeric":
        return _numeric_column(name, source, ref)
    return _categorical_column(name, source, ref)


def reference_columns(version):
    """The columns of a version to check: its input features, then the prediction."""
    stats = version.reference_stats or {}
    features = stats.get("features") or {}
    columns = [_column(name, INPUT, ref) for name, ref in features.items() if ref.get("count")]
    if (stats.get("predictions") or {}).get("count"):
        columns.append(_column(PREDICTION, OUTPUT, stats["predictions"]))
    return columns
