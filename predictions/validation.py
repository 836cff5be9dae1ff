"""Check predict inputs against a version's input schema: one error per field and row.

Types, missing and unknown features are always errors. A number outside the schema's range
(the training range, widened) is an error only for models that enforce ranges; otherwise it
is served and reported in `RowCheck.out_of_range`, so monitoring sees the shift it signals.
"""

import sys
from collections import Counter
from dataclasses import dataclass, field
from numbers import Real

RANGE_KINDS = frozenset({"greater_than_equal", "less_than_equal"})


@dataclass
class RowCheck:
    errors: list = field(default_factory=list)
    # {feature: rows holding a value outside its range}, for values served anyway.
    out_of_range: Counter = field(default_factory=Counter)
    out_of_range_rows: int = 0


def _error(row, field, message, kind):
    return {"loc": ["body", "inputs", row, field], "msg": message, "type": kind}


def _fast_bounds(feature):
    """(low, high) when a plain float in range can skip the full check, else None."""
    if feature["type"] != "number":
        return None
    low, high = feature.get("min"), feature.get("max")
    # Finite stand-ins for open bounds keep inf out of the fast path (NaN fails any compare).
    return (
        -sys.float_info.max if low is None else low,
        sys.float_info.max if high is None else high,
    )


def validate_rows(schema, rows, *, enforce_ranges=True):
    """Return a list of errors (empty when every row fits the schema)."""
    return check_rows(schema, rows, enforce_ranges=enforce_ranges).errors


def check_rows(schema, rows, *, enforce_ranges):
    """Errors, and (when ranges are not enforced) the values served outside their range."""
    fields = {feature["name"]: feature for feature in schema}
    fast = {name: _fast_bounds(feature) for name, feature in fields.items()}
    check = RowCheck()
    errors = check.errors
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.append(_error(index, None, "Each input row must be an object", "type_error"))
            continue
        if len(row) != len(fields) or row.keys() != fields.keys():
            for name in row.keys() - fields.keys():
                errors.append(_error(index, name, "Unknown feature", "extra_forbidden"))
        outside = None
        for name, feature in fields.items():
            value = row.get(name)
            bounds = fast[name]
            # The common case, a number well inside its range, costs two comparisons.
            if bounds and type(value) in (float, int) and bounds[0] <= value <= bounds[1]:
                continue
            if value is None:
                if name not in row and feature.get("required", True):
                    errors.append(_error(index, name, "Field required", "missing"))
                elif name in row and feature.get("required", True):
                    errors.append(_error(index, name, "Value required", "missing"))
                continue
            problem = _check_value(feature, value)
            if problem is None:
                continue
            if problem[1] in RANGE_KINDS and not enforce_ranges:
                outside = outside or []
                outside.append(name)
                continue
            errors.append(_error(index, name, *problem))
        if outside:
            check.out_of_range.update(outside)
            check.out_of_range_rows += 1
    return check


def _check_value(feature, value):
    if feature["type"] == "category":
        if not isinstance(value, str):
            return "Expected a string category", "string_type"
        categories = feature.get("categories") or []
        if categories and value not in categories:
            shown = ", ".join(categories[:10])
            return f"Unknown category (expected one of: {shown})", "enum"
        return None
    if isinstance(value, bool) or not isinstance(value, Real):
        return "Expected a number", "number_type"
    if value != value or value in (float("inf"), float("-inf")):  # NaN or infinite
        return "Expected a finite number", "finite_number"
    if feature["type"] == "integer" and float(value) != int(value):
        return "Expected a whole number", "int_type"
    low, high = feature.get("min"), feature.get("max")
    if low is not None and value < low:
        return f"Must be at least {low:.6g}", "greater_than_equal"
    if high is not None and value > high:
        return f"Must be at most {high:.6g}", "less_than_equal"
    return None
