"""The worker loop: tick with the clock's time, sleep when idle, stop on request."""

import logging
import os
import socket
import threading

from mailwright.core.runtime import Runtime
from mailwright.delivery.service import Dispatcher

log = logging.getLogger(__name__)


def run_worker(runtime: Runtime, stop: threading.Event, *, once: bool = False) -> int:
    """Run due jobs until `stop` is set (or once); returns how many jobs ran."""
    total = 0
    # Sending runs on every tick of every worker, each with its own long-lived sender (open connections).
    dispatcher = Dispatcher(
        runtime, worker_id=f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    )
    try:
        while not stop.is_set():
            try:
                ran = runtime.runner.tick(runtime.clock.now())
            except Exception:
                log.exception("worker tick failed")
                ran = 0
            try:
                ran += dispatcher.tick()
            except Exception:
                log.exception("delivery tick failed")
            total += ran
            if once:
                break
            if ran == 0:
                _idle(runtime, stop)
            runtime.jobs_queued.clear()
    finally:
        dispatcher.close()
    return total


def _idle(runtime: Runtime, stop: threading.Event) -> None:
    """Wait one poll interval, or less: a commit in this process that queued a job, or a stop, ends it.

    Jobs queued by other processes (other workers, the API of server mode) wait for the poll.
    """
    waited, step = 0.0, 0.05
    while waited < runtime.settings.worker_poll_seconds and not stop.is_set():
        if runtime.jobs_queued.wait(step):
            return
        waited += step
