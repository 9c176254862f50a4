"""The worker loop: tick with the clock's time, sleep when idle, stop on request."""

import logging
import threading

from mailwright.core.runtime import Runtime

log = logging.getLogger(__name__)


def run_worker(runtime: Runtime, stop: threading.Event, *, once: bool = False) -> int:
    """Run due jobs until `stop` is set (or once); returns how many jobs ran."""
    total = 0
    while not stop.is_set():
        try:
            ran = runtime.runner.tick(runtime.clock.now())
        except Exception:
            log.exception("worker tick failed")
            ran = 0
        total += ran
        if once:
            break
        if ran == 0:
            stop.wait(runtime.settings.worker_poll_seconds)
    return total
