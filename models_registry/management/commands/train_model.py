from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from models_registry import services
from models_registry.models import JobStatus, TrainingJob
from models_registry.training import datasets
from models_registry.training.estimators import ESTIMATORS, parse_param_strings
from models_registry.training.pipeline import run_training


class Command(BaseCommand):
    help = (
        "Train a new version of model NAME and register it (creating the model if needed). "
        "Runs the pipeline in this process and prints each stage; exits 1 if it fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="model name (a slug, e.g. breast-cancer)")
        parser.add_argument(
            "--dataset",
            required=True,
            help=f"one of {', '.join(sorted(datasets.BUILTIN))}, or a CSV path",
        )
        parser.add_argument("--target", default="", help="target column (CSV datasets)")
        parser.add_argument("--estimator", required=True, choices=sorted(ESTIMATORS))
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="hyperparameter, repeatable (e.g. --param n_estimators=200)",
        )
        parser.add_argument(
            "--promote", action="store_true", help="promote the new version if its gates pass"
        )

    def handle(self, *args, name, dataset, target, estimator, param, promote, **options):
        csv_file = None
        if dataset not in datasets.BUILTIN:
            path = Path(dataset)
            if not path.is_file():
                raise CommandError(
                    f"{dataset!r} is neither a built-in dataset "
                    f"({', '.join(sorted(datasets.BUILTIN))}) nor a CSV file."
                )
            csv_file = File(path.open("rb"), name=path.name)
            dataset = datasets.CSV
        try:
            job = services.training_start(
                model_name=name,
                dataset=dataset,
                estimator=estimator,
                params=parse_param_strings(param),
                target_column=target,
                csv_file=csv_file,
                promote=promote,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        finally:
            if csv_file is not None:
                csv_file.close()
        job.refresh_from_db()
        if not job.is_finished:  # with a real broker the worker has it; run it here instead
            run_training(job.pk)
            job.refresh_from_db()
        for line in job.log:
            self.stdout.write(line)
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(job.error or "training failed")
        version = TrainingJob.objects.get(pk=job.pk).version
        version.refresh_from_db()
        scores = ", ".join(f"{k}={v:.4f}" for k, v in version.metrics.items())
        self.stdout.write(f"{version}: {version.stage}; {scores}")
