"""What machine the numbers come from."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path
from typing import Any


# =========================================================================== machine info
def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = ""
    try:
        text = Path("/proc/cpuinfo").read_text()
        line = next(l for l in text.splitlines() if l.startswith("flags"))
        wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "fma")
        flags = " ".join(f for f in wanted if f" {f}" in line)
    except (OSError, StopIteration):
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    versions = {"python": platform.python_version()}
    from importlib import metadata

    for dist in ("tensorflow-cpu", "tensorflow", "keras", "onnxruntime", "numpy", "tf2onnx", "onnx", "torch"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_flags": flags,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": affinity,
        "memory": memory,
        "platform": platform.platform(),
        "versions": versions,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None
