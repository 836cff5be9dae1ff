"""The baseline: the old design's FastAPI service, doing the portal's predict work its way.

API-key check against hashed keys, pydantic validation of the rows, predict in-process with the
same skops artifact, and the log row written to PostgreSQL by a background task after the
response. Configured by `bench/run.py` through BASELINE_* environment variables.
"""

import hashlib
import json
import os
import threading
import time
import uuid
from typing import Any

import pandas as pd
import psycopg
import skops.io as sio
from fastapi import BackgroundTasks, FastAPI, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field, create_model

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")
MAX_ROWS = 1000
LOG_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS baseline_prediction (
    id bigserial PRIMARY KEY, request_id text UNIQUE NOT NULL, model_name text NOT NULL,
    inputs jsonb NOT NULL, outputs jsonb NOT NULL, probabilities jsonb,
    latency_ms double precision NOT NULL, created_at timestamptz NOT NULL DEFAULT now())
"""
INSERT_SQL = (
    "INSERT INTO baseline_prediction "
    "(request_id, model_name, inputs, outputs, probabilities, latency_ms) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)


def _load(path):
    untrusted = sio.get_untrusted_types(file=path)
    return sio.load(path, trusted=[t for t in untrusted if t.startswith(TRUSTED_PREFIXES)])


def _request_model(name, features):
    row = create_model(
        f"{name}_row",
        __config__=ConfigDict(extra="forbid"),
        **{feature: (float, ...) for feature in features},
    )
    return create_model(
        f"{name}_request", inputs=(list[row], Field(..., min_length=1, max_length=MAX_ROWS))
    )


class Served:
    def __init__(self, spec):
        self.name = spec["name"]
        self.features = spec["features"]
        self.estimator = _load(spec["artifact"])
        self.request_model = _request_model(self.name.replace("-", "_"), self.features)


MODELS = {
    spec["name"]: Served(spec) for spec in json.loads(os.environ.get("BASELINE_MODELS", "[]"))
}
KEY_HASHES = {
    hashlib.sha256(key.encode()).hexdigest()
    for key in os.environ.get("BASELINE_API_KEYS", "").split(",")
    if key
}
_db = threading.local()


def _connection():
    if getattr(_db, "conn", None) is None or _db.conn.closed:
        _db.conn = psycopg.connect(os.environ["BASELINE_DATABASE_URL"], autocommit=True)
        _db.conn.execute(LOG_TABLE_SQL)
    return _db.conn


def write_log(request_id, name, inputs, outputs, probabilities, latency_ms):
    _connection().execute(
        INSERT_SQL,
        [
            request_id,
            name,
            json.dumps(inputs),
            json.dumps(outputs),
            json.dumps(probabilities),
            latency_ms,
        ],
    )


class PredictOut(BaseModel):
    model: str
    request_id: str
    predictions: list[Any]
    probabilities: list[list[float]] | None


app = FastAPI(title="baseline")


@app.post("/api/v1/models/{name}/predict", response_model=PredictOut)
def predict(
    name: str,
    body: dict[str, Any],
    background: BackgroundTasks,
    authorization: str = Header(default=""),
):
    token = authorization.removeprefix("Bearer ")
    if hashlib.sha256(token.encode()).hexdigest() not in KEY_HASHES:
        raise HTTPException(status_code=401, detail="Invalid API key")
    served = MODELS.get(name)
    if served is None:
        raise HTTPException(status_code=404, detail=f"No model {name}")
    payload = served.request_model.model_validate(body)
    rows = [row.model_dump() for row in payload.inputs]
    started = time.perf_counter()
    frame = pd.DataFrame(rows, columns=served.features)
    predictions = [p.item() if hasattr(p, "item") else p for p in served.estimator.predict(frame)]
    probabilities = [
        [round(float(p), 6) for p in row] for row in served.estimator.predict_proba(frame)
    ]
    latency_ms = (time.perf_counter() - started) * 1000
    request_id = uuid.uuid4().hex
    background.add_task(write_log, request_id, name, rows, predictions, probabilities, latency_ms)
    return {
        "model": name,
        "request_id": request_id,
        "predictions": predictions,
        "probabilities": probabilities,
    }
