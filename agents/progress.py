"""Live progress of benchmark jobs, wherever they run: this process, worker processes, Ray.

A job (training one agent, evaluating one seed) runs in a process the benchmark does not
control, so it cannot print readable progress itself: several jobs' tqdm bars would write over
each other on one terminal, and a Ray worker's output may not reach it at all. Instead each job
writes its state to a small JSON file (:class:`StatusWriter`, atomic replace, at most every
second), and the benchmark's own process reads those files every few seconds and prints one
line per running job (:class:`Monitor`). Files work for all three executors: ``--out`` is
already on a filesystem every Ray node mounts (docs/scaling.md), and a thread in the parent
keeps reporting while a ``--jobs 1`` job runs in the main thread.

The training function reports through its tqdm bar; :class:`TqdmToStatus` stands in for
``sys.stderr`` in the job and turns tqdm's status lines into status updates (steps, loss, ETA),
passing every other line through, so ``agents.bc.train`` needs no progress hook.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

# tqdm's default status line: "{desc}: {pct}%|{bar}| {n}/{total} [{elapsed}<{remaining},
# {rate}{, postfix}]"
_TQDM = re.compile(
    r"^(?P<desc>.*?):\s*\d+%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)\s*"
    r"\[(?P<elapsed>[\d:]+)<(?P<remaining>[\d:?]+),\s*(?P<rate>[^,\]]*)"
    r"(?:,\s*(?P<postfix>[^\]]*))?\]\s*$"
)


def _seconds(clock: str) -> float | None:
    """A tqdm clock (``[H:]MM:SS``) as seconds; ``None`` for ``?``.

    >>> _seconds("01:05"), _seconds("1:00:00"), _seconds("?")
    (65.0, 3600.0, None)
    """
    if not clock or "?" in clock:
        return None
    total = 0.0
    for part in clock.split(":"):
        total = total * 60 + float(part)
    return total


def clock(seconds: float | None) -> str:
    """Seconds as ``M:SS`` (``H:MM:SS`` from an hour on); ``?`` when unknown.

    >>> clock(65), clock(3725.2), clock(None)
    ('1:05', '1:02:05', '?')
    """
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    s = int(round(seconds))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


@dataclass(frozen=True)
class Status:
    """What one job last said about itself.

    Attributes:
        label: The job, as the monitor prints it (``baseline s0``, ``eval s0``).
        phase: What it is doing (``setup``, ``generate train``, ``train``, ``evaluate``, ...);
            ``done`` when finished.
        n: Units done in this phase (steps, rows), if counted.
        total: Units in this phase, if known.
        remaining: Estimated seconds left in this phase, if known.
        detail: Free text (``loss 1.234``, ``retrieval on latent``).
        started: ``time.time()`` when the job started.
        updated: ``time.time()`` of this status.
    """

    label: str
    phase: str
    n: int | None = None
    total: int | None = None
    remaining: float | None = None
    detail: str = ""
    started: float = 0.0
    updated: float = 0.0

    def line(self) -> str:
        """One readable line, e.g. ``baseline s0: train 800/2500 (32%), loss 1.234, ETA 2:50``.

        >>> Status("baseline s0", "train", 800, 2500, 170.0, "loss 1.234").line()
        'baseline s0: train 800/2500 (32%), loss 1.234, ETA 2:50'
        >>> Status("eval s0", "memory probe").line()
        'eval s0: memory probe'
        """
        text = f"{self.label}: {self.phase}"
        if self.n is not None and self.total:
            text += f" {self.n}/{self.total} ({100 * self.n // self.total}%)"
        if self.detail:
            text += f", {self.detail}"
        if self.remaining is not None:
            text += f", ETA {clock(self.remaining)}"
        return text


class StatusWriter:
    """The job's side: write its :class:`Status` to ``path`` (atomically, throttled).

    Args:
        path: The status file; ``None`` turns every call into a no-op (``--quiet``).
        label: The job's name in the monitor's lines.
        min_interval: Seconds between writes; updates in between are dropped unless forced
            (a phase change is always written).
    """

    def __init__(self, path: str | Path | None, label: str, min_interval: float = 1.0) -> None:
        self.path = Path(path) if path is not None else None
        self.label = label
        self.min_interval = min_interval
        self.started = time.time()
        self._last_write = 0.0
        self._phase = ""
        self._phase_start = self.started

    def update(
        self,
        phase: str,
        n: int | None = None,
        total: int | None = None,
        detail: str = "",
        remaining: float | None = None,
        force: bool = False,
    ) -> None:
        """Record the job's state; ``remaining`` defaults to a linear estimate from ``n``."""
        if self.path is None:
            return
        now = time.time()
        if phase != self._phase:
            self._phase, self._phase_start, force = phase, now, True
        if not force and now - self._last_write < self.min_interval:
            return
        if remaining is None and n and total:
            remaining = (now - self._phase_start) / n * (total - n)
        status = Status(self.label, phase, n, total, remaining, detail, self.started, now)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(asdict(status)))
        os.replace(tmp, self.path)
        self._last_write = now

    def done(self, detail: str = "") -> None:
        """The job finished (the monitor stops listing it)."""
        self.update("done", detail=detail, force=True)


def read_status(path: Path) -> Status | None:
    """The status in ``path``; ``None`` if there is none (yet) or it cannot be read."""
    try:
        return Status(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


class TqdmToStatus(io.TextIOBase):
    r"""A ``sys.stderr`` stand-in: tqdm status lines become :class:`StatusWriter` updates.

    Every other line is passed through to ``passthrough`` (warnings and errors still show).
    The bar's ``desc`` names the phase (the training bar's desc is the agent and seed, reported
    as ``train``; the pool generation bar's is ``generate train``), its postfix the detail.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "job.json"
    >>> stream = TqdmToStatus(StatusWriter(path, "baseline s0", 0), io.StringIO(), "baseline s0")
    >>> _ = stream.write("\rbaseline s0:  32%|###2 | 800/2500 [01:20<02:50, 10.0it/s, loss=1.234]")
    >>> read_status(path).line()
    'baseline s0: train 800/2500 (32%), loss 1.234, ETA 2:50'
    """

    def __init__(self, writer: StatusWriter, passthrough: TextIO, train_desc: str = "") -> None:
        super().__init__()
        self.writer = writer
        self.passthrough = passthrough
        self.train_desc = train_desc
        self._buffer = ""

    def writable(self) -> bool:
        """A text stream one can write to (tqdm checks nothing else)."""
        return True

    def _status(self, segment: str) -> bool:
        match = _TQDM.match(segment.strip("\r\n"))
        if match is None:
            return False
        desc = match["desc"].strip()
        phase = "train" if desc == self.train_desc else desc
        postfix = (match["postfix"] or "").replace("=", " ")
        n, total = int(match["n"]), int(match["total"])
        self.writer.update(phase, n, total, postfix, _seconds(match["remaining"]), force=n == total)
        return True

    def write(self, s: str) -> int:
        """Parse tqdm's carriage-return separated updates; pass whole other lines through."""
        self._buffer += s
        *complete, self._buffer = re.split(r"[\r\n]", self._buffer)
        for segment in complete:
            if segment.strip() and not self._status(segment):
                self.passthrough.write(segment + "\n")
        if self._buffer and self._status(self._buffer):  # tqdm leaves its line open
            self._buffer = ""
        return len(s)

    def flush(self) -> None:
        """Flush the pass-through stream (a partial line stays buffered until its end)."""
        self.passthrough.flush()


class Monitor:
    """The parent's side: every ``every`` seconds, print one line per running job.

    Use as a context manager around the phase whose jobs write the ``files``; a thread reads
    them, so it keeps reporting while a ``--jobs 1`` job runs in the main thread. A tick with
    no job started yet says so, so the output is never silent for longer than ``every``.

    Args:
        files: Job label -> its status file (removed at the start, where a stale file of an
            earlier run would report a finished job as running, and at the end).
        say: Prints one line (``print`` with ``flush=True``).
        every: Seconds between reports; ``0`` or less turns the monitor off.
    """

    def __init__(
        self, files: Mapping[str, Path], say: Callable[[str], None], every: float = 10.0
    ) -> None:
        self.files = dict(files)
        self.say = say
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.time()

    def __enter__(self) -> Monitor:
        for path in self.files.values():
            path.unlink(missing_ok=True)
        self._t0 = time.time()
        if self.every > 0 and self.files:
            self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for path in self.files.values():  # the jobs are over: their states say nothing more
            path.unlink(missing_ok=True)
        for folder in {path.parent for path in self.files.values()}:
            with contextlib.suppress(OSError):  # still holds another phase's files
                folder.rmdir()

    def lines(self) -> list[str]:
        """The report of this moment: a line per running job, then how many wait or are done."""
        statuses = {label: read_status(path) for label, path in self.files.items()}
        stamp = f"  [{clock(time.time() - self._t0)}]"
        running = [s for s in statuses.values() if s is not None and s.phase != "done"]
        done = sum(1 for s in statuses.values() if s is not None and s.phase == "done")
        waiting = sum(1 for s in statuses.values() if s is None)
        tail = ", ".join(
            part
            for part in (f"{waiting} waiting" if waiting else "", f"{done} done" if done else "")
            if part
        )
        if not running:
            return [f"{stamp} {tail or 'starting'} ..."]
        lines = [f"{stamp} {s.line()}" for s in running]
        if tail:
            lines[-1] += f"  ({tail})"
        return lines

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for line in self.lines():
                self.say(line)
