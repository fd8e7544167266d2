"""Worker processes from the parent's side: start, talk to over a pipe, restart after a crash."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
import traceback

from benchmarks.config import BENCH_SCRIPT, LOGS, MARK, ROOT, Plan
from benchmarks.stats import json_default
from benchmarks.tf_worker import TFWorker
from benchmarks.torch_worker import TorchWorker


def worker_main(kind: str) -> int:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # Keras/TF prints go to the log, never into the protocol stream
    sys.stdout = sys.stderr
    handler = TFWorker() if kind == "tf" else TorchWorker()
    protocol.write(MARK + json.dumps({"ok": True, "result": {"ready": True}}) + "\n")
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd.get("op")
        try:
            reply = {"ok": True, "result": handler.handle(dict(cmd))}
        except Exception as error:  # reported to the parent, which records it and carries on
            traceback.print_exc()
            reply = {"ok": False, "error": f"{type(error).__name__}: {str(error)[:800]}"}
        protocol.write(MARK + json.dumps(reply, default=json_default) + "\n")
        if op == "quit":
            break
    return 0


# =========================================================================== workers (parent side)
class WorkerError(RuntimeError):
    pass


class Worker:
    """A worker process started by this script; ``call`` sends one command and waits for its reply."""

    def __init__(self, kind: str, name: str, start_timeout: float = 300, env: dict[str, str] | None = None):
        LOGS.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log = open(LOGS / f"{name}.log", "w")
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONUNBUFFERED="1",
            **(env or {}),
        )
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCH_SCRIPT), "--worker", kind],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=env,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._wait(start_timeout)
        self.start_s = time.perf_counter() - t0

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith(MARK):
                self.lines.put(json.loads(line[len(MARK) :]))
        self.lines.put(None)

    def _wait(self, timeout: float):
        try:
            reply = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise WorkerError(f"{self.name}: no reply within {timeout:.0f} s (see {LOGS / (self.name + '.log')})")
        if reply is None:
            raise WorkerError(f"{self.name}: worker died (see {LOGS / (self.name + '.log')})")
        if not reply["ok"]:
            raise WorkerError(f"{self.name}: {reply['error']}")
        return reply["result"]

    def call(self, op: str, timeout: float = 900, **kwargs):
        if self.proc.poll() is not None:
            raise WorkerError(f"{self.name}: worker is not running")
        self.proc.stdin.write(json.dumps({"op": op, **kwargs}, default=json_default) + "\n")
        self.proc.stdin.flush()
        return self._wait(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()  # only this worker, by its own handle
            self.proc.wait(timeout=30)

    def close(self):
        try:
            if self.proc.poll() is None:
                self.call("quit", timeout=60)
                self.proc.wait(timeout=60)
        except Exception:
            self.kill()
        self.log.close()


class Workers:
    """Starts workers; in quick mode TensorFlow work shares one process to save start-up time."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.shared: Worker | None = None

    @contextlib.contextmanager
    def tf(self, name: str, env: dict[str, str] | None = None):
        """A TensorFlow worker (its own process unless quick mode shares one; ``env`` always gets its own)."""
        if self.plan.shared_tf_worker and env is None:
            if self.shared is None:
                self.shared = Worker("tf", "tf-shared")
            yield self.shared
            return
        worker = Worker("tf", name, env=env)
        try:
            yield worker
        finally:
            worker.close()

    def close(self):
        if self.shared is not None:
            self.shared.close()


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def attempt(results: dict, key: str, fn, *args, **kwargs):
    """Run one measurement; record an error instead of stopping the suite."""
    try:
        return fn(*args, **kwargs)
    except Exception as error:
        log(f"{key}: FAILED: {type(error).__name__}: {str(error)[:300]}")
        results.setdefault("errors", {})[key] = f"{type(error).__name__}: {str(error)[:600]}"
        return None
