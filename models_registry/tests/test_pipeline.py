"""The training pipeline's stages, metrics, schema, gates, and up-front validation."""

import time
from http import HTTPStatus

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from models_registry import services
from models_registry.models import PIPELINE_STAGES, JobStatus, MLModel, Stage, TrainingJob
from models_registry.training import datasets
from models_registry.training.pipeline import run_training


def test_pipeline_registers_a_version_with_everything(train):
    version = train()
    job = version.training_job
    assert job.status == JobStatus.SUCCEEDED
    assert job.progress == 100
    assert [s["name"] for s in job.stages] == list(PIPELINE_STAGES)
    assert all(s["status"] == "done" and s["seconds"] >= 0 for s in job.stages)
    assert (version.version, version.stage) == (1, Stage.STAGING)
    assert set(version.metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    assert version.metrics["accuracy"] > 0.8
    assert [f["name"] for f in version.input_schema][:2] == [
        "sepal_length_(cm)",
        "sepal_width_(cm)",
    ]
    assert version.input_schema[0]["type"] == "number"
    assert version.input_schema[0]["min"] < 4.3 < 7.9 < version.input_schema[0]["max"]
    assert all(f["min"] >= 0 for f in version.input_schema)  # iris is never negative
    assert version.output_classes == ["setosa", "versicolor", "virginica"]
    feature = version.reference_stats["features"]["petal_length_(cm)"]
    assert feature["kind"] == "numeric"
    assert sum(feature["bin_counts"]) == feature["count"]
    assert set(version.reference_stats["predictions"]["frequencies"]) == set(version.output_classes)
    assert len(version.artifact_sha256) == 64
    assert version.artifact_size > 0
    assert version.framework_versions["scikit-learn"]
    assert len(version.dataset_fingerprint) == 64


def test_versions_number_up_per_model(train):
    assert [train().version for _ in range(2)] == [1, 2]
    assert train(name="other").version == 1


def test_regression_metrics(train):
    version = train(name="diabetes", dataset="diabetes", estimator="linear_regression")
    assert set(version.metrics) == {"rmse", "mae", "r2"}
    assert version.output_classes == []


def test_failed_gate_registers_a_failed_version(train):
    train()
    MLModel.objects.filter(name="iris-model").update(
        gates=[{"metric": "accuracy", "op": ">=", "threshold": 1.01}]
    )
    version = train()
    assert version.stage == Stage.FAILED
    assert not version.can_be_promoted
    assert version.gate_results == [
        {
            "gate": "accuracy >= 1.01",
            "passed": False,
            "detail": f"accuracy = {version.metrics['accuracy']:.4f}",
        }
    ]
    with pytest.raises(services.RegistryError, match="failed its gates"):
        services.version_promote(version=version)


def test_no_worse_than_production_gate(train):
    services.version_promote(version=train())
    MLModel.objects.filter(name="iris-model").update(max_regression=0.0)
    weaker = train(estimator="random_forest", params={"n_estimators": 1, "max_depth": 1})
    assert weaker.stage == Stage.FAILED
    assert "no worse than production" in weaker.gate_results[-1]["gate"]


def test_a_stage_failure_names_the_stage(admin_user):
    job = TrainingJob.objects.create(
        model_name="m", dataset="iris", estimator="random_forest", params={"n_estimators": "lots"}
    )
    assert run_training(job.pk) is None
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("train failed: n_estimators must be a int")
    statuses = {s["name"]: s["status"] for s in job.stages}
    assert (statuses["split"], statuses["train"]) == ("done", "failed")
    assert statuses["register"] == "pending"


def test_training_start_validates_before_queueing(db):
    cases = [
        ({"dataset": "mnist"}, "Unknown dataset"),
        ({"estimator": "svm"}, "Unknown estimator"),
        ({"estimator": "linear_regression"}, "cannot do classification"),
        ({"params": {"depth": "3"}}, "Unknown parameter"),
        ({"params": {"n_estimators": "0"}}, "at least 1"),
        ({"model_name": "!!!"}, "Give the model a name"),
    ]
    for overrides, message in cases:
        arguments = {
            "model_name": "m",
            "dataset": "iris",
            "estimator": "random_forest",
            **overrides,
        }
        with pytest.raises(ValidationError, match=message):
            services.training_start(**arguments)
    assert not TrainingJob.objects.exists()


def test_training_start_runs_the_job(db, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.training_start(
            model_name="Wine Model",
            dataset="wine",
            estimator="logistic_regression",
            actor=admin_user,
            promote=True,
        )
    job.refresh_from_db()
    assert job.model_name == "wine-model"
    assert job.status == JobStatus.SUCCEEDED  # eager in tests: ran on commit
    assert MLModel.objects.get(name="wine-model").production_version.version == 1


GOOD_CSV = "size,colour,price\n" + "\n".join(
    f"{i},{'red' if i % 2 else 'blue'},{i * 3 + (i % 5)}" for i in range(60)
)


@pytest.mark.parametrize(
    ("raw", "target", "message"),
    [
        (b"", "price", "empty"),
        (b"\xff\xfe\x00garbage\x00", "price", "not UTF-8"),
        (b"just one column\n1\n2\n", "price", "at least two columns"),
        (GOOD_CSV.encode(), "cost", "Target column 'cost' is not in the CSV"),
        (GOOD_CSV.encode(), "", "Choose the target column"),
        (b"a,b\n" + b"x,1\n" * 5, "b", "at least 20 rows"),
        (b"a,b\n" + b"1,2\n" * 25 + b"1,2,3,4\n", "b", "not a readable CSV"),
    ],
)
def test_bad_csv_files_are_refused_clearly(raw, target, message):
    with pytest.raises(ValidationError, match=message):
        datasets.read_csv(raw, target=target)


def test_oversized_csv_is_refused(monkeypatch):
    monkeypatch.setattr(datasets, "MAX_CSV_BYTES", 100)
    with pytest.raises(ValidationError, match="larger than"):
        datasets.read_csv(GOOD_CSV.encode(), target="price")


# Generous: the refusal is milliseconds; reading 100,000 columns took 18 s.
FAST_SECONDS = 5
WIDE_REFUSED = "The CSV has 100000 columns; at most 1000"


def wide_csv(columns=100_000, rows=25):
    header = ",".join(f"f{i}" for i in range(columns - 1)) + ",target\n"
    return (header + "".join("1," * (columns - 1) + f"{i % 2}\n" for i in range(rows))).encode()


def test_a_very_wide_csv_is_refused_before_it_is_parsed():
    raw = wide_csv()
    started = time.monotonic()
    with pytest.raises(ValidationError, match=WIDE_REFUSED):
        datasets.read_csv(raw, target="target")
    assert time.monotonic() - started < FAST_SECONDS


def test_the_column_limit_counts_the_header_only():
    columns = datasets.MAX_CSV_COLUMNS
    header = ",".join(f"f{i}" for i in range(columns)).encode()
    datasets.check_csv_head(header + b"\n" + b"1," * 5000 + b"1\n")  # data lines are pandas'
    datasets.check_csv_head(b'"a,b",' + header[: header.rindex(b",")] + b"\n")  # quoted comma
    with pytest.raises(ValidationError, match="has 1001 columns"):
        datasets.check_csv_head(header + b",one_more\n")
    with pytest.raises(ValidationError, match="header row is longer than"):
        datasets.check_csv_head(b"x" * (datasets.HEADER_MAX_BYTES + 1))


def test_the_train_form_and_command_refuse_a_very_wide_csv(client, admin_user, tmp_path):
    client.force_login(admin_user)
    started = time.monotonic()
    response = client.post(
        "/models/train/",
        {
            "model_name": "wide",
            "dataset": "csv",
            "estimator": "logistic_regression",
            "target_column": "target",
            "csv_file": SimpleUploadedFile("wide.csv", wide_csv()),
        },
    )
    assert time.monotonic() - started < FAST_SECONDS
    assert response.status_code == HTTPStatus.OK
    assert b"The CSV has 100000 columns; at most 1000" in response.content
    path = tmp_path / "wide.csv"
    path.write_bytes(wide_csv())
    with pytest.raises(CommandError, match=WIDE_REFUSED):
        call_command(
            "train_model",
            "wide",
            "--dataset",
            str(path),
            "--target",
            "target",
            "--estimator",
            "logistic_regression",
        )
    assert not TrainingJob.objects.exists()


def test_csv_types_are_detected_and_trained(db, admin_user, django_capture_on_commit_callbacks):
    data = datasets.read_csv(GOOD_CSV.encode(), target="price")
    assert data.task_type == "regression"
    assert data.X["size"].dtype.kind in "if"
    assert data.X["colour"].dtype.kind not in "biuf"
    upload = SimpleUploadedFile("prices.csv", GOOD_CSV.encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.training_start(
            model_name="prices",
            dataset="csv",
            csv_file=upload,
            target_column="price",
            estimator="random_forest",
            params={"n_estimators": "10"},
            actor=admin_user,
        )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    schema = {f["name"]: f for f in job.version.input_schema}
    assert schema["colour"] == {
        "name": "colour",
        "type": "category",
        "categories": ["blue", "red"],
        "required": True,
    }
