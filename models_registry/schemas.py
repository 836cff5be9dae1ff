from datetime import datetime

from ninja import Schema


class VersionOut(Schema):
    version: int
    stage: str
    estimator: str
    params: dict
    dataset_name: str
    dataset_fingerprint: str
    metrics: dict
    gate_results: list
    framework_versions: dict
    artifact_sha256: str
    artifact_size: int
    created_at: datetime
    promoted_at: datetime | None


class VersionDetailOut(VersionOut):
    input_schema: list
    output_classes: list


class ModelOut(Schema):
    name: str
    task_type: str
    description: str
    restricted: bool
    production_version: int | None
    versions: list[VersionOut]


class ModelDetailOut(ModelOut):
    gates: list
    max_regression: float | None
    versions: list[VersionDetailOut]


class ArmOut(Schema):
    name: str
    version: int
    weight: int
    is_control: bool
    is_shadow: bool


class ExperimentOut(Schema):
    id: int
    name: str
    kind: str
    status: str
    created_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None
    stop_reason: str
    winner: str
    arms: list[ArmOut]
