"""Beat a job's heartbeat from a daemon thread while its work runs, so a long step still beats.

The stalled-job sweeps read the heartbeat: a job whose worker died stops beating and is
requeued or failed. A beat from the work's own loop cannot cover one long `fit()` or one
slow chunk, hence a thread.
"""

import logging
import threading
from contextlib import contextmanager

from django.db import connections

logger = logging.getLogger(__name__)

# A beat in flight when the work ends is one short UPDATE; waiting longer would hold the job.
JOIN_TIMEOUT_SECONDS = 5


@contextmanager
def heartbeat(beat, *, every):
    """Call beat() every `every` seconds while the block runs, until it returns False.

    beat() returns False when the job is no longer this run's (superseded): nothing more to
    beat for. A beat that raises is logged and the next one tried, since one missed beat is
    harmless and a silent thread would make a live job look dead. The thread's own database
    connection is closed when it stops.
    """
    stop = threading.Event()

    def loop():
        try:
            while not stop.wait(every):
                try:
                    if beat() is False:
                        return
                except Exception:  # keep beating: the next one may get through
                    logger.warning("heartbeat failed", exc_info=True)
        finally:
            connections.close_all()  # this thread's connections only

    thread = threading.Thread(target=loop, name="job-heartbeat", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(JOIN_TIMEOUT_SECONDS)
