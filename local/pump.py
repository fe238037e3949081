"""Does locally what AWS would do for events moto and ``chalice local`` never fire.

In the cloud, schedules and queue/S3 triggers invoke Heed's functions; moto
fires none of them (and never applies TTL). The pump calls the same functions
on a timer. Later features register their jobs in ``JOBS``; there are none yet.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from functions.log import log


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    run: Callable[[], None]


JOBS: list[Job] = []


class Pump(threading.Thread):
    """Runs each job every ``every_seconds`` until :meth:`stop`; a failing job is logged, not fatal."""

    def __init__(self, jobs: list[Job], tick_seconds: float = 1.0) -> None:
        super().__init__(name="heed-pump", daemon=True)
        self.jobs = jobs
        self.tick_seconds = tick_seconds
        self._stopped = threading.Event()

    def run(self) -> None:
        due = {job.name: 0.0 for job in self.jobs}
        elapsed = 0.0
        while not self._stopped.wait(self.tick_seconds):
            elapsed += self.tick_seconds
            for job in self.jobs:
                if elapsed >= due[job.name]:
                    due[job.name] = elapsed + job.every_seconds
                    try:
                        job.run()
                    except Exception as exc:  # noqa: BLE001 - keep pumping; the next tick retries
                        log("pump_job_failed", level="ERROR", job=job.name, error=type(exc).__name__)

    def stop(self) -> None:
        self._stopped.set()
