"""Resident size and CPU time of the platform's processes, from /proc."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
SAMPLE_INTERVAL = 0.5


def rss_mib(pid: int) -> float:
    """VmRSS of a process in MiB (0.0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command: state is field 3, utime field 14, stime field 15 (proc(5)).
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def resident(pids: dict[str, int]) -> dict[str, float]:
    return {name: round(rss_mib(pid), 1) for name, pid in pids.items()}


class PeakSampler:
    """While in a `with` block, VmRSS of every process every 0.5 s; `peaks` keeps the largest
    over every block it was used for."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.peaks: dict[str, float] = dict.fromkeys(pids, 0.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        for name, value in resident(self.pids).items():
            self.peaks[name] = max(self.peaks[name], value)

    def _run(self) -> None:
        while True:
            self._sample()
            if self._stop.wait(SAMPLE_INTERVAL):
                return

    def __enter__(self) -> PeakSampler:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
