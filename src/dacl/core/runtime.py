"""Where and how a run computes: the device, the precision, and waiting for the device.

Resolved when a run starts (``dacl.engine.fit``), never when a config is made, so that a config
written on one machine can be loaded and resumed on another.
"""

from __future__ import annotations

import torch

__all__ = ["autocast", "cpu_has_fast_bf16", "device_name", "numbers_depend_on", "reproducible_products",
           "resolve_device", "resolve_precision", "synchronize"]

PRECISIONS = ("auto", "float32", "bfloat16")


def resolve_device(name: str | torch.device) -> torch.device:
    """``"auto"`` (cuda when there is one), ``"cpu"`` or ``"cuda[:N]"``; an error when cuda is absent."""
    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {name!r}.") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available; use device='cpu' or 'auto'.")
    return device


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """``"auto"`` becomes ``"bfloat16"`` where bf16 matrix units make it pay, else ``"float32"``.

    bf16 where measured to pay (docs/results/speed.md): a CUDA GPU with bf16 support (H200: 2.5-3x
    float32's speed at batch 4096), a CPU with AMX (Xeon: 2.4-2.9x) and one with AVX512-BF16 (AMD EPYC
    Zen 4: 2.0x on the estimators' 4 x 512 pretraining step), the demo's linear-probe accuracy within
    0.1 points. A CPU with neither runs bf16 ~100x slower than float32 (AVX2-only EPYC), so it stays
    float32 unless asked.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be 'auto', 'float32' or 'bfloat16', got {precision!r}.")
    if precision != "auto":
        return precision
    kind = resolve_device(device).type
    if kind == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if kind == "cpu" and cpu_has_fast_bf16() else "float32"


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware: AMX tiles (Intel Sapphire Rapids and
    later: 3.2 against 0.43 TFLOP/s of float32 on 2 cores here) or the AVX512-BF16 dot products (AMD
    Zen 4, Intel Cooper Lake: a 4 x 512 training step 2.0x faster than float32, measured here)."""
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private in torch 2.x: absent -> no
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def cpu_kind() -> str:
    """What decides a CPU fit's numbers besides the seed and the thread count: the machine, its bf16 units
    and the kernels torch dispatches to (e.g. "x86_64, AMX, AVX512 kernels")."""
    import platform

    units = ("AMX" if getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
             else "AVX512-BF16" if getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
             else "no bf16 units")  # fmt: skip
    return f"{platform.machine()}, {units}, {torch.backends.cpu.get_cpu_capability()} kernels"


MKL_STRICT = 0x10000  # MKL's flag for "strict" conditional numerical reproducibility (mkl_cbwr.h)


def reproducible_products() -> bool:
    """Whether this process's Intel MKL multiplies in its strict reproducible mode (``MKL_CBWR=AUTO,STRICT``,
    set by ``import dacl``): the sums of its products then do not depend on the thread count. MKL reads
    the setting once, at its first call, so it is off where torch multiplied before dacl was imported.
    Asked of the MKL inside torch's CPU library (its service call ``mkl_serv_cbwr_get``, as MKL's own
    ``mkl_cbwr_get``); False where there is none (a build without MKL, another machine)."""
    import ctypes
    import os

    library = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    try:
        query = ctypes.CDLL(library).mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return False
    query.restype, query.argtypes = ctypes.c_int, [ctypes.c_int]
    return bool(query(-1) & MKL_STRICT)  # -1: MKL_CBWR_ALL, the whole mode


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """bfloat16 autocast for a resolved ``precision`` of ``"bfloat16"``, a no-op context otherwise."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued work, so that a host clock read after it is true."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device | str) -> str:
    """The GPU's name for a CUDA device, else ``"cpu"``."""
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"


def numbers_depend_on(device: str | torch.device, precision: str) -> dict[str, str]:
    """Where a run computes, as far as its numbers depend on it (besides threads): the resolved precision,
    the CPU kind (or the GPU's name) and torch's version; a model folder's ``fitted_with`` and the encoder
    cache's key record it."""
    device = resolve_device(device)
    return {"precision": resolve_precision(precision, device),
            "device": cpu_kind() if device.type == "cpu" else device_name(device), "torch": torch.__version__}


def available_memory(device: torch.device | str) -> int | None:
    """Bytes a new allocation may take on ``device``: a GPU's free memory, or on the CPU the memory the
    system can give (MemAvailable) under this process's cgroup limit; None where it cannot be read."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None
    for limit, used in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit) as a, open(used) as b:
                text = a.read().strip()
                if text != "max":
                    available = min(available, int(text) - int(b.read().strip()))
            break
        except (OSError, ValueError):
            continue
    return available
