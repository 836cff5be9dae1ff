import time
from pathlib import Path

from celery import current_app
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from models_registry import services
from models_registry.models import JobStatus, TrainingJob
from models_registry.tasks import TRAINING_TIME_LIMIT_SECONDS
from models_registry.training import datasets
from models_registry.training.estimators import ESTIMATORS, parse_param_strings
from models_registry.training.pipeline import run_training

POLL_SECONDS = 0.5
CLEAR_LINE = "\r\033[K"  # back to the line's start and erase it: the progress line redraws


class Command(BaseCommand):
    help = (
        "Train a new version of model NAME and register it (creating the model if needed). "
        "The job is queued for the Celery workers and the command waits for it, showing its "
        "stage and progress (one updating line on a terminal, a line per change otherwise), "
        "then prints the job's log and the new version's metrics. With tasks run eagerly "
        "(CELERY_TASK_ALWAYS_EAGER, the default without a broker) or with --in-process, the "
        "pipeline runs in this process instead. Exits 0 when a version is registered, 1 when "
        "training fails or the wait times out (the job then carries on in the worker)."
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
        parser.add_argument(
            "--in-process",
            action="store_true",
            help="run the pipeline in this process instead of a worker (nothing is queued)",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=TRAINING_TIME_LIMIT_SECONDS,
            metavar="SECONDS",
            help="stop waiting for the worker after this long, 0 for no limit "
            f"(default {TRAINING_TIME_LIMIT_SECONDS}, the task's own time limit)",
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
        # Eager tasks would run it on commit anyway: here, explicitly, and never also queued.
        in_process = options["in_process"] or current_app.conf.task_always_eager
        try:
            job = services.training_start(
                model_name=name,
                dataset=dataset,
                estimator=estimator,
                params=parse_param_strings(param),
                target_column=target,
                csv_file=csv_file,
                promote=promote,
                enqueue=not in_process,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        finally:
            if csv_file is not None:
                csv_file.close()
        if in_process:
            run_training(job.pk)
        else:
            self._wait(job, timeout=options["timeout"])
        self._report(job)

    def _wait(self, job, *, timeout):
        """Poll the job until it ends, showing its progress; CommandError on timeout."""
        tty = self.stdout.isatty()
        deadline = time.monotonic() + timeout if timeout else None
        shown = None
        try:
            while True:
                job.refresh_from_db(fields=["status", "progress", "stages", "attempts"])
                line = _progress(job)
                if line != shown:
                    if tty:
                        self.stdout.write(f"{CLEAR_LINE}{line}", ending="")
                    else:
                        self.stdout.write(line)
                    self.stdout.flush()
                    shown = line
                if job.is_finished:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    raise CommandError(
                        f"Stopped waiting after {timeout:g} s: training job {job.pk} is still "
                        f"{job.status} and carries on in the worker."
                    )
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            raise CommandError(f"Stopped waiting: training job {job.pk} carries on.") from None
        finally:
            if tty:
                self.stdout.write("")  # end the progress line

    def _report(self, job):
        job.refresh_from_db()
        for line in job.log:
            self.stdout.write(line)
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(job.error or f"training job {job.pk} is {job.status}")
        version = TrainingJob.objects.get(pk=job.pk).version
        scores = ", ".join(f"{k}={v:.4f}" for k, v in version.metrics.items())
        self.stdout.write(f"{version}: {version.stage}; {scores}")


def _progress(job):
    """'training job 7: train (attempt 1) 33%', or what the job waits for."""
    if job.status == JobStatus.QUEUED:
        return f"training job {job.pk}: queued, waiting for a Celery worker"
    running = [stage["name"] for stage in job.stages if stage["status"] == "running"]
    stage = running[0] if running else job.status
    attempt = f" (attempt {job.attempts})" if job.attempts > 1 else ""
    return f"training job {job.pk}: {stage}{attempt} {job.progress}%"
