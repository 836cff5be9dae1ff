"""The training pipeline: load data → split → train → validate → package → register.

Each stage's status, timing and error are written to the TrainingJob row as it runs, so the
portal can show progress and a failure names the stage that broke. A run first claims its job
(queued → running, one more attempt); every later write is conditional on that claim, so a
second message for the same job does nothing and a run the stalled-job sweep took back
(models_registry/training/sweep.py) can neither overwrite its successor nor register a version.
"""

import logging
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from sklearn.model_selection import train_test_split

from models_registry import artifacts
from models_registry.models import (
    PIPELINE_STAGES,
    JobStatus,
    MLModel,
    ModelVersion,
    Stage,
    TaskType,
    TrainingJob,
)
from models_registry.training import datasets, metrics, schema
from models_registry.training.estimators import get_estimator
from monitoring import metrics as portal_metrics
from portal.heartbeat import heartbeat

logger = logging.getLogger(__name__)
TEST_SIZE = 0.25


class StageFailed(Exception):
    pass


class Superseded(Exception):
    """The job is no longer this run's: the sweep took it back when its heartbeat stopped."""


def log_entry(message):
    """One line of a job's log, stamped with the time."""
    return f"{timezone.now():%H:%M:%S} {message}"


class JobRecorder:
    """Writes one run's progress; each write is its own small UPDATE so readers see it at once.

    Every write is conditional on the run still owning the job (running, this attempt) and
    renews the heartbeat; a write that finds the job taken back raises Superseded.
    """

    def __init__(self, job, attempt):
        self.job = job
        self.attempt = attempt

    def mine(self):
        return TrainingJob.objects.filter(
            pk=self.job.pk, status=JobStatus.RUNNING, attempts=self.attempt
        )

    def save(self, *fields):
        values = {field: getattr(self.job, field) for field in fields}
        if not self.mine().update(heartbeat_at=timezone.now(), **values):
            raise Superseded(self.job.pk)

    def beat(self):
        """The heartbeat thread's beat; False once the job is no longer this run's."""
        return bool(self.mine().update(heartbeat_at=timezone.now()))

    def finish(self, status):
        """End the run as `status`; False if the job stopped being this run's first."""
        job = self.job
        job.status, job.finished_at = status, timezone.now()
        return bool(self.mine().update(status=status, finished_at=job.finished_at, error=job.error))

    def log(self, message):
        self.job.log.append(log_entry(message))
        self.save("log")

    @contextmanager
    def stage(self, name):
        index = PIPELINE_STAGES.index(name)
        entry = self.job.stages[index]
        entry.update(status="running", started_at=timezone.now().isoformat())
        self.save("stages")
        started = time.perf_counter()
        try:
            yield
        except Superseded:
            raise  # not this stage's failure: nothing of this run may be written any more
        except Exception as exc:
            entry.update(
                status="failed",
                error=_message(exc),
                seconds=round(time.perf_counter() - started, 3),
            )
            self.job.error = f"{name} failed: {_message(exc)}"
            self.log(self.job.error)
            self.save("stages", "error")
            raise StageFailed(self.job.error) from exc
        entry.update(status="done", seconds=round(time.perf_counter() - started, 3))
        self.job.progress = round(100 * (index + 1) / len(PIPELINE_STAGES))
        self.save("stages", "progress")
        self.log(f"{name}: done in {entry['seconds']} s")


def _message(exc):
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return f"{type(exc).__name__}: {exc}"


def run_training(job_id):
    """Run one job to the end; the registered ModelVersion, or None when it failed.

    A job that is not queued (another run has it, or it finished) is left alone: the result
    is its version if it has one, so a redelivered task answers as the first one did.
    """
    attempt = _claim(job_id)
    if attempt is None:
        if not TrainingJob.objects.filter(pk=job_id).exists():
            logger.warning("training job %s does not exist; nothing to run", job_id)
        return ModelVersion.objects.filter(training_job_id=job_id).first()
    job = TrainingJob.objects.get(pk=job_id)
    recorder = JobRecorder(job, attempt)
    try:
        with heartbeat(recorder.beat, every=settings.JOB_HEARTBEAT_SECONDS):
            version = _run_stages(job, recorder)
    except Superseded:
        logger.warning("training job %s attempt %s was taken back; stopped", job.pk, attempt)
        return None
    except StageFailed:
        version = None
    except Exception:  # noqa: BLE001 - whatever broke, the job must end failed, not hang
        job.error = traceback.format_exc(limit=3)
        version = None
    status = JobStatus.FAILED if version is None else JobStatus.SUCCEEDED
    if not recorder.finish(status):
        logger.warning("training job %s attempt %s was taken back at its end", job.pk, attempt)
        return None
    portal_metrics.training_jobs.labels(outcome=status).inc()
    if version is not None and job.promote_on_success and version.can_be_promoted:
        from models_registry.services import version_promote

        version_promote(version=version, actor=job.created_by)
    return version


def _claim(job_id):
    """Take a queued job for this run in one conditional UPDATE; this run's attempt, or None."""
    now = timezone.now()
    with transaction.atomic():
        claimed = TrainingJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now
        )
        if not claimed:
            return None
        # The UPDATE's row lock lasts until commit, so this is the count it wrote.
        return TrainingJob.objects.filter(pk=job_id).values_list("attempts", flat=True).get()


def _run_stages(job, recorder):
    spec = get_estimator(job.estimator)
    with recorder.stage("load data"):
        if job.dataset == datasets.CSV:
            with job.csv_file.open("rb") as handle:
                data = datasets.read_csv(
                    handle.read(),
                    target=job.target_column,
                    name=job.csv_file.name.rsplit("/", 1)[-1],
                )
        else:
            data = datasets.load_builtin(job.dataset)
        recorder.log(f"{len(data.X)} rows, {data.X.shape[1]} features, {data.task_type}")
    with recorder.stage("split"):
        stratify = data.y if data.task_type == TaskType.CLASSIFICATION else None
        X_train, X_test, y_train, y_test = train_test_split(
            data.X, data.y, test_size=TEST_SIZE, random_state=0, stratify=stratify
        )
    with recorder.stage("train"):
        params = spec.validate(data.task_type, job.params)
        estimator = spec.build(data.task_type, params, X_train)
        estimator.fit(X_train, y_train)
    model = MLModel.objects.filter(name=job.model_name).first()
    with recorder.stage("validate"):
        if model is not None and model.task_type != data.task_type:
            raise ValidationError(
                f"Model {model.name} does {model.task_type}; this data is {data.task_type}."
            )
        scores = metrics.evaluate(data.task_type, estimator, X_test, y_test)
        production = model.production_version if model else None
        gate_results = metrics.check_gates(
            task_type=data.task_type,
            metrics=scores,
            gates=model.gates if model else [],
            production_metrics=production.metrics if production else None,
            max_regression=model.max_regression if model else None,
        )
        failed = [r["gate"] for r in gate_results if not r["passed"]]
        recorder.log("gates: " + ("failed " + ", ".join(failed) if failed else "all passed"))
    with recorder.stage("package"):
        data_bytes, sha256 = artifacts.serialize(estimator)
        input_schema = schema.infer_input_schema(data.X)
        reference = schema.reference_statistics(X_train, estimator.predict(X_train))
    with recorder.stage("register"):
        candidate = Candidate(
            estimator_name=spec.name,
            estimator=estimator,
            params=params,
            scores=scores,
            gate_results=gate_results,
            input_schema=input_schema,
            reference=reference,
            artifact=data_bytes,
            sha256=sha256,
        )
        version = _register(job, recorder.attempt, data, model, candidate)
        recorder.log(f"registered {version} ({version.stage})")
    return version


@dataclass
class Candidate:
    """Everything the earlier stages produced that the registered version keeps."""

    estimator_name: str
    estimator: object
    params: dict
    scores: dict
    gate_results: list
    input_schema: list
    reference: dict
    artifact: bytes
    sha256: str


@transaction.atomic
def _register(job, attempt, data, model, candidate):
    # First, so a run the sweep took back registers nothing: the UPDATE locks the job row
    # until commit, and the heartbeat it renews keeps the sweep off until the run finishes.
    owned = TrainingJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=attempt)
    if not owned.update(heartbeat_at=timezone.now()):
        raise Superseded(job.pk)
    if model is None:
        model, _ = MLModel.objects.get_or_create(
            name=job.model_name, defaults={"task_type": data.task_type, "owner": job.created_by}
        )
    # Lock the model row so two jobs finishing together cannot take the same number.
    MLModel.objects.select_for_update().filter(pk=model.pk).first()
    last = model.versions.order_by("-version").values_list("version", flat=True).first() or 0
    version = ModelVersion(
        model=model,
        version=last + 1,
        stage=Stage.STAGING if all(r["passed"] for r in candidate.gate_results) else Stage.FAILED,
        framework_versions=artifacts.framework_versions(),
        estimator=candidate.estimator_name,
        params=candidate.params,
        dataset_name=data.name,
        dataset_fingerprint=data.fingerprint,
        metrics=candidate.scores,
        gate_results=candidate.gate_results,
        input_schema=candidate.input_schema,
        output_classes=[str(c) for c in getattr(candidate.estimator, "classes_", [])],
        reference_stats=candidate.reference,
        training_job=job,
        created_by=job.created_by,
    )
    artifacts.attach(version, candidate.artifact, candidate.sha256)
    version.save()
    if job.task_type != data.task_type:
        job.task_type = data.task_type
        TrainingJob.objects.filter(pk=job.pk).update(task_type=data.task_type)
    return version
