"""The PyTorch worker process: the same DCGAN step in PyTorch, for the side-by-side column."""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from benchmarks.config import ROOT


class TorchWorker:
    """The PyTorch reference (tools/bench_reference.py) in its own process."""

    def __init__(self):
        sys.path.insert(0, str(ROOT / "tools"))
        import torch

        self.torch = torch
        self.entries: dict[str, Any] = {}

    def handle(self, cmd):
        op = cmd.pop("op")
        return getattr(self, f"op_{op}")(**cmd)

    def op_quit(self):
        return {}

    def op_info(self):
        torch = self.torch
        return {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "mkldnn": bool(torch.backends.mkldnn.is_available()),
        }

    def op_add(self, id: str, spec: dict[str, Any]):
        import bench_reference as ref
        import numpy as np

        images = np.load(spec["images"])
        trainer = ref.TorchTrainer(images, batch_size=spec.get("batch_size", 64), threads=spec.get("threads"))
        self.entries[id] = trainer
        return {
            "steps": trainer.steps_per_epoch,
            "batch": trainer.batch_size,
            "params": {
                "generator": sum(p.numel() for p in trainer.G.parameters()),
                "discriminator": sum(p.numel() for p in trainer.D.parameters()),
            },
            "threads": trainer.threads,
            "adam": "fused Adam" if trainer.g_opt.defaults.get("fused") else "Adam",
        }

    def op_run(self, id: str, epochs: int = 1, budget_s: float = 0.0, **_):
        trainer = self.entries[id]
        times, started = [], time.perf_counter()
        while len(times) < epochs or time.perf_counter() - started < budget_s:
            times.append(trainer.epoch())
        return {"epoch_s": times, "steps": trainer.steps_per_epoch, "batch": trainer.batch_size}

    def op_matmul(self, sizes=(2048,), reps: int = 5):
        torch = self.torch
        out = {}
        for n in sizes:
            a, b = torch.randn(n, n), torch.randn(n, n)
            for _ in range(2):
                torch.mm(a, b)
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                torch.mm(a, b)
                times.append(time.perf_counter() - t0)
            flops = 2.0 * n**3
            out[str(n)] = {
                "median_gflops": flops / statistics.median(times) / 1e9,
                "best_gflops": flops / min(times) / 1e9,
            }
        return out
