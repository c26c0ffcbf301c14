"""
Progress lines
==============

Long commands (``run``, ``verify``, ``explore``, ``replay``) print a line on stderr every
:data:`PROGRESS_INTERVAL` seconds while they work, whether or not stderr is a terminal (so a
CI log shows that a run is alive, as TLC does)::

    spec-check run: slot 41,230 of 1,000,000, 10 s, 84 MiB in use

The line comes from a background thread that only reads :attr:`Heartbeat.status`, which the
command updates when it has something more precise to say than the elapsed time. Nothing is
printed for commands that finish within the first interval, and stdout is never touched.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from types import TracebackType
from typing import TextIO

#: Seconds between two progress lines.
PROGRESS_INTERVAL = 5.0


def get_memory_in_use() -> int:
    """Return the resident memory of this process in bytes (peak RSS where /proc is absent)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Heartbeat:
    """Print ``spec-check COMMAND: STATUS, ELAPSED, MEMORY`` every ``interval`` seconds."""

    def __init__(self, command: str, stream: TextIO, interval: float | None = None) -> None:
        self.command = command
        self.stream = stream
        self.interval = PROGRESS_INTERVAL if interval is None else interval
        self.status = "working"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="spec-check-progress",
                                        daemon=True)
        self._start = time.monotonic()

    def __enter__(self) -> Heartbeat:
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def line(self) -> str:
        """Return the progress line as it would be printed now."""
        elapsed = time.monotonic() - self._start
        memory = get_memory_in_use() / 2**20
        return (f"spec-check {self.command}: {self.status}, {elapsed:.0f} s, "
                f"{memory:.0f} MiB in use")

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.stream.write(self.line() + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # stderr closed: stay silent
                return
