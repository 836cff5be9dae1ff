"""The portal's own Prometheus metrics, named portal_<thing>_<unit>.

Under gunicorn every worker writes its samples to PROMETHEUS_MULTIPROC_DIR and /metrics sums
them. Values read at scrape time (queue depth, production versions) come from the collectors
in monitoring/exposition.py instead.
"""

from prometheus_client import Counter, Gauge, Histogram

# Sub-millisecond model calls up to multi-second batches.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
JOB_DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)

quota_rejections = Counter(
    "portal_quota_rejections_total", "Requests refused because a daily quota was used up", ["kind"]
)
api_auth_failures = Counter(
    "portal_api_auth_failures_total", "API requests refused at authentication", ["reason"]
)

# ---------------------------------------------------------------- serving
predictions = Counter(
    "portal_predictions_total",
    "Predict requests that reached a model, by outcome",
    ["model", "version", "arm", "status"],
)
prediction_rows = Counter(
    "portal_prediction_rows_total", "Rows predicted", ["model", "version", "arm"]
)
# Values served although outside the schema's range (models that do not enforce ranges).
prediction_out_of_range = Counter(
    "portal_prediction_out_of_range_total",
    "Rows served with a feature outside the range learned in training, per feature",
    ["model", "version", "feature"],
)
prediction_latency = Histogram(
    "portal_prediction_latency_seconds",
    "Time from a validated request to its answer (model work and logging hand-off)",
    ["model", "version"],
    buckets=LATENCY_BUCKETS,
)

# ---------------------------------------------------------------- jobs
batch_job_rows = Counter(
    "portal_batch_job_rows_total", "Rows processed by batch jobs, by outcome", ["model", "status"]
)
batch_job_duration = Histogram(
    "portal_batch_job_duration_seconds",
    "Batch job run time, start to finish",
    ["model", "status"],
    buckets=JOB_DURATION_BUCKETS,
)
training_jobs = Counter(
    "portal_training_jobs_total", "Finished training jobs, by outcome", ["outcome"]
)

# ---------------------------------------------------------------- celery
celery_tasks = Counter(
    "portal_celery_tasks_total", "Celery tasks finished, by outcome", ["task", "outcome"]
)
celery_task_runtime = Histogram(
    "portal_celery_task_runtime_seconds",
    "Celery task run time",
    ["task"],
    buckets=(*LATENCY_BUCKETS, 30.0, 60.0, 300.0),
)

# Drift gauges are set by whichever Celery or command process ran the latest check, so across
# processes (PROMETHEUS_MULTIPROC_DIR) the most recently written value is the one that counts.
drift_score = Gauge(
    "portal_drift_score",
    "Latest drift score per feature: the test's statistic or distance, and PSI (method=psi)",
    ["model", "version", "feature", "method"],
    multiprocess_mode="mostrecent",
)
drift_alert = Gauge(
    "portal_drift_alert",
    "1 while the latest drift check of a version is in alert, else 0",
    ["model", "version"],
    multiprocess_mode="mostrecent",
)
performance_alert = Gauge(
    "portal_live_performance_alert",
    "1 while a production version's live primary metric is below training by the margin",
    ["model", "version"],
    multiprocess_mode="mostrecent",
)
