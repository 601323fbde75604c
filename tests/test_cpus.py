"""gunicorn's worker count follows the CPUs the process may use, read from cgroup files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import cpus

ROOT = Path(__file__).resolve().parent.parent
AFFINITY = len(os.sched_getaffinity(0))


def cgroups(tmp_path: Path, proc: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A /proc/self/cgroup and a cgroup file system under tmp_path, as the kernel writes them."""
    proc_cgroup = tmp_path / "proc-self-cgroup"
    proc_cgroup.write_text(proc)
    root = tmp_path / "sys-fs-cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return proc_cgroup, root


@pytest.mark.parametrize(
    ("cpu_max", "quota"),
    [("150000 100000\n", 1.5), ("50000 100000\n", 0.5), ("max 100000\n", None)],
)
def test_v2_quota_of_a_container(tmp_path: Path, cpu_max: str, quota: float | None) -> None:
    proc, root = cgroups(tmp_path, "0::/\n", {"cpu.max": cpu_max})
    assert cpus.cgroup_quota(proc, root) == quota


def test_v2_the_tightest_limit_on_the_way_up_counts(tmp_path: Path) -> None:
    """A pod's limit applies to each of its containers, even when theirs is looser or unset."""
    files = {
        "kubepods/cpu.max": "max 100000\n",
        "kubepods/pod1/cpu.max": "200000 100000\n",
        "kubepods/pod1/c1/cpu.max": "400000 100000\n",
    }
    proc, root = cgroups(tmp_path, "0::/kubepods/pod1/c1\n", files)
    assert cpus.cgroup_quota(proc, root) == 2.0


def test_v1_quota_seen_from_inside_a_container(tmp_path: Path) -> None:
    """The path names the host's cgroup; the container's mount holds only its own files."""
    proc = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n"
    files = {
        "cpu,cpuacct/cpu.cfs_quota_us": "100000\n",
        "cpu,cpuacct/cpu.cfs_period_us": "100000\n",
    }
    proc_cgroup, root = cgroups(tmp_path, proc, files)
    assert cpus.cgroup_quota(proc_cgroup, root) == 1.0


def test_v1_without_a_quota(tmp_path: Path) -> None:
    files = {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}
    proc, root = cgroups(tmp_path, "1:cpu:/\n0::/\n", files)
    assert cpus.cgroup_quota(proc, root) is None


@pytest.mark.parametrize("cpu_max", ["", "garbage\n", "100000 0\n", "-5 100000\n"])
def test_unreadable_files_set_no_limit(tmp_path: Path, cpu_max: str) -> None:
    proc, root = cgroups(tmp_path, "0::/\nnot a cgroup line\n", {"cpu.max": cpu_max})
    assert cpus.cgroup_quota(proc, root) is None


def test_no_cgroup_file_system(tmp_path: Path) -> None:
    assert cpus.cgroup_quota(tmp_path / "missing", tmp_path) is None
    assert cpus.usable(tmp_path / "missing", tmp_path) == AFFINITY


def test_usable_is_the_quota_rounded_up_within_the_affinity(tmp_path: Path) -> None:
    proc, root = cgroups(tmp_path, "0::/\n", {"cpu.max": "50000 100000\n"})
    assert cpus.usable(proc, root) == 1
    (root / "cpu.max").write_text(f"{AFFINITY * 100000 - 50000} 100000\n")
    assert cpus.usable(proc, root) == AFFINITY
    (root / "cpu.max").write_text(f"{AFFINITY * 300000} 100000\n")
    assert cpus.usable(proc, root) == AFFINITY


def test_gunicorn_defaults_to_one_worker_per_usable_cpu(tmp_path: Path) -> None:
    """Read in a fresh interpreter, as gunicorn's master does, without importing the service
    (which would load prometheus_client before its multiprocess directory is set)."""
    script = (
        "import json, runpy, sys; conf = runpy.run_path('gunicorn.conf.py'); "
        "print(json.dumps([conf['workers'], 'prometheus_client' in sys.modules, "
        "'app' in sys.modules]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
    env["OTP_DATA_DIR"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, check=True
    )
    assert json.loads(out.stdout) == [cpus.usable(), False, False]
