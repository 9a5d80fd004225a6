"""The thread policy: usable cores as loky reads them, the cgroup quota, busy cores, the limits applied."""

import subprocess
import sys
import time

import pytest
import torch
from threadpoolctl import threadpool_info

import dacl.core.threads as threads
from dacl.core.threads import busy_cores, cgroup_cpu_quota, resolve_threads, thread_limits, usable_cores


def test_usable_cores_are_what_loky_reads():
    from joblib.externals.loky import cpu_count

    assert usable_cores() == cpu_count(only_physical_cores=False)


@pytest.mark.parametrize(
    "files, quota",
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
        ({"cpu,cpuacct/cpu.cfs_quota_us": "300000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, 3.0),
        ({}, None),
    ],
)
def test_the_cgroup_quota_of_v1_and_v2(tmp_path, files, quota):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_quota(tmp_path) == quota


def test_a_quota_below_the_cores_caps_them(monkeypatch):
    monkeypatch.setattr(threads, "cgroup_cpu_quota", lambda: 0.5)
    assert usable_cores() == 1  # half a core: one thread, never zero
    monkeypatch.setattr(threads, "cgroup_cpu_quota", lambda: 1000.0)
    assert usable_cores() >= 1


def test_auto_takes_the_usable_cores_less_the_busy_ones(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 8)
    monkeypatch.setattr(threads, "busy_cores", lambda seconds=0.1: 2.8)
    assert resolve_threads(None) == 5
    assert resolve_threads(-1) == 8 and resolve_threads(3) == 3
    monkeypatch.setattr(threads, "busy_cores", lambda seconds=0.1: 20.0)
    assert resolve_threads(None) == 1  # at least one
    for bad in (0, -2, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads"):
            resolve_threads(bad)


def test_a_busy_process_beside_this_one_is_counted():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # the interpreter started and spinning
        assert busy_cores(0.5) > 0.6
    finally:
        busy.kill()
        busy.wait()


def test_limits_apply_to_torch_and_openmp_and_are_restored():
    import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime)

    before = torch.get_num_threads()
    with thread_limits(1):
        assert torch.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "openmp")
    assert torch.get_num_threads() == before


def test_thread_count_sets_and_restores_torchs_count():
    import torch

    from dacl.core.threads import one_thread, thread_count

    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
        with thread_count(2):
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
