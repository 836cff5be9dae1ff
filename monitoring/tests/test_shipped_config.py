"""deploy/prometheus and deploy/grafana: valid, their alerts tested, naming only real metrics."""

import json
import math
import re
import shutil
import subprocess
from http import HTTPStatus
from pathlib import Path

import httpx
import prometheus_client
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import TokenScope
from accounts.tests.factories import make_token
from models_registry import services as registry
from portal.tests.processes import (
    BASE_DIR,
    celery_worker_args,
    child_env,
    free_port,
    gunicorn_args,
    http_ok,
    log_tail,
    running,
    wait_until,
)

PROMETHEUS_DIR = BASE_DIR / "deploy" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERTS_TEST = PROMETHEUS_DIR / "alerts_test.yml"
GRAFANA_DIR = BASE_DIR / "deploy" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "portal.json"
DATASOURCES = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml"

PREDICT_URL = "/api/v1/models/iris-model/predict"
ROW = {
    "sepal_length_(cm)": 5.1,
    "sepal_width_(cm)": 3.5,
    "petal_length_(cm)": 1.4,
    "petal_width_(cm)": 0.2,
}
P95_LATENCY = (
    "histogram_quantile(0.95,"
    " sum by (le, model) (rate(portal_prediction_latency_seconds_bucket[5m])))"
)
PROMTOOL_TIMEOUT = 60
STARTUP_TIMEOUT = 60
SCRAPE_TIMEOUT = 60
GUNICORN_WORKERS = 2
METRICS_SECRET = "shipped-config-metrics-secret"

# Metrics of the exporters the shipped config scrapes, as the dashboard and alerts use them.
# Only names some query uses belong here (a test checks), so the list cannot rot into a
# blanket pass; each must be spelled as that exporter exposes it.
EXPORTER_METRICS = {
    # Prometheus itself: one `up` per scrape target.
    "prometheus": {"up"},
    # node_exporter
    "node": {
        "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes",
        "node_memory_MemTotal_bytes",
    },
    # prometheus-community/postgres_exporter
    "postgres": {"pg_database_size_bytes"},
    # nginx/nginx-prometheus-exporter (stub_status)
    "nginx": {"nginx_connections_active", "nginx_http_requests_total"},
    # google/cadvisor
    "cadvisor": {"container_memory_working_set_bytes"},
}


SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
}

# ---------------------------------------------------------------- PromQL metric names
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VARIABLE = re.compile(r"\$\{?\w+\}?")
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
# Label lists: `by (le, model)`, `on (instance) group_left (name)`.
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# Not after a word character or dot, so neither `1e3` nor the `m` of `5m` is a name.
_NAME = re.compile(r"(?<![\w.])([A-Za-z_:][\w:]*)\s*(\()?")
_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan",
}  # fmt: skip


def metric_names(expr):
    """The metric names a PromQL expression selects (functions, labels and ranges stripped)."""
    text = _STRING.sub(" ", expr)
    text = _GRAFANA_VARIABLE.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    return {
        name for name, call in _NAME.findall(text) if not call and name.lower() not in _KEYWORDS
    }


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (P95_LATENCY, {"portal_prediction_latency_seconds_bucket"}),
        (
            'sum(rate(a_total{status=~"5.."}[5m])) by (view) / ignoring(status) group_left b',
            {"a_total", "b"},
        ),
        ("up{job='celery'} == 0 or absent(up{job=\"celery\"})", {"up"}),
        ("rate(x[$__rate_interval] offset 1h) * 1e3 > 0.5", {"x"}),
        ('label_replace(m, "dst", "$1", "src", "(.*)")', {"m"}),
        ("max_over_time(g[1h:5m]) > bool 2", {"g"}),
    ],
)
def test_metric_names_are_read_out_of_promql(expr, names):
    assert metric_names(expr) == names


# ---------------------------------------------------------------- what the config says
def dashboard_exprs():
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {
        f"panel {panel['title']!r} {target['refId']}": target["expr"]
        for panel in panels
        for target in panel.get("targets", [])
    }


def alert_rules():
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def all_exprs():
    alerts = {f"alert {rule['alert']}": rule["expr"] for rule in alert_rules()}
    return {**dashboard_exprs(), **alerts}


# ---------------------------------------------------------------- promtool
@pytest.fixture
def promtool():
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool is missing: `make test` installs it (bin/ensure-prometheus)")
    return path


@pytest.mark.parametrize(
    "command",
    [
        ("check", "config", PROMETHEUS_CONFIG.name),
        ("check", "rules", ALERTS.name),
        ("test", "rules", ALERTS_TEST.name),
    ],
    ids=" ".join,
)
def test_promtool_accepts_the_shipped_files(promtool, command):
    result = subprocess.run(
        [promtool, *command],
        cwd=PROMETHEUS_DIR,  # the files name each other relative to this folder
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_held_labelled_and_explained():
    rules = alert_rules()
    assert {
        "PortalHighErrorRate",
        "PortalPredictionLatencyHigh",
        "PortalDriftDetected",
        "PortalCeleryQueueBacklog",
        "PortalCeleryWorkerDown",
        "PortalQuotaRejectionSpike",
    } <= {rule["alert"] for rule in rules}
    for rule in rules:
        assert rule.get("for"), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"].get("summary"), rule["alert"]
        assert rule["annotations"].get("description"), rule["alert"]


def test_the_dashboard_queries_the_provisioned_datasource():
    uid = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]["uid"]
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert panels
    for panel in panels:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid, panel["title"]


# ---------------------------------------------------------------- names against real metrics
@pytest.fixture
def exposed_names(client, user, train):
    """Names the portal really exposes after a prediction, plus every metric it declares.

    A labelled counter or histogram has no samples until first used, so /metrics alone would
    miss e.g. quota rejections; the registry's families name them anyway.
    """
    registry.version_promote(version=train())
    _, token = make_token(user, scope=TokenScope.PREDICT)
    response = client.post(
        PREDICT_URL,
        data=json.dumps({"inputs": [ROW]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == HTTPStatus.OK, response.content
    scraped = client.get("/metrics").content.decode()
    names = {
        sample.name
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
    }
    assert "portal_prediction_latency_seconds_bucket" in names
    # Families read at scrape time (e.g. live accuracy) are named even before they have data.
    scraped_families = list(text_string_to_metric_families(scraped))
    for family in [*prometheus_client.REGISTRY.collect(), *scraped_families]:
        suffixes = SAMPLE_SUFFIXES.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return names


def unknown_names(exprs, known):
    return {
        where: sorted(metric_names(expr) - known)
        for where, expr in exprs.items()
        if metric_names(expr) - known
    }


def test_dashboard_and_alerts_name_only_real_metrics(exposed_names):
    allowed = set().union(*EXPORTER_METRICS.values())
    known = exposed_names | allowed
    exprs = all_exprs()
    assert unknown_names(exprs, known) == {}

    used = set().union(*map(metric_names, exprs.values()))
    assert allowed - used == set(), "allow-listed exporter metrics no query uses"
    assert all(metric_names(expr) for expr in exprs.values())

    # The check has teeth: a one-letter typo in any query's metric is caught.
    for where, expr in exprs.items():
        name = sorted(metric_names(expr))[0]
        typo = re.sub(rf"(?<![\w:]){re.escape(name)}(?![\w:])", name[:-1], expr, count=1)
        assert unknown_names({where: typo}, known) == {where: [name[:-1]]}, where


# ---------------------------------------------------------------- a real Prometheus
def render_config(directory, targets, *, default_target, credentials, interval="1s"):
    """The shipped config with `targets` per job, others at `default_target`, scraping fast.

    Jobs that send the metrics bearer secret read it from the file `credentials`.
    """
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"].update(
        scrape_interval=interval, evaluation_interval=interval, scrape_timeout=interval
    )
    config["rule_files"] = [str(PROMETHEUS_DIR / path) for path in config["rule_files"]]
    for job in config["scrape_configs"]:
        (static,) = job["static_configs"]
        static["targets"] = [targets.get(job["job_name"], default_target)]
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(credentials)
    path = Path(directory) / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


class PrometheusApi:
    def __init__(self, base):
        self.base = base

    def call(self, path, **params):
        return httpx.get(f"{self.base}{path}", params=params, timeout=10).json()

    def get(self, path, **params):
        body = self.call(path, **params)
        assert body["status"] == "success", body
        return body["data"]

    def rejects(self, expr):
        """Prometheus' error for a query it cannot run, else None."""
        return self.call("/api/v1/query", query=expr).get("error")

    def query(self, expr):
        return self.get("/api/v1/query", query=expr)["result"]


def _finite_values(result):
    return [float(item["value"][1]) for item in result if math.isfinite(float(item["value"][1]))]


@pytest.mark.integration
def test_prometheus_scrapes_the_portal_and_loads_the_alerts(
    transactional_db, user, train, tmp_path, settings
):
    prometheus = shutil.which("prometheus")
    if not prometheus:
        pytest.fail("prometheus is missing: `make test` installs it (bin/ensure-prometheus)")
    registry.version_promote(version=train())
    _, token = make_token(user, scope=TokenScope.PREDICT)
    portal_port, celery_port, prometheus_port = free_port(), free_port(), free_port()
    portal = f"http://127.0.0.1:{portal_port}"
    api = PrometheusApi(f"http://127.0.0.1:{prometheus_port}")
    # The portal and the worker ask for a metrics secret, as production should.
    credentials = tmp_path / "metrics-token"
    credentials.write_text(f"{METRICS_SECRET}\n")
    config = render_config(
        tmp_path,
        {
            "portal": f"127.0.0.1:{portal_port}",
            "celery": f"127.0.0.1:{celery_port}",
            "prometheus": f"127.0.0.1:{prometheus_port}",
        },
        default_target=f"127.0.0.1:{free_port()}",  # exporters: nothing there, just down
        credentials=credentials,
    )
    env = child_env(MEDIA_ROOT=settings.MEDIA_ROOT, METRICS_BEARER_TOKEN=METRICS_SECRET)
    gunicorn_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "gunicorn-metrics")}
    gunicorn_cmd = gunicorn_args(portal_port, workers=GUNICORN_WORKERS)
    prometheus_cmd = [
        prometheus,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prometheus_port}",
    ]
    prometheus_log = tmp_path / "prometheus.log"
    with (
        running(gunicorn_cmd, env=gunicorn_env, log_path=tmp_path / "gunicorn.log") as gunicorn,
        running(
            celery_worker_args(f"shipped-config-{celery_port}"),
            env={**env, "CELERY_METRICS_PORT": str(celery_port)},
            log_path=tmp_path / "celery.log",
        ) as worker,
        running(prometheus_cmd, env=env, log_path=prometheus_log) as server,
    ):
        try:
            wait_until(
                lambda: http_ok(f"{portal}/health", timeout=30),
                timeout=STARTUP_TIMEOUT,
                what="gunicorn",
                process=gunicorn,
            )
            wait_until(
                lambda: http_ok(f"{api.base}/-/ready"),
                timeout=STARTUP_TIMEOUT,
                what="prometheus",
                process=server,
            )

            def scraped_latency():
                # Predictions between scrapes keep the rate, hence the quantile, a number.
                response = httpx.post(
                    f"{portal}{PREDICT_URL}",
                    json={"inputs": [ROW]},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=10,
                )
                assert response.status_code == HTTPStatus.OK, response.text
                return _finite_values(api.query(P95_LATENCY))

            wait_until(
                scraped_latency,
                timeout=SCRAPE_TIMEOUT,
                interval=0.3,
                what="a p95 latency from scraped samples",
                process=server,
            )
            result = api.query(P95_LATENCY)
            assert [item["metric"] for item in result] == [{"model": "iris-model"}]
            assert 0 < _finite_values(result)[0] < 10

            wait_until(
                lambda: api.query('up{job="celery"} == 1'),
                timeout=SCRAPE_TIMEOUT,
                what="prometheus to scrape the Celery worker",
                process=worker,
            )
            assert api.query('up{job="portal"} == 1')
            refused = httpx.get(f"{portal}/metrics", timeout=10)
            assert refused.status_code == HTTPStatus.UNAUTHORIZED  # the secret is what let it in

            loaded = {
                rule["name"]
                for group in api.get("/api/v1/rules")["groups"]
                for rule in group["rules"]
            }
            assert loaded == {rule["alert"] for rule in alert_rules()}

            # Prometheus parses every dashboard query too (promtool only sees the alerts).
            rejected = {
                where: error
                for where, expr in dashboard_exprs().items()
                if (error := api.rejects(expr.replace("$__rate_interval", "1m")))
            }
            assert rejected == {}
        except BaseException:
            print(f"--- prometheus log\n{log_tail(prometheus_log)}")
            raise
