"""How many threads a run computes with: the cores this process may use, less those other processes
keep busy, for torch's kernels and for the OpenMP and BLAS pools of NumPy and scikit-learn alike.

Torch starts one thread per core of the host, and scikit-learn's OpenMP as many again; on a machine
that other work shares (a notebook beside a job, a CI runner, a container whose CPU quota is below the
host's core count) the threads then wait on each other: a 1,000-row fit took 3.6x its time alone with
one busy process beside it, and 1.3x with one thread (issue 34). The policy (:func:`resolve_threads`):

- the usable cores: the process's affinity mask (``os.process_cpu_count`` / ``sched_getaffinity``),
  at most the cgroup's CPU quota rounded up (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), as loky's
  ``cpu_count`` reads them;
- less the cores that other processes keep busy, sampled from ``/proc/stat`` over the usable cores
  for a tenth of a second (Linux; elsewhere none are counted), rounded to the nearest whole core;
- at least one.

:func:`thread_limits` applies a count to torch and to every OpenMP/BLAS pool (threadpoolctl) for a
block of code and restores what was there before, so that the torch and the trees' threads never
oversubscribe the cores together (they run one after the other, each with the same count).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["busy_cores", "cgroup_cpu_quota", "one_thread", "resolve_threads", "thread_count", "thread_limits",
           "usable_cores"]

CGROUP = Path("/sys/fs/cgroup")


def _affinity() -> set[int] | None:
    getter = getattr(os, "sched_getaffinity", None)
    try:
        return set(getter(0)) if getter is not None else None
    except OSError:
        return None


def cgroup_cpu_quota(root: Path = CGROUP) -> float | None:
    """The CPU quota of this process's cgroup in cores (``quota / period``), or None without one: cgroup v2's
    ``cpu.max`` ("max 100000" is none), else v1's ``cpu/cpu.cfs_quota_us`` over ``cpu.cfs_period_us``
    (-1 is none)."""
    try:
        text = (root / "cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
        if text:
            return None
    except (OSError, ValueError, IndexError):
        pass
    for folder in (root / "cpu", root / "cpu,cpuacct"):
        try:
            quota = int((folder / "cpu.cfs_quota_us").read_text())
            period = int((folder / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return quota / period if quota > 0 and period > 0 else None
    return None


def usable_cores() -> int:
    """Cores this process may run on: its affinity mask, at most its cgroup's quota rounded up."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13: the affinity mask
    cores = counter() if counter is not None else None
    if cores is None:
        mask = _affinity()
        cores = len(mask) if mask else (os.cpu_count() or 1)
    quota = cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, int(cores))


def _cpu_times(cpus: set[int] | None) -> tuple[float, float] | None:
    """(busy, total) clock ticks of ``cpus`` (all when None) since boot, from /proc/stat; None off Linux."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    busy = total = 0.0
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or len(fields) < 5:
            continue
        if cpus is not None and int(name[3:]) not in cpus:
            continue
        values = [float(v) for v in fields[:8]]
        idle = values[3] + values[4]  # idle, iowait
        total += sum(values)
        busy += sum(values) - idle
    return (busy, total) if total else None


def busy_cores(seconds: float = 0.1) -> float:
    """Cores of this process's affinity mask that *other* processes kept busy over ``seconds``: the mask's
    busy share from /proc/stat, less this process's own CPU time. 0.0 where /proc/stat is absent."""
    cpus = _affinity()
    before, own_before = _cpu_times(cpus), time.process_time()
    if before is None:
        return 0.0
    time.sleep(seconds)
    after, own_after = _cpu_times(cpus), time.process_time()
    if after is None or after[1] <= before[1]:
        return 0.0
    cores = len(cpus) if cpus else (os.cpu_count() or 1)
    ticks_per_core = (after[1] - before[1]) / cores  # elapsed ticks on one core
    busy = (after[0] - before[0]) / ticks_per_core  # cores busy on average, this process included
    return max(0.0, busy - (own_after - own_before) / seconds)


def resolve_threads(threads: int | None = None) -> int:
    """The thread count of a run: ``threads`` > 0 as given; -1 every usable core; None (``"auto"``) the usable
    cores less those other processes keep busy, at least one (module doc)."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
        raise ValueError(f"threads must be a whole number (or None for auto), got {threads!r}.")
    if threads is not None and threads > 0:
        return threads
    if threads is not None and threads != -1:
        raise ValueError(f"threads must be a positive number, -1 (every usable core) or None (auto), got {threads}.")
    cores = usable_cores()
    if threads == -1:
        return cores
    return max(1, min(cores, round(cores - busy_cores())))


@contextmanager
def thread_limits(threads: int) -> Iterator[int]:
    """Within it, torch's kernels and every OpenMP/BLAS pool (scikit-learn's trees, NumPy) use ``threads``
    threads; the counts before are restored after."""
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield threads
    finally:
        torch.set_num_threads(previous)


class thread_count:
    """Within it, torch's intra-op work runs on ``threads`` threads (the count restored on leaving). A class,
    not a generator: it is entered for every BatchNorm layer and every L-BFGS evaluation."""

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def __enter__(self) -> None:
        import torch

        self.before = torch.get_num_threads()
        if self.before != self.threads:
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc) -> None:
        import torch

        if self.before != self.threads:
            torch.set_num_threads(self.before)


def one_thread() -> thread_count:
    """Torch's intra-op work on one thread within it: for the kernels whose sums split by thread even with
    MKL's strict mode (torch's BatchNorm over rows, ``dacl.core.batchnorm``; LAPACK's SVD; torch's
    reductions over rows, in ``dacl.core.linear``), so that their numbers do not depend on the thread
    count."""
    return thread_count(1)
