"""Monitoring pages: traffic from rollups, a model's drift, the system; every role, no IDOR."""

import json
import time
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from models_registry.models import MLModel
from monitoring import system
from monitoring.models import PerformanceCheck
from monitoring.rollups import rollups_rebuild
from monitoring.services import drift_check
from monitoring.tests.conftest import log_window, predict, shifted, shop_frame
from monitoring.traffic import quantile
from predictions import logbook

pytestmark = pytest.mark.django_db


def _record(request_id, model, *, minutes_ago=1, status="ok", latency_ms=4.0, arm=""):
    return {
        "request_id": request_id,
        "model_name": model,
        "version_number": 1,
        "arm": arm,
        "inputs": [{"x": 1}],
        "outputs": [] if status == "error" else ["a"],
        "rows": 1,
        "latency_ms": latency_ms,
        "created_at": (timezone.now() - timedelta(minutes=minutes_ago)).isoformat(),
        "status": status,
    }


@pytest.fixture
def traffic():
    MLModel.objects.create(name="open-model", task_type="classification")
    MLModel.objects.create(name="secret-model", task_type="classification", restricted=True)
    records = [_record(f"o{i}", "open-model", latency_ms=2.0 + i) for i in range(18)]
    records += [_record(f"e{i}", "open-model", status="error") for i in range(2)]
    records += [_record(f"c{i}", "open-model", arm="canary", latency_ms=40.0) for i in range(5)]
    records += [_record(f"old{i}", "open-model", minutes_ago=180) for i in range(7)]
    records += [_record(f"s{i}", "secret-model") for i in range(3)]
    logbook.write_records(records)


def test_quantiles_interpolate_within_buckets():
    counts = [0, 0, 10, 10] + [0] * 11  # ten in (1, 2.5] ms, ten in (2.5, 5] ms
    assert quantile(0.5, counts) == pytest.approx(2.5)
    assert quantile(0.25, counts) == pytest.approx(1.75)
    assert quantile(0.95, counts) == pytest.approx(4.75)
    assert quantile(0.5, [0] * 15) is None
    assert quantile(0.99, [0] * 14 + [3]) == 10_000  # past the last bound: the last bound


def test_overview_counts_the_last_hour_per_version_and_arm(client, viewer, traffic):
    client.force_login(viewer)
    page = client.get("/monitoring/").content.decode()
    table = page.split('data-testid="traffic-table"')[1].split("</table>")[0]
    assert table.count("<tr>") == 3  # head, open-model v1, its canary arm
    assert "secret-model" not in page  # restricted, and the viewer holds no grant
    main = table.split("<tr>")[2]
    assert "<td>20</td>" in main  # 18 ok + 2 errors in the hour; the old 7 are outside
    assert "10%" in main
    assert page.count('data-testid="chart"') == 3
    day = client.get("/monitoring/", {"range": "day"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in day  # htmx gets the traffic partial only
    assert "<td>27</td>" in day  # the old ones are in the last day


def test_admins_see_restricted_models(client, admin_user, traffic):
    client.force_login(admin_user)
    assert "secret-model" in client.get("/monitoring/").content.decode()


def test_drift_page_shows_features_and_the_worst_ones_histogram(client, viewer, shop_version):
    frame = shop_frame(seed=11)
    log_window(shop_version, shifted(frame), outputs=predict(shop_version, frame))
    drift_check(version=shop_version, window=timedelta(days=1))
    client.force_login(viewer)
    page = client.get("/monitoring/models/shop/drift/").content.decode()
    assert 'data-testid="drift-table"' in page
    assert page.count("drift-alert") >= 2  # weight and colour
    assert 'data-testid="histogram"' in page
    assert "purple" not in page  # inputs are never shown, only their binned shares
    picked = client.get(
        "/monitoring/models/shop/drift/", {"feature": "size"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<h2>size</h2>" in picked
    assert "<html" not in picked


def test_drift_page_without_a_report_says_so(client, viewer, shop_version):
    client.force_login(viewer)
    page = client.get("/monitoring/models/shop/drift/").content.decode()
    assert 'data-testid="no-report"' in page


def test_a_model_you_may_not_see_is_a_404_on_every_model_page(client, viewer):
    MLModel.objects.create(name="hidden", task_type="classification", restricted=True)
    client.force_login(viewer)
    for page in ("drift", "performance"):
        response = client.get(f"/monitoring/models/hidden/{page}/")
        assert response.status_code == HTTPStatus.NOT_FOUND


def test_system_page_lists_workers_by_their_heartbeats(client, viewer):
    assert system.heartbeat("worker", "worker@box:1")
    assert system.heartbeat("beat", "beat@box:2")
    key = system.cache.make_key(system.HEARTBEATS_KEY)
    silent = {"kind": "worker", "pid": 4, "rss": None, "seen": time.time() - 120}
    gone = {"kind": "worker", "pid": 3, "rss": None, "seen": time.time() - 2 * 86400}
    system._client().hset(key, mapping={"worker@box:4": json.dumps(silent)})
    system._client().hset(key, mapping={"worker@box:3": json.dumps(gone)})
    client.force_login(viewer)
    page = client.get("/monitoring/system/").content.decode()
    assert "worker@box:1" in page
    assert page.count('drift-ok">alive') == 2  # the fresh worker and beat
    assert page.count('drift-alert">silent') == 1
    assert "worker@box:3" not in page  # silent for over a day: forgotten
    assert 'data-testid="database-size"' in page
    assert "MB" in page


def test_overview_says_per_version_whether_inputs_drifted_and_how_live_compares(
    client, viewer, shop_version
):
    frame = shop_frame(seed=11)
    log_window(shop_version, shifted(frame), outputs=predict(shop_version, frame))
    rollups_rebuild(since=timezone.now() - timedelta(hours=1), until=timezone.now())
    drift_check(version=shop_version, window=timedelta(days=1))
    client.force_login(viewer)
    row = client.get("/monitoring/").content.decode().split('data-testid="traffic-table"')[1]
    assert 'class="drift-alert" href="/monitoring/models/shop/drift/?version=1">Alert' in row
    assert "no feedback" in row
    PerformanceCheck.objects.create(
        version=shop_version,
        metric="accuracy",
        live=0.712,
        training=0.9,
        labelled=80,
        alerting=True,
    )
    row = client.get("/monitoring/").content.decode().split('data-testid="traffic-table"')[1]
    live = row.split('data-testid="live-metric">')[1].split("</td>")[0]
    assert 'class="drift-alert"' in live
    assert "Accuracy 0.712" in live
    assert "training 0.900" in live


def test_overview_rows_of_unchecked_versions_say_so(client, viewer, traffic):
    client.force_login(viewer)
    table = client.get("/monitoring/").content.decode().split('data-testid="traffic-table"')[1]
    assert table.count("not checked") == 2  # the version's main row and its canary arm
    assert table.count("no feedback") == 2


@pytest.mark.parametrize("wanted", ["²", "v1", "-1", "99"])
def test_a_drift_version_that_is_not_a_plain_existing_number_is_a_404(client, viewer, wanted):
    model = MLModel.objects.create(name="open-model", task_type="classification")
    client.force_login(viewer)
    response = client.get(f"/monitoring/models/{model.name}/drift/", {"version": wanted})
    assert response.status_code == HTTPStatus.NOT_FOUND
