"""How many CPUs this process may use: its CPU affinity, capped by a cgroup CPU quota.

The host's CPU count overstates it inside a container started with `--cpus` or under a
Kubernetes CPU limit, and gunicorn sized from it starts more workers than it can run.
Standard library only: gunicorn.conf.py loads this file without importing the service.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

PROC_CGROUP = Path("/proc/self/cgroup")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable(proc_cgroup: Path = PROC_CGROUP, root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may run on: at least 1, at most its affinity or its quota rounded up."""
    count = _affinity()
    quota = cgroup_quota(proc_cgroup, root)
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return count


def _affinity() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity outside Linux
        return os.cpu_count() or 1


def cgroup_quota(proc_cgroup: Path = PROC_CGROUP, root: Path = CGROUP_ROOT) -> float | None:
    """The tightest CPU quota, in CPUs, on this process's cgroup and its ancestors; None if
    there is none (or no cgroup file system to read)."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    return min((quota for line in lines for quota in _quotas(line, root)), default=None)


def _quotas(line: str, root: Path) -> Iterator[float]:
    """The quotas set along one line of /proc/self/cgroup (`hierarchy:controllers:path`)."""
    fields = line.split(":", 2)
    if len(fields) != 3:
        return
    hierarchy, controllers, path = fields
    if hierarchy == "0" and not controllers:  # cgroup v2
        for directory in _ancestors(root, path):
            yield from _v2_quota(directory)
    elif "cpu" in controllers.split(","):  # cgroup v1, mounted as e.g. cpu,cpuacct
        for directory in _ancestors(root / controllers, path):
            yield from _v1_quota(directory)


def _ancestors(mount: Path, path: str) -> Iterator[Path]:
    """The cgroup's directory and each parent up to the mount. Inside a container the mount's
    root is often the container's own cgroup and the deeper directories do not exist; a
    missing file is simply skipped."""
    parts = [part for part in path.split("/") if part not in ("", ".", "..")]
    for depth in range(len(parts), -1, -1):
        yield mount.joinpath(*parts[:depth])


def _v2_quota(directory: Path) -> Iterator[float]:
    """`cpu.max` holds `<quota> <period>` in microseconds, or `max <period>` for no limit."""
    fields = _read(directory / "cpu.max").split()
    if len(fields) == 2 and fields[0] != "max":
        yield from _ratio(fields[0], fields[1])


def _v1_quota(directory: Path) -> Iterator[float]:
    """`cpu.cfs_quota_us` is -1 for no limit; `cpu.cfs_period_us` is its period."""
    quota = _read(directory / "cpu.cfs_quota_us").strip()
    if quota and quota != "-1":
        yield from _ratio(quota, _read(directory / "cpu.cfs_period_us").strip())


def _ratio(quota: str, period: str) -> Iterator[float]:
    try:
        value = int(quota) / int(period)
    except (ValueError, ZeroDivisionError):  # a file that is not what the kernel writes
        return
    if value > 0:
        yield value


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
