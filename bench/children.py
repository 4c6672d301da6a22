"""Results of benchmark runs made in child processes."""

from __future__ import annotations

import queue
from typing import Any


def result_of(proc: Any, q: Any, what: str, poll_s: float = 5.0) -> Any:
    """The one result ``proc`` puts on ``q``. A child that dies first (a crash, a kill, the
    machine out of memory) raises here: the bench fails instead of waiting forever."""
    while True:
        try:
            return q.get(timeout=poll_s)
        except queue.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"{what}: the child process exited with code "
                                   f"{proc.exitcode} before reporting") from None
