"""`manage.py train_model` with a real worker: it waits, showing progress, and never races it."""

import os
import pty
import subprocess
import sys
import uuid

import pytest
from kombu import Connection

from models_registry.management.commands.train_model import Command
from models_registry.models import JobStatus, ModelVersion, Stage, TrainingJob
from portal.tests.processes import BASE_DIR, celery_worker_args, child_env, running

COMMAND_TIMEOUT_SECONDS = 120
CLEAR_LINE = "\r\033[K"


@pytest.fixture
def queue(settings):
    """A queue of this test's own, emptied afterwards."""
    name = f"train-{uuid.uuid4().hex[:8]}"
    yield name
    with Connection(settings.CELERY_BROKER_URL) as connection:
        connection.default_channel.queue_purge(name)


def _args(name, *extra):
    return [
        sys.executable,
        "manage.py",
        "train_model",
        name,
        "--dataset",
        "iris",
        "--estimator",
        "random_forest",
        "--param",
        "n_estimators=5",
        "--promote",
        *extra,
    ]


def _train(name, *extra, env):
    return subprocess.run(
        _args(name, *extra),
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )


def _train_on_a_terminal(name, *, env):
    """Run the command with a pseudo-terminal as its stdout; (exit code, what it showed)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        _args(name), cwd=BASE_DIR, env=env, stdout=follower, stderr=subprocess.PIPE
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the command closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    process.stderr.close()
    return process.wait(timeout=COMMAND_TIMEOUT_SECONDS), shown.decode()


def _purged(broker, queue):
    """How many messages waited in the queue (gone now)."""
    with Connection(broker) as connection:
        return connection.default_channel.queue_purge(queue)


def _registered_once(name):
    job = TrainingJob.objects.get(model_name=name)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1), job.error
    versions = ModelVersion.objects.filter(model__name=name)
    assert [(v.version, v.stage) for v in versions] == [(1, Stage.PRODUCTION)]
    return job


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)  # the command's process shares the data
def test_the_command_waits_for_the_worker_and_registers_one_version(tmp_path, queue):
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue, MEDIA_ROOT=tmp_path / "media")
    with running(celery_worker_args(queue), env=env, log_path=tmp_path / "worker.log"):
        piped = _train("cli-piped", env=env)
        code, shown = _train_on_a_terminal("cli-terminal", env=env)

    assert piped.returncode == 0, piped.stderr
    job = _registered_once("cli-piped")
    assert not TrainingJob.objects.filter(status=JobStatus.FAILED).exists()
    lines = piped.stdout.splitlines()
    assert "\r" not in piped.stdout  # not a terminal: one plain line per change
    assert lines[0] == f"training job {job.pk}: queued, waiting for a Celery worker"
    assert f"training job {job.pk}: succeeded 100%" in lines
    assert "register: done" in piped.stdout
    assert lines[-1].startswith("cli-piped v1: production; ")
    assert "accuracy=" in lines[-1]

    assert code == 0, shown
    job = _registered_once("cli-terminal")
    assert shown.count(CLEAR_LINE) >= 2  # one line, redrawn as the job moves on
    assert f"{CLEAR_LINE}training job {job.pk}: succeeded 100%\r\n" in shown
    assert "cli-terminal v1: production" in shown


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)  # the command's process shares the data
def test_in_process_runs_here_and_queues_nothing(tmp_path, queue, settings):
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue, MEDIA_ROOT=tmp_path / "media")
    done = _train("cli-here", "--in-process", env=env)
    assert done.returncode == 0, done.stderr
    _registered_once("cli-here")
    assert _purged(settings.CELERY_BROKER_URL, queue) == 0


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)  # the command's process shares the data
def test_without_a_worker_the_wait_times_out_and_the_job_stays_queued(tmp_path, queue, settings):
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue, MEDIA_ROOT=tmp_path / "media")
    done = _train("cli-alone", "--timeout", "1", env=env)
    assert done.returncode == 1
    job = TrainingJob.objects.get(model_name="cli-alone")
    assert f"Stopped waiting after 1 s: training job {job.pk} is still queued" in done.stderr
    assert job.status == JobStatus.QUEUED  # a worker started later still runs it
    assert _purged(settings.CELERY_BROKER_URL, queue) == 1


def test_the_help_says_how_it_runs():
    text = " ".join(Command().create_parser("manage.py", "train_model").format_help().split())
    assert "waits for it" in text
    assert "--in-process" in text
    assert "--timeout SECONDS" in text
