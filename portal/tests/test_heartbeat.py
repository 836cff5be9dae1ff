"""The job heartbeat: beats while the work runs, stops after, closes its connection; and its
settings are refused when a stall could be declared between two beats."""

import threading
import time

import pytest
from django.db import connections

from portal.heartbeat import heartbeat
from portal.tests.test_config import PRODUCTION_ENV, manage

EVERY = 0.02
RUN_SECONDS = 0.3


def _wait_for(predicate, timeout=5):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(EVERY)
    return predicate()


def test_it_beats_while_the_work_runs_and_never_after():
    beats = []
    with heartbeat(lambda: beats.append(time.monotonic()), every=EVERY) as thread:
        time.sleep(RUN_SECONDS)
    ended = len(beats)
    time.sleep(5 * EVERY)
    assert ended >= 3
    assert len(beats) == ended
    assert not thread.is_alive()


def test_a_beat_that_returns_false_ends_the_beating():
    beats = []

    def superseded():
        beats.append(1)
        return False

    with heartbeat(superseded, every=EVERY) as thread:
        assert _wait_for(lambda: not thread.is_alive())
        time.sleep(5 * EVERY)
    assert beats == [1]


def test_a_failing_beat_does_not_stop_the_next_ones():
    beats = []

    def flaky():
        beats.append(1)
        if len(beats) == 1:
            raise ConnectionError("database restarting")

    with heartbeat(flaky, every=EVERY):
        assert _wait_for(lambda: len(beats) >= 3)


@pytest.mark.django_db(transaction=True)
def test_the_thread_closes_its_own_database_connection():
    used = []

    def beat():
        connection = connections["default"]  # this thread's own
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        used.append((threading.get_ident(), connection))

    with heartbeat(beat, every=EVERY):
        assert _wait_for(lambda: used)
    ident, connection = used[0]
    assert ident != threading.get_ident()
    assert connection is not connections["default"]
    assert connection.connection is None  # closed when the thread stopped


def test_a_stall_shorter_than_two_beats_is_refused_at_start():
    env = {**PRODUCTION_ENV, "JOB_HEARTBEAT_SECONDS": "10", "JOB_STALL_SECONDS": "15"}
    result = manage("check", env=env)
    assert result.returncode == 78
    assert "JOB_STALL_SECONDS must be at least twice JOB_HEARTBEAT_SECONDS" in result.stderr
