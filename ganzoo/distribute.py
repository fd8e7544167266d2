"""Scale: ``tf.distribute`` strategies by name, multi-worker helpers and mixed precision.

    from ganzoo import distribute
    strategy = distribute.get_strategy("mirrored")        # or "multiworker" (reads TF_CONFIG), "tpu"
    with strategy.scope():                                 # variables, optimizers, seed generators
        model = ganzoo.create("dcgan", image_shape=(32, 32, 3), dtype="mixed_float16")
        model.compile()
    model.fit(distribute.shard_by_data(dataset), epochs=10)   # dataset batches are GLOBAL batches

What the :class:`ganzoo.GAN` base does under a strategy (once, for every variant):

* losses are means over the replica's share of the batch divided by the number of replicas,
  so the summed gradients are those of the mean over the global batch;
* latents and other draws are made for the global batch from the model's seed generator and
  sliced per replica: different per replica, and equal to a single-device run's;
* metrics are ``keras.metrics.Mean`` variables with SUM aggregation, created in the strategy
  scope: ``update_state`` sums the totals and counts of all replicas, so a logged value is the
  mean over the global batch, not the first replica's;
* the two Keras 3 multi-worker rough edges (see ``docs/DISTRIBUTED.md``): ``fit`` does not
  run its symbolic build on a distributed batch, and logs are returned with shape ``[1]``
  under ``MultiWorkerMirroredStrategy`` (which reduces them along axis 0).

Precision: ``dtype="mixed_float16"`` / ``"mixed_bfloat16"`` (or a global
``keras.config.set_dtype_policy``) builds both networks in that policy, with float32 outputs
(:func:`float32_outputs`), float32 losses, and one ``LossScaleOptimizer`` per optimizer for
float16. :func:`float32_copy` gives the float32 twin of a mixed-precision model, for export.

TensorFlow is imported lazily, so ``ganzoo --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

from ganzoo.errors import DistributionError

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


# ----------------------------------------------------------------------------- strategies
def get_strategy(name: str | None = "default", devices: Sequence[str] | None = None, tpu: str | None = None):
    """A ``tf.distribute.Strategy`` by name.

    Args:
        name: ``"default"`` (or None: the current default strategy, one device),
            ``"mirrored"`` (all local GPUs, else the local logical CPUs, or ``devices``),
            ``"multiworker"`` (``MultiWorkerMirroredStrategy``; the cluster comes from the
            ``TF_CONFIG`` environment variable, see :func:`tf_config`),
            ``"tpu"`` (``TPUStrategy`` on the TPU named by ``tpu``, or the one the
            environment names).
        devices: devices of a ``"mirrored"`` strategy, e.g. ``["/gpu:0", "/gpu:1"]``.

    ``"multiworker"`` must be created at program start, before any other TensorFlow
    operation, and every worker must run the same program. A strategy is created once per
    process and name (later calls return it): two live strategies of the same kind would
    share collective-operation keys and corrupt each other's all-reduces.
    """

    name = "default" if name is None else str(name).lower().replace("-", "").replace("_", "")
    aliases = {
        "default": "default",
        "none": "default",
        "one": "default",
        "mirrored": "mirrored",
        "multiworker": "multiworker",
        "multiworkermirrored": "multiworker",
        "tpu": "tpu",
    }
    if name not in aliases:
        raise DistributionError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}.")
    name = aliases[name]
    if devices is not None and name != "mirrored":
        raise DistributionError(f"devices= only applies to the 'mirrored' strategy, not {name!r}.")
    if name == "default":
        return tf.distribute.get_strategy()
    key = (name, tuple(devices) if devices is not None else None, tpu)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = _create_strategy(name, devices, tpu)
    return _STRATEGIES[key]


_STRATEGIES: dict[tuple, Any] = {}


def _create_strategy(name: str, devices, tpu):

    if name == "mirrored":
        if devices is None:
            gpus = tf.config.list_logical_devices("GPU")
            devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(list(devices))
    if name == "multiworker":
        info = cluster_info()
        if info is None:
            raise DistributionError(
                "strategy 'multiworker' needs the TF_CONFIG environment variable describing the cluster, e.g. "
                'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}\' on the first worker (index 1 on the second). '
                "See docs/DISTRIBUTED.md."
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def num_replicas(strategy=None) -> int:
    """Replicas in sync of ``strategy`` (default: the current one)."""

    return int((strategy or tf.distribute.get_strategy()).num_replicas_in_sync)


def replicas_in_sync() -> int:
    """Replicas of the replica context this code runs in (inside ``strategy.run`` / a train step); 1 outside one."""
    context = tf.distribute.get_replica_context()
    return context.num_replicas_in_sync if context is not None else 1


def is_multi_worker(strategy=None) -> bool:
    """True under a ``MultiWorkerMirroredStrategy`` that spans several workers.

    This is the test Keras uses to decide how it reduces the logs of a step.
    """

    strategy = strategy or tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    in_multi_worker_mode = getattr(strategy.extended, "_in_multi_worker_mode", None)
    return bool(in_multi_worker_mode()) if in_multi_worker_mode is not None else True


def agreed_minimum(value: int, strategy=None) -> int:
    """The smallest ``value`` over all workers of a multi-worker ``strategy`` (each passes its own).

    Resuming uses it so that every worker restarts from the same epoch: the oldest one that all
    of them can restore. Outside multi-worker training it returns ``value``. Every worker must call it.
    """
    strategy = strategy or tf.distribute.get_strategy()
    if not is_multi_worker(strategy):
        return int(value)
    gathered = strategy.gather(strategy.run(lambda: tf.constant([int(value)], tf.int64)), axis=0)
    return int(tf.reduce_min(gathered))


def check_global_batch_size(batch_size: int, strategy=None) -> int:
    """The per-replica batch size, or a DistributionError if ``batch_size`` does not split evenly."""
    replicas = num_replicas(strategy)
    if batch_size % replicas:
        raise DistributionError(
            f"the global batch size {batch_size} does not split evenly over {replicas} replicas; use a multiple of "
            f"{replicas} (each replica gets batch_size / replicas examples)."
        )
    return batch_size // replicas


def shard_by_data(dataset):
    """``dataset`` with auto-sharding by DATA: every worker reads the same pipeline and keeps its share.

    The right policy for in-memory and generated data (the default, FILE, needs one file
    per worker and falls back to DATA with a warning). Harmless on a single worker.
    """

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


# ----------------------------------------------------------------------------- clusters
@dataclass(frozen=True)
class WorkerInfo:
    """This process's place in a multi-worker cluster (from ``TF_CONFIG``)."""

    task_type: str
    index: int
    num_workers: int

    @property
    def is_chief(self) -> bool:
        """The worker that writes the run's files: the "chief" task, or worker 0 when there is none."""
        return self.task_type == "chief" or (self.task_type == "worker" and self.index == 0)


def cluster_info(environ: dict[str, str] | None = None) -> WorkerInfo | None:
    """This worker's :class:`WorkerInfo`, or None when ``TF_CONFIG`` is unset (a single process)."""
    raw = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not raw:
        return None
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        task_type, index = str(task["type"]), int(task["index"])
        workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    except (ValueError, KeyError, TypeError) as error:
        raise DistributionError(
            f"TF_CONFIG is not valid: {error!r}. Expected JSON like "
            '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}.'
        ) from error
    if task_type not in cluster or not 0 <= index < len(cluster[task_type]):
        raise DistributionError(f"TF_CONFIG task {task_type}:{index} is not in its cluster {cluster}.")
    return WorkerInfo(task_type, index, workers)


def tf_config(workers: Sequence[str], index: int, task_type: str = "worker") -> str:
    """The ``TF_CONFIG`` value for worker ``index`` of a cluster of ``workers`` ("host:port" strings)."""
    workers = list(workers)
    if not workers:
        raise DistributionError("a cluster needs at least one worker address.")
    if not 0 <= index < len(workers):
        raise DistributionError(f"worker index {index} is outside the cluster of {len(workers)} workers.")
    return json.dumps({"cluster": {task_type: workers}, "task": {"type": task_type, "index": int(index)}})


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct TCP ports free on ``host`` right now (for local multi-worker runs and tests)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def split_cpu(n: int) -> None:
    """Expose the CPU as ``n`` logical devices, to run a ``"mirrored"`` strategy without GPUs.

    Must run before TensorFlow initializes its devices (before the first op).
    """

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(n))
    except RuntimeError as error:
        raise DistributionError(
            f"cannot split the CPU into {n} logical devices: TensorFlow is already initialized ({error}). "
            "Call ganzoo.distribute.split_cpu first thing in the program."
        ) from error


# ------------------------------------------------------------------ inside a train step
def log_value(value):
    """A train/test-step log as Keras's reduction needs it: shape [1] under multi-worker, else unchanged.

    Keras reduces each log with ``strategy.reduce("MEAN", v, axis=0)`` under a multi-worker
    strategy, which fails on scalars; a [1]-shaped log is reduced to a scalar.
    """

    if tf.distribute.has_strategy() and is_multi_worker():
        return tf.reshape(value, [1])
    return value


def new_metric(name: str, strategy=None):
    """A ``keras.metrics.Mean`` named ``name``, created outside any traced step and in the strategy's scope.

    Metric variables made inside a distributed ``train_step`` would belong to the traced
    graph of one replica; creating them eagerly in the scope makes them proper mirrored,
    SUM-aggregated variables.
    """

    with tf.init_scope():
        scope = (
            strategy.scope()
            if strategy is not None and tf.distribute.in_cross_replica_context()
            else contextlib.nullcontext()
        )
        with scope:
            return keras.metrics.Mean(name=name)


def synchronize_batch_norm(model, synchronized: bool = True) -> int:
    """Make every ``BatchNormalization`` of ``model`` compute its batch statistics over all replicas.

    With it, a model with batch normalization trains under a strategy like on one device with
    the global batch (up to float round-off). Returns the number of layers changed. The flag
    is not saved with the model: set it again after loading, before training distributed.
    """

    count = 0
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization) and layer.synchronized != synchronized:
            layer.synchronized = synchronized
            count += 1
    return count


# ----------------------------------------------------------------------------- precision
def check_precision(precision: str | None) -> str:
    """``precision`` if it is one of :data:`PRECISIONS` (None means float32), else a ValueError."""
    precision = "float32" if precision is None else precision
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}.")
    return precision


@contextlib.contextmanager
def dtype_policy_scope(policy) -> Iterator[None]:
    """Temporarily make ``policy`` (a name or ``keras.DTypePolicy``) the global dtype policy."""

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def float32_outputs(network):
    """``network`` if all its outputs are float32, else the same layers with a float32 cast on each output.

    Under mixed precision a final layer without ``dtype="float32"`` (a Reshape, say) would
    hand float16 images to the losses and to exports. The cast layers have no weights, so
    weights and checkpoints are unchanged.
    """

    outputs = network.outputs
    if all(str(o.dtype) == "float32" for o in outputs):
        return network
    cast = [
        o
        if str(o.dtype) == "float32"
        else keras.layers.Activation("linear", dtype="float32", name=f"{o.name.split('/')[0]}_float32")(o)
        for o in outputs
    ]
    return keras.Model(network.inputs, cast if len(cast) > 1 else cast[0], name=network.name)


def float32_copy(model):
    """A float32 twin of a (mixed-precision) GAN, with the same weights: what exports should serialize.

    Weights are float32 under every Keras mixed policy, so they copy exactly; outputs then
    differ from the mixed model's only by its float16/bfloat16 round-off.
    """
    config = dict(model.get_config())
    config["dtype"] = "float32"
    twin = type(model).from_config(config)
    twin.set_weights(model.get_weights())
    twin.seed_generator.state.assign(model.seed_generator.state)
    return twin


def describe(strategy=None) -> dict[str, Any]:
    """Strategy class, replicas, and this worker's place in the cluster: recorded with each run."""

    strategy = strategy or tf.distribute.get_strategy()
    info = cluster_info()
    return {
        "strategy": _public_name(strategy),
        "replicas": num_replicas(strategy),
        "workers": info.num_workers if info else 1,
        "worker_index": info.index if info else 0,
    }


def _public_name(strategy) -> str:
    """The ``tf.distribute`` name a user knows (MultiWorkerMirroredStrategy's class is CollectiveAllReduceStrategy)."""

    for name in ("MirroredStrategy", "MultiWorkerMirroredStrategy", "TPUStrategy", "OneDeviceStrategy"):
        if type(strategy) is getattr(tf.distribute, name, None):
            return name
    return type(strategy).__name__
