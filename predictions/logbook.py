"""Write prediction log rows off the request path, in batches, and never lose one.

The request appends its record to a Redis list (one round trip) and, at most once per flush
interval (PREDICTION_LOG_FLUSH_MS), asks Celery for a drain. A drain claims up to a batch of
records atomically into its own processing list, leased in a sorted set, inserts them with one
multi-row INSERT and only then deletes the processing list. A drain killed mid-batch leaves
its lease behind; when the lease expires, the next drain puts those records back. When Redis
cannot take the record, the row is inserted directly instead. The unique request id (the
server's own; a client's X-Request-ID is kept beside it, as it may repeat) makes every path
idempotent, so a record handled twice is written once.
"""

import json
import logging
import time
import uuid
from functools import cache

import redis
from django.conf import settings
from django.db import DataError, connection, transaction
from django.utils.dateparse import parse_datetime
from kombu.exceptions import OperationalError

from monitoring.rollups import rollup_ctes, rollups_add
from predictions.models import Prediction, PredictionStatus

logger = logging.getLogger(__name__)
PENDING_KEY = "predictions:log:pending"
LEASES_KEY = "predictions:log:leases"
PROCESSING_PREFIX = "predictions:log:processing:"
DRAIN_FLAG_KEY = "predictions:log:drain-requested"
FIELDS = (
    "request_id",
    "client_request_id",
    "user_id",
    "model_id",
    "version_id",
    "model_name",
    "version_number",
    "arm",
    "inputs",
    "outputs",
    "probabilities",
    "rows",
    "latency_ms",
    "created_at",
    "status",
    "error",
    "out_of_range",
    "out_of_range_rows",
)

# Move up to ARGV[1] records from the pending list into this drain's processing list, and
# lease it until ARGV[2], in one atomic step: a record is always in exactly one list. A claim
# run again on the same processing list (a retry whose first reply was lost) returns what the
# list holds and moves nothing: a second batch there would be deleted, uninserted, with the first.
_CLAIM = """
local held = redis.call('LRANGE', KEYS[2], 0, -1)
if #held > 0 then
  return held
end
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  redis.call('LTRIM', KEYS[1], #items, -1)
  redis.call('RPUSH', KEYS[2], unpack(items))
  redis.call('ZADD', KEYS[3], ARGV[2], KEYS[2])
end
return items
"""
# Put an expired lease's records back at the head of the pending list and forget the lease.
_RECLAIM = """
local items = redis.call('LRANGE', KEYS[2], 0, -1)
if #items > 0 then
  redis.call('LPUSH', KEYS[1], unpack(items))
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], KEYS[2])
return #items
"""


def write_records(records):
    """Insert log records (dicts), skipping ones already written; return rows inserted."""
    if connection.vendor == "postgresql":
        return write_json(json.dumps(records))
    return _write_orm(records)


_PREDICTIONS = Prediction._meta.db_table
_REFERENCES = {
    field: Prediction._meta.get_field(field.removesuffix("_id")).related_model._meta.db_table
    for field in ("user_id", "model_id", "version_id")
}
# The batch as one JSON document, parsed by PostgreSQL: no Python objects per record. A user,
# model or version deleted since the request is nulled by the joins (the foreign keys are
# SET NULL on delete) instead of failing the batch, again on every retry. The rows really
# inserted are added to the per-minute rollups in the same statement (monitoring.rollups).
_INSERT_JSON_SQL = f"""
WITH inserted AS (
INSERT INTO {_PREDICTIONS} (request_id, client_request_id, user_id, model_id, version_id,
    model_name, version_number, arm, inputs, outputs, probabilities, "rows", latency_ms,
    created_at, status, error, out_of_range, out_of_range_rows)
SELECT r.request_id, coalesce(r.client_request_id, ''), u.id, m.id, v.id, r.model_name,
    r.version_number, coalesce(r.arm, ''), r.inputs, coalesce(r.outputs, '[]'),
    r.probabilities, r."rows", r.latency_ms, r.created_at,
    coalesce(r.status, '{PredictionStatus.OK}'), coalesce(r.error, ''), r.out_of_range,
    coalesce(r.out_of_range_rows, 0)
FROM json_to_recordset(%s::json) AS r(request_id text, client_request_id text,
    user_id bigint, model_id bigint, version_id bigint, model_name text, version_number integer,
    arm text, inputs jsonb, outputs jsonb, probabilities jsonb, "rows" integer,
    latency_ms double precision, created_at timestamptz, status text, error text,
    out_of_range jsonb, out_of_range_rows integer)
LEFT JOIN {_REFERENCES["user_id"]} u ON u.id = r.user_id
LEFT JOIN {_REFERENCES["model_id"]} m ON m.id = r.model_id
LEFT JOIN {_REFERENCES["version_id"]} v ON v.id = r.version_id
ON CONFLICT (request_id) DO NOTHING
RETURNING created_at, model_name, version_number, arm, status, "rows", latency_ms,
    out_of_range_rows
), {rollup_ctes("inserted")}
SELECT count(*) FROM inserted
"""  # noqa: S608 - the table names are ours


def write_json(document):
    """Insert a JSON array of log records in one statement (PostgreSQL); return rows inserted."""
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_JSON_SQL, [document])
        return cursor.fetchone()[0]


def _write_orm(records):
    """The same insert through the ORM, for databases other than PostgreSQL (the demo's)."""
    objects = []
    for record in records:
        values = {field: record.get(field) for field in FIELDS}
        values["arm"] = values["arm"] or ""
        values["client_request_id"] = values["client_request_id"] or ""
        values["status"] = values["status"] or PredictionStatus.OK
        values["error"] = values["error"] or ""
        values["out_of_range_rows"] = values["out_of_range_rows"] or 0
        if isinstance(values["created_at"], str):
            values["created_at"] = parse_datetime(values["created_at"])
        objects.append(Prediction(**values))
    _forget_deleted_references(objects)
    existing = set(
        Prediction.objects.filter(request_id__in={o.request_id for o in objects}).values_list(
            "request_id", flat=True
        )
    )
    fresh = {o.request_id: o for o in objects if o.request_id not in existing}
    with transaction.atomic():
        Prediction.objects.bulk_create(objects, ignore_conflicts=True)
        rollups_add(fresh.values())
    return len(fresh)


def _forget_deleted_references(objects):
    """Null the user, model or version a record names if it was deleted since the request."""
    from django.contrib.auth import get_user_model

    from models_registry.models import MLModel, ModelVersion

    for field, model in (
        ("user_id", get_user_model()),
        ("model_id", MLModel),
        ("version_id", ModelVersion),
    ):
        wanted = {getattr(o, field) for o in objects} - {None}
        alive = set(model.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        for o in objects:
            if getattr(o, field) not in alive:
                setattr(o, field, None)


def _write_claimed(items):
    """Insert a drain's claimed records (JSON strings as Redis holds them)."""
    if connection.vendor != "postgresql":
        return _write_orm([json.loads(item) for item in items])
    try:
        with transaction.atomic():
            return write_json((b"[" + b",".join(items) + b"]").decode())
    except (DataError, ValueError):
        # One record PostgreSQL cannot take must not hold the others back forever.
        inserted = 0
        for item in items:
            try:
                with transaction.atomic():
                    inserted += write_json((b"[" + item + b"]").decode())
            except (DataError, ValueError):
                logger.error("dropped a prediction log record PostgreSQL refused: %.300r", item)
        return inserted


@cache
def _buffer(url):
    # Short timeouts: a dead Redis must send the request to the fallback within a second.
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1)


def buffer():
    return _buffer(settings.PREDICTION_LOG_BUFFER_URL)


def _buffered():
    from portal.celery import app

    # Eager (embedded demo, unit tests): nobody drains a buffer, so write in-process.
    return bool(settings.PREDICTION_LOG_BUFFER_URL) and not app.conf.task_always_eager


def log_prediction(record):
    """Buffer the record for a batched insert; insert it directly when Redis is down."""
    if not _buffered():
        write_records([record])
        return
    try:
        pipe = buffer().pipeline(transaction=False)
        pipe.rpush(PENDING_KEY, json.dumps(record))
        # One drain per interval takes everything buffered meanwhile in a few INSERTs; a
        # record pushed just after a drain finished waits for the next interval's (or beat's).
        pipe.set(DRAIN_FLAG_KEY, 1, nx=True, px=settings.PREDICTION_LOG_FLUSH_MS)
        _, drain_needed = pipe.execute()
    except redis.RedisError:
        logger.warning(
            "log buffer unavailable, writing prediction log directly",
            extra={"request_id_logged": record["request_id"]},
        )
        write_records([record])
        return
    if drain_needed:
        request_drain()


def request_drain():
    from predictions.tasks import drain_prediction_log_task

    try:
        drain_prediction_log_task.delay()
    except OperationalError:
        # The record is safe in Redis; the next request or beat's periodic drain takes it.
        logger.warning("could not request a prediction log drain")


def reclaim_expired(client, now=None):
    """Give the records of drains that died mid-batch back to the pending list."""
    now = time.time() if now is None else now
    returned = 0
    for key in client.zrangebyscore(LEASES_KEY, "-inf", now):
        returned += client.eval(_RECLAIM, 3, PENDING_KEY, key, LEASES_KEY)
    if returned:
        logger.warning("requeued %d prediction log records from expired leases", returned)
    return returned


def claim(client, processing, *, batch_size, lease_seconds):
    """Lease up to `batch_size` pending records into `processing`; safe to run again."""
    return client.eval(
        _CLAIM, 3, PENDING_KEY, processing, LEASES_KEY, batch_size, time.time() + lease_seconds
    )


def drain(*, batch_size=None, lease_seconds=None, max_batches=None):
    """Insert buffered records batch by batch until the buffer is empty; return rows inserted."""
    client = buffer()
    batch_size = batch_size or settings.PREDICTION_LOG_BATCH_SIZE
    lease_seconds = lease_seconds or settings.PREDICTION_LOG_LEASE_SECONDS
    reclaim_expired(client)
    inserted = batches = 0
    while max_batches is None or batches < max_batches:
        processing = f"{PROCESSING_PREFIX}{uuid.uuid4().hex}"
        items = claim(client, processing, batch_size=batch_size, lease_seconds=lease_seconds)
        if not items:
            break
        inserted += _write_claimed(items)
        pipe = client.pipeline(transaction=True)
        pipe.delete(processing)
        pipe.zrem(LEASES_KEY, processing)
        pipe.execute()
        batches += 1
    return inserted


def backlog():
    """Records waiting in the buffer plus those claimed by drains (for metrics and tests)."""
    client = buffer()
    claimed = sum(client.llen(key) for key in client.zrange(LEASES_KEY, 0, -1))
    return client.llen(PENDING_KEY) + claimed
