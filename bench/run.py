"""`make bench`: the portal against the FastAPI baseline, side by side, in one run.

Same machine, same load generator (wrk on 127.0.0.1, bounded durations), same model artifacts.
Writes bench/RESULTS.md (and var/bench/results.json). `--quick` shortens every run.
"""

import argparse
import csv
import io
import json
import os
import platform
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime

import httpx
import pandas as pd
import redis
import skops.io as sio
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families
from sklearn.datasets import load_breast_cancer

# Run as a script (`python bench/run.py`), so bench/ itself is on sys.path; the project's
# root goes there too, for the portal's own predictor.
import harness  # isort: skip

sys.path.insert(0, str(harness.ROOT))
import pages  # isort: skip
import report  # isort: skip

PORTAL, BASELINE = 8301, 8302
# Each server as its docs advise for 2 cores: gunicorn's sync workers at 2 x cores + 1 (they
# block on I/O), uvicorn's async workers at one per core (its threadpool overlaps I/O).
PORTAL_WORKERS = 2 * (os.cpu_count() or 1) + 1
BASELINE_WORKERS = os.cpu_count() or 1
MODELS = {"bench-lr": "logistic_regression", "bench-rf": "random_forest"}
SCENARIOS = [  # (model, rows per request)
    ("bench-lr", 1),
    ("bench-rf", 1),
    ("bench-lr", 100),
    ("bench-rf", 100),
]
CONCURRENCY = (1, 32)
BATCH_JOB_ROWS = 100_000
LOG_CAPACITY_RECORDS = 50_000
BENCH_USER = "bench"
PARTS = ["serving", "log", "batch", "history", "monitoring"]


def setup(env):
    harness.ensure_database()
    harness.manage("migrate", "--noinput", env=env)
    harness.manage("collectstatic", "--noinput", env=env)
    harness.manage("set_role", BENCH_USER, "user", "--create", env=env)
    harness.manage("set_quota", BENCH_USER, "--prediction-rows-per-day", "1000000000", env=env)
    for name, estimator in MODELS.items():
        if not _production(name):
            print(f"training {name} ({estimator}) on breast_cancer")
            harness.manage(
                "train_model",
                name,
                "--dataset=breast_cancer",
                f"--estimator={estimator}",
                "--promote",
                "--in-process",  # before the worker starts: nobody would take a queued job
                env=env,
            )
    return harness.manage("create_token", BENCH_USER, "--scope=predict", "--name=bench", env=env)


def _production(name):
    rows = harness.query(
        "SELECT v.id, v.model_id, v.artifact, v.input_schema, v.output_classes "
        "FROM models_registry_modelversion v "
        "JOIN models_registry_mlmodel m ON m.id = v.model_id "
        "WHERE m.name = %s AND v.stage = 'production'",
        [name],
    )
    if not rows:
        return None
    version_id, model_id, artifact, schema, classes = rows[0]
    return {
        "version_id": version_id,
        "model_id": model_id,
        "artifact": str(harness.VAR / "media" / artifact),
        "features": [f["name"] for f in schema],
        "schema": schema,
        "classes": classes,
    }


def _bodies(served):
    data = load_breast_cancer().data
    files = {}
    for name, rows in SCENARIOS:
        features = served[name]["features"]
        body = {
            "inputs": [dict(zip(features, map(float, data[i]), strict=True)) for i in range(rows)]
        }
        path = harness.VAR / f"body-{name}-{rows}.json"
        path.write_text(json.dumps(body))
        files[(name, rows)] = path
    return files


def _median_ms(call, repeats):
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def in_process_predict_ms(served, repeats=300):
    """One row, medians: the model's own predict (a DataFrame and `predict`, as one would call
    it), and the portal's compiled predictor doing the same work (models_registry.predictor)."""
    from models_registry.predictor import predictor_build

    data = load_breast_cancer().data
    own, portal = {}, {}
    for name, spec in served.items():
        untrusted = sio.get_untrusted_types(file=spec["artifact"])
        estimator = sio.load(spec["artifact"], trusted=untrusted)
        row = [dict(zip(spec["features"], map(float, data[0]), strict=True))]
        own[name] = _median_ms(
            lambda e=estimator, r=row, f=spec["features"]: e.predict(pd.DataFrame(r, columns=f)),
            repeats,
        )
        predictor = predictor_build(
            estimator, schema=spec["schema"], output_classes=spec["classes"]
        )
        portal[name] = _median_ms(lambda p=predictor, r=row: p.predict_rows(r), repeats)
    return own, portal


def logged_count(since):
    """Log rows of predict requests made since `since` (not seeded, not buffer tests)."""
    return harness.query(
        "SELECT count(*) FROM predictions_prediction WHERE created_at >= %s "
        "AND request_id NOT LIKE 'seed-%%' AND request_id NOT LIKE 'cap-%%'",
        [since],
    )[0][0]


def wait_for_logged(target, since, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = logged_count(since)
        if count >= target:
            return count
        time.sleep(0.5)
    return logged_count(since)


def serving_runs(bodies, token, baseline_key, seconds):
    """Each scenario on both servers back to back."""
    results = []
    for (name, rows), body in bodies.items():
        for connections in CONCURRENCY:
            pair = {}
            for target, port, key in (
                ("portal", PORTAL, token),
                ("baseline", BASELINE, baseline_key),
            ):
                url = f"http://127.0.0.1:{port}/api/v1/models/{name}/predict"
                harness.wrk(url, connections=connections, seconds=2, body_file=body, token=key)
                pair[target] = harness.wrk(
                    url, connections=connections, seconds=seconds, body_file=body, token=key
                )
                print(f"  {target:8} {name} rows={rows} c={connections}: {pair[target]}")
            results.append({"model": name, "rows": rows, "connections": connections, **pair})
    return results


def answered_ok():
    """Predictions the portal itself counted as answered (200), from its /metrics."""
    text = httpx.get(f"http://127.0.0.1:{PORTAL}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "portal_predictions_total" and sample.labels.get("status") == "ok"
    )


def log_capacity(env, served):
    """Records pushed straight into the buffer, drained by one worker: inserted rows/s."""
    spec = served["bench-lr"]
    user_id = harness.query("SELECT id FROM accounts_user WHERE username = %s", [BENCH_USER])[0][0]
    client = redis.Redis.from_url(env["CELERY_BROKER_URL"])
    run = uuid.uuid4().hex[:8]
    before = _count_like(f"cap-{run}-%")
    pipe = client.pipeline(transaction=False)
    for i in range(LOG_CAPACITY_RECORDS):
        record = {
            "request_id": f"cap-{run}-{i}",
            "user_id": user_id,
            "model_id": spec["model_id"],
            "version_id": spec["version_id"],
            "model_name": "bench-lr",
            "version_number": 1,
            "arm": None,
            "inputs": [{"x": i}],
            "outputs": [1],
            "probabilities": [[0.1, 0.9]],
            "rows": 1,
            "latency_ms": 0.4,
            "created_at": datetime.now(UTC).isoformat(),
        }
        pipe.rpush("predictions:log:pending", json.dumps(record))
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    # Asked for straight through the broker, as a request would: no manage.py start in the time.
    broker = Celery(broker=env["CELERY_BROKER_URL"])
    started = time.monotonic()
    broker.send_task("predictions.tasks.drain_prediction_log_task", queue="portal")
    deadline = started + 180
    while (count := _count_like(f"cap-{run}-%")) < LOG_CAPACITY_RECORDS:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    return {"records": LOG_CAPACITY_RECORDS, "written": count - before, "seconds": elapsed}


def _count_like(pattern):
    return harness.query(
        "SELECT count(*) FROM predictions_prediction WHERE request_id LIKE %s", [pattern]
    )[0][0]


def batch_job(token, served):
    """A 100,000-row CSV job, submit to done, through the API and a Celery worker."""
    features = served["bench-lr"]["features"]
    data = load_breast_cancer().data
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(features)
    for i in range(BATCH_JOB_ROWS):
        writer.writerow(data[i % len(data)])
    headers = {"Authorization": f"Bearer {token}"}
    started = time.monotonic()
    response = httpx.post(
        f"http://127.0.0.1:{PORTAL}/api/v1/models/bench-lr/jobs",
        files={"file": ("rows.csv", buffer.getvalue().encode(), "text/csv")},
        headers=headers,
        timeout=120,
    )
    response.raise_for_status()
    job_url = f"http://127.0.0.1:{PORTAL}/api/v1/jobs/{response.json()['id']}"
    while True:
        job = httpx.get(job_url, headers=headers, timeout=30).json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    return {"rows": job["rows_done"], "status": job["status"], "seconds": elapsed}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run")
    parser.add_argument("--quick", action="store_true", help="3-second runs, for a smoke test")
    parser.add_argument(
        "--only",
        choices=PARTS,
        action="append",
        help="run just this part (repeatable); prints its figures, leaves RESULTS.md alone",
    )
    args = parser.parse_args()
    parts = args.only or PARTS
    seconds = 3 if args.quick else args.seconds
    env = harness.production_env(
        GUNICORN_WORKERS=PORTAL_WORKERS, GUNICORN_BIND=f"127.0.0.1:{PORTAL}"
    )
    token = setup(env).strip()
    served = {name: _production(name) for name in MODELS}
    bodies = _bodies(served)
    baseline_key = uuid.uuid4().hex
    baseline_env = {
        **os.environ,
        "BASELINE_MODELS": json.dumps([{"name": n, **s} for n, s in served.items()]),
        "BASELINE_API_KEYS": baseline_key,
        "BASELINE_DATABASE_URL": harness.database_url(),
    }
    predict_ms, portal_predict_ms = in_process_predict_ms(served)
    python = sys.executable
    portal_args = [python, "-m", "gunicorn", "portal.wsgi", "-c", "deploy/gunicorn.conf.py"]
    # Beat inside the worker, as production runs it: its periodic drain takes the records
    # pushed after the last request-triggered drain (without it they wait for more traffic).
    worker_args = [python, "-m", "celery", "-A", "portal", "worker", "--concurrency=1",
                   "--beat", "--schedule", str(harness.VAR / "celerybeat-schedule"),
                   "--loglevel=WARNING", "--without-gossip", "--without-mingle"]  # fmt: skip
    baseline_args = [python, "-m", "uvicorn", "--app-dir", "bench/baselines", "fastapi_app:app",
                     "--host", "127.0.0.1", "--port", str(BASELINE),
                     "--workers", str(BASELINE_WORKERS),
                     "--no-access-log", "--log-level", "warning"]  # fmt: skip
    results = {
        "started": datetime.now(UTC).isoformat(),
        "seconds": seconds,
        "workers": {"portal": PORTAL_WORKERS, "baseline": BASELINE_WORKERS},
    }
    with (
        harness.process("portal", portal_args, env=env, ready_url=f"http://127.0.0.1:{PORTAL}/health"),
        harness.process("worker", worker_args, env=env),
        harness.process("baseline", baseline_args, env=baseline_env,
                        ready_url=f"http://127.0.0.1:{BASELINE}/docs"),
    ):  # fmt: skip
        if "serving" in parts:
            print("serving: portal vs baseline")
            since, answered_before = datetime.now(UTC), answered_ok()
            results["serving"] = serving_runs(bodies, token, baseline_key, seconds)
            served_ok = int(answered_ok() - answered_before)
            logged = wait_for_logged(served_ok, since)
            results["logging"] = {"served": served_ok, "logged": logged}
            print(f"logging: {results['logging']}")
        if "log" in parts:
            results["log_capacity"] = log_capacity(env, served)
            print(f"log capacity: {results['log_capacity']}")
        if "batch" in parts:
            results["batch_job"] = batch_job(token, served)
            print(f"batch job: {results['batch_job']}")
        base = f"http://127.0.0.1:{PORTAL}"
        if "history" in parts:
            results["history"] = pages.history_runs(
                env, base=base, user=BENCH_USER, model="bench-lr", token=token, seconds=seconds
            )
        if "monitoring" in parts:
            results["monitoring"] = pages.monitoring_runs(
                env, base=base, user=BENCH_USER, model="bench-lr", seconds=seconds
            )
    results["predict_ms"] = predict_ms
    results["portal_predict_ms"] = portal_predict_ms
    results["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    )
    if args.only:
        print(f"model's own predict (ms): {predict_ms}; the portal's: {portal_predict_ms}")
        return
    out = report.write(results)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
