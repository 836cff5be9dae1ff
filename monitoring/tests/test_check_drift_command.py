"""manage.py check_drift: the table, exit codes for cron and CI, clear errors."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from monitoring.models import DriftReport
from monitoring.tests.conftest import log_window, predict, shifted, shop_frame

pytestmark = pytest.mark.django_db


def _run(capsys, *args):
    """(exit code, stdout) of one call."""
    try:
        call_command("check_drift", *args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().out


def test_no_drift_exits_0_with_a_table(shop_version, capsys):
    log_window(shop_version, shop_frame())
    code, out = _run(capsys, "shop")
    assert code == 0
    lines = out.splitlines()
    assert "400 rows" in lines[0]
    assert lines[1].split() == ["feature", "method", "score", "p-value", "psi", "status"]
    assert {line.split()[0] for line in lines[2:7]} == {
        "size", "weight", "doors", "colour", "prediction"
    }  # fmt: skip
    assert lines[-1] == "overall: OK"
    assert DriftReport.objects.count() == 1


def test_an_alert_exits_1(shop_version, capsys):
    frame = shop_frame(seed=11)
    log_window(shop_version, shifted(frame), outputs=predict(shop_version, frame))
    code, out = _run(capsys, "shop", "--version", "1", "--window", "2h")
    assert code == 1
    weight = next(line for line in out.splitlines() if line.startswith("weight"))
    assert weight.split()[1] == "ks"
    assert weight.endswith("Alert")
    assert out.splitlines()[-1] == "overall: Alert"


def test_not_enough_data_is_said_and_exits_0(shop_version, capsys):
    code, out = _run(capsys, "shop", "--dry-run")
    assert code == 0
    assert "0 rows" in out
    assert out.splitlines()[-1] == "overall: Not enough data"
    assert DriftReport.objects.count() == 0  # --dry-run stores nothing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "No model 'nope'"),
        (["shop", "--version", "9"], "shop has no version 9"),
        (["shop", "--window", "soon"], "Bad window 'soon'"),
        (["shop", "--window", "0h"], "Bad window"),
    ],
)
def test_bad_arguments_are_clear_errors(shop_version, args, message):
    with pytest.raises(CommandError, match=message) as caught:
        call_command("check_drift", *args)
    assert caught.value.returncode == 2


def test_help_explains_the_exit_status(capsys):
    with pytest.raises(SystemExit):
        call_command("check_drift", "--help")
    out = capsys.readouterr().out
    assert "1 some feature in alert" in " ".join(out.split())
    assert "--window" in out
    assert "--version" in out
