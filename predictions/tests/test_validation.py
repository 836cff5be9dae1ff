"""validate_rows: the fast path for in-range numbers lets nothing through the full check refuses."""

import math

import pytest

from predictions.validation import check_rows, validate_rows

SCHEMA = [
    {"name": "bounded", "type": "number", "min": 0.0, "max": 10.0},
    {"name": "open", "type": "number"},
    {"name": "count", "type": "integer", "min": 0, "max": 5},
]
GOOD = {"bounded": 5.0, "open": -1e300, "count": 3}


def test_in_range_rows_pass():
    assert validate_rows(SCHEMA, [GOOD, {**GOOD, "bounded": 0, "open": 7}]) == []


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("bounded", math.nan, "finite_number"),
        ("open", math.inf, "finite_number"),
        ("open", -math.inf, "finite_number"),
        ("bounded", 10.5, "less_than_equal"),
        ("bounded", True, "number_type"),
        ("count", 2.5, "int_type"),
    ],
)
def test_what_the_fast_path_must_not_accept(field, value, kind):
    errors = validate_rows(SCHEMA, [{**GOOD, field: value}])
    assert [(e["loc"][-1], e["type"]) for e in errors] == [(field, kind)]


def test_extra_and_missing_features_with_the_right_count():
    row = {"bounded": 1.0, "open": 1.0, "colour": "red"}  # as many keys, one wrong
    errors = validate_rows(SCHEMA, [row])
    assert sorted((e["loc"][-1], e["type"]) for e in errors) == [
        ("colour", "extra_forbidden"),
        ("count", "missing"),
    ]


def test_out_of_range_values_are_served_and_counted_unless_ranges_are_enforced():
    rows = [
        {**GOOD, "bounded": 10.5},  # above the range
        {**GOOD, "bounded": -1.0, "count": 9},  # two features outside it in one row
        GOOD,
    ]
    served = check_rows(SCHEMA, rows, enforce_ranges=False)
    assert served.errors == []
    assert served.out_of_range == {"bounded": 2, "count": 1}
    assert served.out_of_range_rows == 2

    enforced = check_rows(SCHEMA, rows, enforce_ranges=True)
    assert [(e["loc"][2], e["loc"][3], e["type"]) for e in enforced.errors] == [
        (0, "bounded", "less_than_equal"),
        (1, "bounded", "greater_than_equal"),
        (1, "count", "less_than_equal"),
    ]
    assert enforced.out_of_range_rows == 0


def test_ranges_off_still_refuses_wrong_types_and_non_finite_numbers():
    rows = [{**GOOD, "bounded": "ten"}, {**GOOD, "open": math.inf}, {**GOOD, "count": 2.5}]
    errors = check_rows(SCHEMA, rows, enforce_ranges=False).errors
    assert [(e["loc"][3], e["type"]) for e in errors] == [
        ("bounded", "number_type"),
        ("open", "finite_number"),
        ("count", "int_type"),
    ]
