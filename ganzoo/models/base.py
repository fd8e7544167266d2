"""``ganzoo.GAN``: the one place the shared mechanics of every variant live.

A variant subclasses :class:`GAN`, sets its own constructor arguments as
attributes of the same name, and implements ``build_generator`` and
``build_discriminator`` (plain functional Keras models). Variants whose update
rule differs from the classic alternating one override ``train_step``.

What the base owns, once for all variants:

* ``compile(g_optimizer, d_optimizer, loss)`` with two optimizers and no stray third
  one; float16 loss scaling per optimizer.
* loss trackers (``d_loss``, ``g_loss``, ``d_real``, ``d_fake``, ``d_accuracy``)
  exposed through ``metrics`` so Keras resets them each epoch.
* randomness from a :class:`keras.random.SeedGenerator` owned by the model, drawn
  for the global batch and sliced per replica, so a run does not depend on how
  the batch is split across devices.
* ``get_config``/``from_config`` built from the constructor signatures, and the
  compile config, so ``model.save`` / ``keras.saving.load_model`` round-trip the
  networks, both optimizers' state and the seed state.
* ``call`` = the generator's forward pass (the EMA generator when enabled), so
  ``model(z)`` and ``model.export`` do what a user expects.
* ``generate(n, seed=...)`` returning uint8 images.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ganzoo import distribute
from ganzoo.models import checks
from ganzoo.models.layers.common import pack_samples
from ganzoo.objectives import augment as augment_lib
from ganzoo.objectives import losses, penalties
from ganzoo.utils.images import to_uint8
from ganzoo.utils.sampling import check_labels, check_positive_int, check_sample_count, latent_vectors

DEFAULT_LEARNING_RATE = 2e-4
DEFAULT_BETA_1 = 0.5


LATENT_RECIPE = "numpy.random.default_rng(seed).standard_normal((n, latent_dim), dtype=numpy.float32)"
IMAGE_POSTPROCESSING = "uint8 = clip(round((x + 1) * 127.5), 0, 255)"


class ServingGraph(NamedTuple):
    """One inference computation an export holds: named inputs -> one named output.

    ``inputs`` are ``tf.TensorSpec`` with names and a dynamic batch; ``fn(*tensors)`` runs the
    inference networks with ``training=False`` and draws no random numbers (noise is an input);
    ``network`` is what holds its variables; ``describe`` adds value ranges or distributions per
    input name for the manifest.
    """

    inputs: list
    fn: Callable
    output: str
    network: keras.Model
    describe: dict


# fit() warns when a constant-decay EMA generator still holds more than this share of its initial weights.
EMA_LAG_WARNING = 0.1
CRITIC_BATCHES = "critic_batches"  # the key of a step's grouped critic batches (group_critic_batches)


def is_grouped(data) -> bool:
    """Whether a ``train_step`` element holds ``d_steps`` grouped batches (see :func:`group_critic_batches`)."""
    return isinstance(data, dict) and CRITIC_BATCHES in data


def one_batch_view(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` itself, or, when it is grouped, a view of the first batch of each group (for checks)."""
    spec = dataset.element_spec
    if not (isinstance(spec, dict) and CRITIC_BATCHES in spec):
        return dataset

    def first(group):
        element = tf.nest.map_structure(lambda t: t[:, 0], group[CRITIC_BATCHES])
        return element[0] if len(element) == 1 else element

    return dataset.map(first)


def group_critic_batches(dataset: tf.data.Dataset, d_steps: int, known_length: bool = True) -> tf.data.Dataset:
    """Group ``d_steps`` consecutive batches into one element ``{"critic_batches": (B, d_steps, ...) tensors}``.

    Batches are grouped with batches of the same size (the last, smaller batch of an epoch forms its
    own group, whose critic steps reuse it); the group axis is axis 1 so that a strategy still splits
    the batch axis over replicas. Nothing is dropped. ``known_length=False`` skips asserting the
    number of groups (for datasets built inside a dataset function).
    """

    def size(*element):
        return tf.cast(tf.shape(tf.nest.flatten(element)[0])[0], tf.int64)

    def swap(*element):
        return {CRITIC_BATCHES: tf.nest.map_structure(lambda t: tf.experimental.numpy.swapaxes(t, 0, 1), element)}

    grouped = dataset.group_by_window(size, lambda _, window: window.batch(d_steps), window_size=d_steps).map(swap)
    if not known_length:  # inside a dataset function (flat_map), where the length is symbolic
        return grouped
    # Keep the length known where it is (Keras' progress bar, no "ran out of data" warning): infinite
    # data stays infinite, and batches of one static size make ceil(n / d_steps) groups.
    batches = int(dataset.cardinality())
    if batches == tf.data.INFINITE_CARDINALITY:
        return grouped.apply(tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY))
    if batches >= 0 and tf.nest.flatten(dataset.element_spec)[0].shape[:1].is_fully_defined():
        return grouped.apply(tf.data.experimental.assert_cardinality(-(-batches // d_steps)))
    return grouped


# In a compile config: the file was saved with ``include_optimizer=False`` (its optimizers hold no state).
OPTIMIZER_STATE_KEY = "optimizer_state"


def default_optimizer() -> keras.optimizers.Optimizer:
    """Adam(2e-4, beta_1=0.5): the DCGAN setting, a sound default for most GANs."""
    return keras.optimizers.Adam(DEFAULT_LEARNING_RATE, beta_1=DEFAULT_BETA_1)


@keras.saving.register_keras_serializable(package="ganzoo")
class GAN(keras.Model):
    """Base class of every ganzoo model.

    Args:
        latent_dim: size of the generator's latent vector ``z``.
        num_classes: number of classes for a class-conditional model, else None.
        seed: seed of the model's random draws (latents, penalties). None draws a
            seed from Python's global RNG, which ``keras.utils.set_random_seed`` sets.
        ema_decay: if set (e.g. 0.999), keep an exponential moving average of the
            generator's weights; ``generate``, ``call`` and export then use it. Without
            ``ema_rampup``, ``fit`` warns while more than 10% of it is still its random start.
        d_steps: discriminator updates per generator update (WGAN's n_critic).
        gp_weight: weight of the WGAN-GP gradient penalty (0 = off).
        r1_gamma: weight of the R1 penalty on real data (0 = off).
        label_smoothing: one-sided label smoothing: real target is ``1 - label_smoothing``.
        instance_noise: std of Gaussian noise added to D's real and fake inputs (0 = off).
        augment: differentiable augmentation of D's inputs: None, "diffaugment" or "ada"
            (see ``ganzoo.augment``); the same transform family is applied to real and fake.
        pack: PacGAN packing (Lin et al. 2018): D judges ``pack`` samples at once, concatenated
            along the last axis, real with real and fake with fake (1 = off). Unconditional
            variants whose D takes one image (``supports_packing``) only.
        r2_gamma: weight of the R2 penalty on generated data (0 = off); with R1 the pair R3GAN
            (Huang et al. 2024) uses with the relativistic loss.
        top_k: top-k training (Sinha et al. 2020): G learns only from the fakes D scores highest, a
            fraction that decays from 1 by ``top_k_decay`` per ``top_k_steps`` generator steps down
            to ``top_k`` (their nu, 0.5-0.75; 1 = off): bad samples stop pulling G between modes.
        top_k_decay, top_k_steps: that decay (the paper's gamma = 0.99 per epoch) and its step unit.
        ema_rampup: StyleGAN2-ADA's EMA ramp-up: the EMA's half-life is at most ``ema_rampup`` times
            the number of steps so far, so early, fast-moving weights are not averaged in for long
            (None = a constant ``ema_decay`` from the first step).

    With ``d_steps > 1``, each critic step sees its own real batch, as in WGAN-GP's Algorithm 1 and
    SNGAN's n_dis: ``fit`` groups ``d_steps`` consecutive batches of a ``tf.data.Dataset`` (or of arrays)
    into one step, so one step of ``fit`` is one generator update. Data that reaches ``train_step``
    ungrouped (a distributed dataset, a custom loop) reuses its batch for every critic step.
    """

    architecture = "gan"  # set by ganzoo.registry.register_architecture
    requires_labels = False  # class-conditional architectures train on (images, labels)
    # What fit() data yields: "images" (images, or (images, labels)), "pairs" ((source, target),
    # image-to-image and super-resolution) or "unpaired" ((a, b) of two domains).
    data_kind = "images"
    default_loss = "non_saturating"  # compile()'s loss when none is given; a variant may override
    supports_relativistic = True  # False where G's update has no real batch to pair the fakes with
    supports_packing = False  # True where D takes one unconditional image or point: PacGAN's ``pack``
    xla_pays = False  # ganzoo.training compiles with jit_compile=True when True (measured: tools/bench.py)
    image_shape: tuple[int, ...]

    def __init__(
        self,
        latent_dim: int = 128,
        num_classes: int | None = None,
        seed: int | None = None,
        ema_decay: float | None = None,
        d_steps: int = 1,
        gp_weight: float = 0.0,
        r1_gamma: float = 0.0,
        label_smoothing: float = 0.0,
        instance_noise: float = 0.0,
        augment: str | None = None,
        pack: int = 1,
        r2_gamma: float = 0.0,
        ema_rampup: float | None = None,
        top_k: float = 1.0,
        top_k_decay: float = 0.99,
        top_k_steps: int = 100,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._named_state: dict[str, tuple[keras.Variable, Any]] = {}
        check_positive_int("pack", pack)
        if pack > 1 and (not self.supports_packing or num_classes is not None):
            raise ValueError(
                f"pack={pack}: {type(self).__name__} does not support PacGAN packing (it needs an unconditional "
                "discriminator of one image or point: vanilla_gan, dcgan, wgan_gp, sngan); use pack=1."
            )
        if not (0.0 < top_k <= 1.0 and 0.0 < top_k_decay <= 1.0):
            raise ValueError(f"top_k and top_k_decay must be in (0, 1], got {top_k!r} and {top_k_decay!r}.")
        check_positive_int("top_k_steps", top_k_steps)
        if ema_rampup is not None and not ema_rampup > 0:
            raise ValueError(f"ema_rampup must be > 0 or None, got {ema_rampup!r}.")
        check_positive_int("latent_dim", latent_dim)
        check_positive_int("d_steps", d_steps)
        if num_classes is not None:
            check_positive_int("num_classes", num_classes)
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1) or None, got {ema_decay!r}.")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}.")
        self.latent_dim = int(latent_dim)
        self.num_classes = num_classes
        self.seed = seed
        self.ema_decay = ema_decay
        self.d_steps = int(d_steps)
        self.gp_weight = float(gp_weight)
        self.r1_gamma = float(r1_gamma)
        self.label_smoothing = float(label_smoothing)
        if instance_noise < 0:
            raise ValueError(f"instance_noise must be >= 0, got {instance_noise!r}.")
        self.instance_noise = float(instance_noise)
        self.augment = augment
        self.pack = int(pack)
        self.r2_gamma = float(r2_gamma)
        self.ema_rampup = None if ema_rampup is None else float(ema_rampup)
        self.top_k, self.top_k_decay, self.top_k_steps = float(top_k), float(top_k_decay), int(top_k_steps)

        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")
        # Networks follow the model's dtype policy (mixed precision) and always output float32.
        with distribute.dtype_policy_scope(self.dtype_policy):
            self.generator = distribute.float32_outputs(self.build_generator())
            self.discriminator = distribute.float32_outputs(self.build_discriminator())
        self.augmenter = None
        if augment is not None:
            self.augmenter = augment_lib.get(augment, seed=seed)
        self.ema_generator = None
        if ema_decay is not None:
            with distribute.dtype_policy_scope(self.dtype_policy):
                self.ema_generator = distribute.float32_outputs(self.build_generator())
            self.ema_generator.name = "ema_generator"
            self.ema_generator.trainable = False
            self.ema_generator.set_weights(self.generator.get_weights())
            # BatchNorm statistics of the EMA generator come from its own activations (update_ema), not
            # from the live generator's: its layers run in training mode there, so they stay trainable.
            self._ema_batch_norms = [
                layer
                for layer in self.ema_generator._flatten_layers()
                if isinstance(layer, keras.layers.BatchNormalization)
            ]
            for layer in self._ema_batch_norms:
                layer.trainable = True
            self._ema_recomputed = {id(v) for layer in self._ema_batch_norms for v in layer.non_trainable_weights}
            # Steps of EMA so far (for ema_rampup); a file saved without it was trained: fully ramped up.
            self.ema_steps = self.add_named_state(
                "ema_steps", keras.Variable(0, dtype="int64", trainable=False, name="ema_steps"), 2**62
            )
        self.adversarial_loss = losses.get(self.default_loss)
        self.g_optimizer = None
        self.d_optimizer = None
        self._trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("d_loss", "g_loss", "d_real", "d_fake", "d_accuracy", "d_grad_norm", "g_grad_norm")
        }
        if distribute.num_replicas() > 1:  # created in the scope of a multi-replica strategy
            # Batch statistics over the global batch, as on one device; also keeps the moving
            # statistics identical on every replica.
            distribute.synchronize_batch_norm(self)
        # The networks are functional models with known shapes: the GAN is fully
        # built now, which also lets fit() skip its symbolic build (needed under
        # MultiWorkerMirroredStrategy, see docs/DISTRIBUTED.md).
        self.built = True

    def fit(self, x=None, *args, **kwargs):
        """``keras.Model.fit``; a ``tf.data.Dataset`` is checked first (empty, wrong shape, dtype or labels)."""
        model = self if self.data_kind == "images" else None  # image-to-image models check their own batches
        if isinstance(x, tf.data.Dataset):
            checks.check_dataset(one_batch_view(x), model, what="the training dataset")
        validation = kwargs.get("validation_data")
        if isinstance(validation, tf.data.Dataset):
            checks.check_dataset(validation, model, what="validation_data")
        if self.d_steps > 1 and not args:
            x, kwargs = self._critic_dataset(x, kwargs)
        history = super().fit(x, *args, **kwargs)
        self._warn_if_ema_lags()
        return history

    def _warn_if_ema_lags(self) -> None:
        """Say so when a constant-decay EMA generator (what ``generate`` uses) still holds much of its random start."""
        if self.ema_generator is None or self.ema_rampup is not None:
            return
        steps = int(ops.convert_to_numpy(self.ema_steps))
        initial_share = self.ema_decay**steps
        if initial_share > EMA_LAG_WARNING:
            warnings.warn(
                f"{type(self).__name__}: after {steps} EMA steps with ema_decay={self.ema_decay} the EMA generator, "
                f"which generate() and export use, is still {initial_share:.0%} its random initialization; train "
                "longer, or pass ema_rampup=0.05 (StyleGAN2-ADA's ramp-up) or a smaller ema_decay.",
                stacklevel=3,
            )

    def _critic_dataset(self, x, kwargs):
        """``fit``'s data with ``d_steps`` consecutive batches grouped into one step (fresh reals per critic step)."""
        if isinstance(x, np.ndarray) or (
            isinstance(x, (tuple, list)) and x and all(isinstance(a, np.ndarray) for a in x)
        ):
            y = kwargs.pop("y", None)
            arrays = tuple(x) if isinstance(x, (tuple, list)) else ((x,) if y is None else (x, y))
            dataset = tf.data.Dataset.from_tensor_slices(arrays if len(arrays) > 1 else arrays[0])
            if kwargs.pop("shuffle", True):  # Keras' own array handling: reshuffled every epoch
                dataset = dataset.shuffle(len(arrays[0]), reshuffle_each_iteration=True)
            x = dataset.batch(kwargs.pop("batch_size", None) or 32)
        if isinstance(x, tf.data.Dataset) and one_batch_view(x) is x:  # ganzoo.training groups its own epochs
            x = group_critic_batches(x, self.d_steps)
        return x, kwargs

    # ----------------------------------------------------------------- networks
    def build_generator(self) -> keras.Model:
        raise NotImplementedError(f"{type(self).__name__} must implement build_generator().")

    def build_discriminator(self) -> keras.Model:
        raise NotImplementedError(f"{type(self).__name__} must implement build_discriminator().")

    @property
    def inference_generator(self) -> keras.Model:
        """The generator used for sampling and export: the EMA copy when enabled."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    @property
    def is_conditional(self) -> bool:
        return self.num_classes is not None

    def call(self, inputs, training: bool = False):
        """The generator's forward pass: ``z`` (or ``[z, label]`` for conditional models)."""
        return self.inference_generator(inputs, training=training)

    # ------------------------------------------------------------------- export
    export_kind = "latent"  # the manifest's "kind": latent, style, image_to_image or super_resolution

    def serving_graphs(self) -> dict[str, ServingGraph]:
        """The graphs ``ganzoo.export`` writes (the first is the default): here ``z`` [, ``label``] -> ``image``."""
        generator = self.inference_generator
        z = tf.TensorSpec((None, self.latent_dim), tf.float32, name="z")
        describe = {"z": {"distribution": "standard normal N(0, 1), independent entries", "recipe": LATENT_RECIPE}}
        if not self.is_conditional:
            return {
                "generator": ServingGraph([z], lambda z: generator(z, training=False), "image", generator, describe)
            }
        label = tf.TensorSpec((None,), tf.int32, name="label")
        describe["label"] = {"range": [0, self.num_classes], "description": f"class index in [0, {self.num_classes})"}
        fn = lambda z, label: generator([z, label], training=False)  # noqa: E731
        return {"generator": ServingGraph([z, label], fn, "image", generator, describe)}

    def serving_metadata(self) -> dict[str, Any]:
        """What a runtime needs besides the graphs (written into the export's manifest)."""
        is_image = len(self.image_shape) > 1
        return {
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "image_shape": [int(s) for s in self.image_shape],
            "output": {"kind": "image", "layout": "NHWC", "range": [-1.0, 1.0], "postprocessing": IMAGE_POSTPROCESSING}
            if is_image
            else {"kind": "points", "range": None, "postprocessing": None},
        }

    def export_examples(self, graph: str, seed: int = 0) -> list[dict[str, np.ndarray]]:
        """Inputs on which an export of ``graph`` is checked against Keras: batch 1 and batch 7."""
        rng = np.random.default_rng(seed)
        examples = []
        for batch in (1, 7):
            feed = {"z": latent_vectors(batch, self.latent_dim, seed + batch)}
            if self.is_conditional:
                feed["label"] = rng.integers(0, self.num_classes, batch).astype(np.int32)
            examples.append(feed)
        return examples

    def keras_input_signature(self) -> list:
        """What Keras' own ``model.export`` traces ``call`` with: ``z`` or ``[z, label]``, dynamic batch."""
        specs = next(iter(self.serving_graphs().values())).inputs
        return [specs[0]] if len(specs) == 1 else [list(specs)]

    def export(
        self, filepath, format: str = "tf_saved_model", verbose: bool | None = None, input_signature=None, **kwargs
    ):
        """Keras' ``Model.export`` (SavedModel or ONNX of ``call``), with this model's input signature by default.

        Keras infers a subclassed model's signature from its first call, which a GAN built in
        ``__init__`` never records; ganzoo knows the signature. For verified exports of every graph
        with a manifest, use ``ganzoo.export(model, out_dir)``.
        """
        if input_signature is None:
            input_signature = self.keras_input_signature()
        return super().export(filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        g_optimizer: keras.optimizers.Optimizer | None = None,
        d_optimizer: keras.optimizers.Optimizer | None = None,
        loss: str | losses.AdversarialLoss | None = None,
        **kwargs,
    ) -> None:
        """Configure training: one optimizer per network and an adversarial loss by name.

        Left out (None), the optimizers come from :meth:`default_optimizer` and the
        loss is the class's ``default_loss``: the architecture's own defaults.

        ``kwargs`` go to ``keras.Model.compile`` (``run_eagerly``, ``jit_compile``,
        ``steps_per_execution``). No ``model.optimizer`` is created: the two below are
        the only ones, and both are built here so checkpoints restore their state.
        """
        if "optimizer" in kwargs:
            raise TypeError("GAN.compile takes g_optimizer= and d_optimizer=, not optimizer=.")
        super().compile(optimizer=None, **kwargs)
        self.adversarial_loss = losses.get(self.default_loss if loss is None else loss)
        if self.adversarial_loss.relativistic and not self.supports_relativistic:
            raise ValueError(f"{type(self).__name__} does not support the relativistic loss (its G step has no reals).")
        self.g_optimizer = self._prepare_optimizer(g_optimizer, self.generator)
        self.d_optimizer = self._prepare_optimizer(d_optimizer, self.discriminator)

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """A new optimizer for a network whose optimizer compile() was not given; variants may override."""
        return default_optimizer()

    def adam_settings(self, network, learning_rate: float, beta_1: float, beta_2: float) -> tuple[float, float, float]:
        """The Adam settings to train ``network`` with, given the configured ones (StyleGAN corrects them)."""
        return learning_rate, beta_1, beta_2

    def _prepare_optimizer(self, optimizer, network: keras.Model) -> keras.optimizers.Optimizer:
        if optimizer is None:
            optimizer = self.default_optimizer()
            if isinstance(optimizer, keras.optimizers.Adam) and not callable(optimizer._learning_rate):
                learning_rate = float(ops.convert_to_numpy(optimizer.learning_rate))  # a MirroredVariable too
                lr, optimizer.beta_1, optimizer.beta_2 = self.adam_settings(
                    network, learning_rate, optimizer.beta_1, optimizer.beta_2
                )
                optimizer.learning_rate = lr
        optimizer = keras.optimizers.get(optimizer)
        if self.dtype_policy.name == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(network.trainable_variables)
        return optimizer

    def reset_optimizer_states(self) -> None:
        """Both optimizers as new (moments and step count to 0; learning rate and loss scale kept).

        ProGAN's official code does this at each new resolution (``reset_opt_for_new_lod``).
        """
        for optimizer in (self.g_optimizer, self.d_optimizer):
            inner = getattr(optimizer, "inner_optimizer", optimizer)  # a LossScaleOptimizer keeps its scale
            learning_rate = getattr(inner, "_learning_rate", None)
            for variable in inner.variables:
                if variable is not learning_rate:
                    variable.assign(ops.zeros_like(variable))

    def get_compile_config(self) -> dict[str, Any] | None:
        if not self.compiled:
            return None
        config = {
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            "loss": self.adversarial_loss.name,
            "run_eagerly": self.run_eagerly,
            "jit_compile": self.jit_compile,
            "steps_per_execution": self.steps_per_execution,
        }
        if not self.g_optimizer.built:  # compile() builds both; save(include_optimizer=False) swaps in unbuilt copies
            config[OPTIMIZER_STATE_KEY] = "omitted"
        return config

    def save(
        self, filepath, overwrite: bool = True, zipped: bool | None = None, include_optimizer: bool = True, **kwargs
    ):
        """Keras' ``save``; ``include_optimizer=False`` (tf.keras' argument) leaves both optimizers' state out.

        Adam keeps two moments per weight, so the file is about half the size. It keeps the optimizers'
        settings: loaded, the model trains (fine-tunes) with fresh optimizers of the same kind. Keep the
        default for checkpoints that must resume exactly. The zoo ships its models this way.
        """
        if include_optimizer or not self.compiled:
            return super().save(filepath, overwrite=overwrite, zipped=zipped, **kwargs)
        kept = self.g_optimizer, self.d_optimizer
        # Unbuilt copies hold the settings but no moments; the saved file is what they contain.
        self.g_optimizer, self.d_optimizer = (keras.optimizers.deserialize(keras.optimizers.serialize(o)) for o in kept)
        try:
            return super().save(filepath, overwrite=overwrite, zipped=zipped, **kwargs)
        finally:
            self.g_optimizer, self.d_optimizer = kept

    def compile_from_config(self, config: dict[str, Any]) -> None:
        config = dict(config)
        config.pop(OPTIMIZER_STATE_KEY, None)
        config["g_optimizer"] = keras.optimizers.deserialize(config["g_optimizer"])
        config["d_optimizer"] = keras.optimizers.deserialize(config["d_optimizer"])
        self.compile(**config)

    # ------------------------------------------------------------------- config
    @classmethod
    def constructor_arguments(cls) -> list[str]:
        """Names of the constructor arguments of the class and its GAN ancestors."""
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            if not (isinstance(klass, type) and issubclass(klass, GAN)):
                continue
            for param in inspect.signature(klass.__init__).parameters.values():
                if param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL) and param.name not in ("self", *names):
                    names.append(param.name)
        return names

    def get_config(self) -> dict[str, Any]:
        """All constructor arguments, read from attributes of the same name."""
        config = {"name": self.name, "dtype": keras.dtype_policies.serialize(self.dtype_policy)}
        for name in self.constructor_arguments():
            value = getattr(self, name)
            config[name] = list(value) if isinstance(value, tuple) else value
        return config

    # Constructor arguments added with a new default: the value a config saved without them meant.
    legacy_defaults: dict[str, Any] = {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GAN:
        config = {**cls.legacy_defaults, **config}
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)

    # ------------------------------------------------------------- checkpoint
    # Keras does not save SeedGenerator states; the GAN saves its own so that a
    # restored model (``.keras`` file or BackupAndRestore) continues the same draws.
    # State added after a model's first release (the EMA step count, data statistics) is saved under
    # its own name, so files saved before it existed still load: the state then takes its fallback.
    def add_named_state(self, name: str, variable: keras.Variable, fallback) -> keras.Variable:
        """Register ``variable`` to be saved under ``name``; a file without it loads ``fallback``."""
        self._named_state[name] = (variable, fallback)
        return variable

    def _indexed_variables(self) -> list:
        named = {id(v) for v, _ in self._named_state.values()}
        return [v for v in self._trainable_variables + self._non_trainable_variables if id(v) not in named]

    def layer_seed_states(self) -> list:
        """The states of the SeedGenerators inside the networks (Dropout's, the augmenter's), in layer order.

        Saved with the model so that a resumed run draws the same dropout masks as an uninterrupted one.
        """
        states, seen = [], {id(self.seed_generator.state)}
        for layer in self._flatten_layers(include_self=False, recursive=True):
            for generator in getattr(layer, "_seed_generators", ()):
                if id(generator.state) not in seen:
                    seen.add(id(generator.state))
                    states.append(generator.state)
        return states

    def save_own_variables(self, store) -> None:
        for i, variable in enumerate(self._indexed_variables()):
            store[f"{i}"] = variable
        store["seed_generator_state"] = self.seed_generator.state
        for i, state in enumerate(self.layer_seed_states()):
            store[f"layer_seed_state_{i}"] = state
        for name, (variable, _) in self._named_state.items():
            store[name] = variable

    def load_own_variables(self, store) -> None:
        if "seed_generator_state" in store.keys():
            self.seed_generator.state.assign(store["seed_generator_state"])
        for i, state in enumerate(self.layer_seed_states()):  # absent from files saved before they were saved
            if f"layer_seed_state_{i}" in store.keys():
                state.assign(store[f"layer_seed_state_{i}"])
        for name, (variable, fallback) in self._named_state.items():
            variable.assign(store[name] if name in store.keys() else fallback)
        for i, variable in enumerate(self._indexed_variables()):
            variable.assign(store[f"{i}"])

    # ------------------------------------------------------------------ metrics
    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self._trackers.values())

    def record(self, **values) -> dict[str, Any]:
        """Update the named trackers and return their logs (what Keras prints).

        Trackers are SUM-aggregated Means: under a strategy a log is the mean over all
        replicas. A new name gets its tracker outside the traced step, in the strategy's
        scope; logs are shape [1] under multi-worker (see ``ganzoo.distribute.log_value``).
        """
        for name, value in values.items():
            if name not in self._trackers:
                self._trackers[name] = distribute.new_metric(name, self.distribute_strategy)
            value, weight = value if isinstance(value, tuple) else (value, None)  # (value, weight) pairs
            self._trackers[name].update_state(value, sample_weight=weight)
        # Only what this step measured: a phase without D (SRGAN's MSE pre-training) logs no D numbers.
        return {name: distribute.log_value(self._trackers[name].result()) for name in values}

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3 reduces a distributed data batch across workers here, which fails under
        # MultiWorkerMirroredStrategy; a GAN is fully built in __init__, so nothing is left to build.
        if self.built and all(layer.built for layer in self._flatten_layers()):
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    # --------------------------------------------------------------- randomness
    def sample_latent(self, batch_size) -> tf.Tensor:
        """Latent vectors for this replica's share of the global batch.

        The whole global batch is drawn on every replica with the same seed state and
        each replica keeps its slice: the draws are different per replica and equal
        to a single-device run's, whatever the number of replicas.
        """
        return self.sample_normal((batch_size, self.latent_dim))

    def sample_normal(self, shape) -> tf.Tensor:
        return self._draw(keras.random.normal, shape)

    def sample_uniform(self, shape) -> tf.Tensor:
        """Uniform [0, 1) draws, sliced per replica like :meth:`sample_latent`."""
        return self._draw(keras.random.uniform, shape)

    def _draw(self, distribution, shape) -> tf.Tensor:
        replicas = distribute.replicas_in_sync()
        if replicas == 1:
            return distribution(shape, seed=self.seed_generator)
        shape = list(shape)
        draw = distribution([shape[0] * replicas] + shape[1:], seed=self.seed_generator)
        start = tf.distribute.get_replica_context().replica_id_in_sync_group * shape[0]
        return draw[start : start + shape[0]]

    # ------------------------------------------------------------- data & nets
    def unpack_batch(self, data) -> tuple[tf.Tensor, tf.Tensor | None]:
        """``images`` or ``(images, labels)`` from a dataset element; labels only for conditional models."""
        if isinstance(data, (tuple, list)):
            images = data[0]
            labels = data[1] if len(data) > 1 else None
        else:
            images, labels = data, None
        if self.is_conditional and labels is None:
            raise ValueError(
                f"{type(self).__name__} is class-conditional (num_classes={self.num_classes}): the dataset must "
                "yield (images, labels); load it with with_labels=True."
            )
        if not self.is_conditional:
            labels = None
        return checks.check_batch(self, images, labels)  # shape, dtype, range, labels: clear errors

    def generator_inputs(self, z, labels):
        return z if labels is None else [z, labels]

    @property
    def discriminator_input_shape(self) -> tuple[int, ...]:
        """The shape of what D takes: one sample, or ``pack`` samples concatenated along the last axis."""
        return (*self.image_shape[:-1], self.image_shape[-1] * self.pack)

    def discriminate(self, images, labels, training: bool = True):
        images = pack_samples(images, self.pack)
        return self.discriminator(images if labels is None else [images, labels], training=training)

    def discriminator_view(self, images):
        """What D sees during training: augmented and/or noised images (both differentiable)."""
        if self.augmenter is not None:
            images = self.augmenter(images, training=True)
        if self.instance_noise:
            images = images + self.instance_noise * ops.cast(self.sample_normal(ops.shape(images)), images.dtype)
        return images

    # --------------------------------------------------------------- training
    def train_step(self, data):
        """The classic alternating update: ``d_steps`` discriminator steps (each on its own reals), then one G step."""
        for batch in self.critic_batches(data):
            real, labels = self.unpack_batch(batch)
            self.observe_real(real)
            d_logs = self.discriminator_step(real, labels)
        g_logs = self.generator_step(ops.shape(real)[0], labels, real)
        return self.record(**g_logs, **d_logs)

    def critic_batches(self, data) -> list:
        """The ``d_steps`` data elements of one step's critic updates: fresh ones when ``fit`` grouped them."""
        if not is_grouped(data):
            return [data] * self.d_steps
        group = data[CRITIC_BATCHES]
        available = ops.shape(tf.nest.flatten(group)[0])[1]  # d_steps, fewer at the very end of the data
        batches = []
        for i in range(self.d_steps):
            element = tf.nest.map_structure(lambda t, i=i: tf.gather(t, i % available, axis=1), group)
            batches.append(element[0] if len(element) == 1 else element)
        return batches

    def observe_real(self, real) -> None:
        """Called with every real batch before D's step; variants that track data statistics override it."""

    def discriminator_step(self, real, labels) -> dict[str, tf.Tensor]:
        fake = self.generator(self.generator_inputs(self.sample_latent(ops.shape(real)[0]), labels), training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminate(self.discriminator_view(real), labels)
            fake_logits = self.discriminate(self.discriminator_view(fake), labels)
            d_loss = self.adversarial_loss.d(real_logits, fake_logits, real_target=1.0 - self.label_smoothing)
            total = d_loss + self.discriminator_penalties(real, fake, labels)
        d_grad_norm = self.apply_gradients(tape, total, self.discriminator, self.d_optimizer)
        self.adapt_augmentation(real_logits, fake_logits)
        return {"d_loss": d_loss, "d_grad_norm": d_grad_norm, **self.discriminator_stats(real_logits, fake_logits)}

    def discriminator_penalties(self, real, fake, labels, critic=None):
        """Gradient penalties switched on by ``gp_weight``, ``r1_gamma`` and ``r2_gamma``.

        Taken with respect to the clean ``real`` and ``fake`` images, the augmentation and instance
        noise inside the differentiated function, as StyleGAN2-ADA's code does (its R1 differentiates
        D(augment(x)) with respect to x). ``critic`` (default: this model's D) scores images.
        """
        total = ops.zeros((), dtype="float32")
        judge = critic or (lambda x: self.discriminate(x, labels))
        critic = lambda x: judge(self.discriminator_view(x))  # noqa: E731
        if self.gp_weight:
            mix = self.sample_uniform((ops.shape(real)[0],))
            total += self.gp_weight * penalties.gradient_penalty(critic, real, fake, mix)
        if self.r1_gamma:
            total += 0.5 * self.r1_gamma * penalties.r1_penalty(critic, real)
        if self.r2_gamma:
            total += 0.5 * self.r2_gamma * penalties.r1_penalty(critic, ops.stop_gradient(fake))
        return total

    def top_k_logits(self, fake_logits, real_logits=None):
        """The ``k`` highest fake logits (and, for a relativistic loss, their paired real ones) of this G step."""
        steps = ops.cast(self.g_optimizer.iterations, "float32") / float(self.top_k_steps)
        fraction = ops.maximum(self.top_k, ops.power(self.top_k_decay, steps))
        flat = ops.reshape(ops.cast(fake_logits, "float32"), (-1,))
        count = ops.shape(flat)[0]
        k = ops.maximum(ops.cast(ops.round(fraction * ops.cast(count, "float32")), "int32"), 1)
        _, index = tf.math.top_k(flat, k=k)
        kept_real = None if real_logits is None else tf.gather(ops.reshape(real_logits, (-1,)), index)
        return tf.gather(flat, index), kept_real

    def adapt_augmentation(self, real_logits, fake_logits) -> None:
        """ADA: move the augmentation probability with D's overfitting signal, after each D step.

        ADA's heuristic ``E[sign(D(real))]`` assumes D's decision threshold is 0, true of logistic-type
        losses; the signs are taken around :meth:`decision_threshold` (0.5 for least squares; for a
        Wasserstein or relativistic D, whose scores have no fixed origin, the midpoint of this step's
        mean real and fake scores).
        """
        if self.augmenter is not None:
            self.augmenter.update(real_logits, ops.stop_gradient(self.decision_threshold(real_logits, fake_logits)))

    def decision_threshold(self, real_logits, fake_logits):
        """The score between D's "real" and "fake" for this loss (``AdversarialLoss.threshold``)."""
        if self.adversarial_loss.threshold is not None:
            return ops.convert_to_tensor(self.adversarial_loss.threshold, "float32")
        midpoint = 0.5 * (ops.mean(ops.cast(real_logits, "float32")) + ops.mean(ops.cast(fake_logits, "float32")))
        if distribute.replicas_in_sync() > 1:  # the global batch's midpoint, as on one device
            midpoint = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.MEAN, midpoint)
        return midpoint

    def generator_step(self, batch_size, labels, real=None) -> dict[str, tf.Tensor]:
        """One G update; a relativistic loss also judges this step's ``real`` batch."""
        inputs = self.generator_inputs(self.sample_latent(batch_size), labels)
        real_logits = None
        if self.adversarial_loss.relativistic:
            real_logits = ops.stop_gradient(self.discriminate(self.discriminator_view(real), labels))
        with tf.GradientTape() as tape:
            fake = self.generator(inputs, training=True)
            fake_logits = self.discriminate(self.discriminator_view(fake), labels)
            if self.top_k < 1.0:
                fake_logits, real_logits = self.top_k_logits(fake_logits, real_logits)
            g_loss = self.adversarial_loss.g(fake_logits, real_logits)
        g_grad_norm = self.apply_gradients(tape, g_loss, self.generator, self.g_optimizer)
        self.update_ema(inputs)
        return {"g_loss": g_loss, "g_grad_norm": g_grad_norm}

    def apply_gradients(self, tape: tf.GradientTape, loss, network: keras.Model, optimizer) -> tuple[tf.Tensor, Any]:
        """Backpropagate ``loss`` into ``network`` with loss scaling and cross-replica averaging.

        Losses are means over this replica's batch; dividing by the number of
        replicas makes the summed gradients those of the mean over the global batch.
        Returns the global norm of this replica's unscaled gradient of ``loss`` (the signal
        the diagnostics use to spot vanishing or exploding gradients) as a ``(norm, weight)``
        pair for :meth:`record`: a float16 step whose scaled gradients overflow is skipped by
        the ``LossScaleOptimizer`` (which lowers its scale) and weighs 0 in the logged mean.
        """
        with tape:  # resume recording: the scaling is part of the differentiated graph
            scaled_loss = optimizer.scale_loss(loss / distribute.replicas_in_sync())
        variables = network.trainable_variables
        grads = tape.gradient(scaled_loss, variables)
        norm = tf.linalg.global_norm([g for g in grads if g is not None]) * float(distribute.replicas_in_sync())
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            norm = norm / ops.cast(optimizer.dynamic_scale, norm.dtype)
        # The whole update (the iteration counter too) waits for the gradients, and so for the
        # batch's value checks (ganzoo.checks): a bad batch leaves the optimizer untouched.
        with tf.control_dependencies([g for g in grads if g is not None]):
            optimizer.apply(grads, variables)
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            applied = ops.isfinite(norm)
            return ops.where(applied, norm, 0.0), ops.cast(applied, "float32")
        return norm, 1.0

    def discriminator_stats(self, real_logits, fake_logits) -> dict[str, tf.Tensor]:
        """Mean logits on real and fake, and the fraction D classifies correctly (at :meth:`decision_threshold`)."""
        real_logits = ops.cast(real_logits, "float32")
        fake_logits = ops.cast(fake_logits, "float32")
        threshold = self.decision_threshold(real_logits, fake_logits)
        correct = ops.concatenate(
            [
                ops.reshape(ops.cast(real_logits > threshold, "float32"), (-1,)),
                ops.reshape(ops.cast(fake_logits <= threshold, "float32"), (-1,)),
            ]
        )
        return {"d_real": ops.mean(real_logits), "d_fake": ops.mean(fake_logits), "d_accuracy": ops.mean(correct)}

    def ema_beta(self) -> tf.Tensor:
        """This step's EMA decay: ``ema_decay``, or StyleGAN2-ADA's ramped-up one (half-life <= ema_rampup x steps)."""
        if self.ema_rampup is None:
            return ops.convert_to_tensor(self.ema_decay, "float32")
        half_life = float(np.log(0.5) / np.log(self.ema_decay))  # in steps
        ramped = ops.minimum(half_life, self.ema_rampup * ops.cast(self.ema_steps, "float32"))
        return ops.where(ramped > 0, ops.power(0.5, 1.0 / ops.maximum(ramped, 1e-8)), 0.0)

    def update_ema(self, inputs=None) -> None:
        """Move the EMA generator towards the current one.

        Other buffers are copied, except BatchNorm statistics: with ``inputs`` (this step's generator
        inputs) the EMA generator runs once in training mode so that its BatchNorm layers track the
        statistics of its own, averaged weights' activations (the live generator's differ from them).
        """
        if self.ema_generator is None:
            return
        beta = self.ema_beta()
        for ema_var, var in zip(self.ema_generator.weights, self.generator.weights):
            if var.trainable:
                ema_var.assign(ops.cast(beta, ema_var.dtype) * ema_var + ops.cast(1.0 - beta, ema_var.dtype) * var)
            elif id(ema_var) not in self._ema_recomputed or inputs is None:
                ema_var.assign(var)
        self.ema_steps.assign_add(1)
        if self._ema_batch_norms and inputs is not None:
            self.ema_generator(inputs, training=True)

    def test_step(self, data):
        """Losses and discriminator statistics on held-out real data against fresh fakes, no updates."""
        real, labels = self.unpack_batch(data)
        fake = self.generator(self.generator_inputs(self.sample_latent(ops.shape(real)[0]), labels), training=False)
        real_logits = self.discriminate(real, labels, training=False)
        fake_logits = self.discriminate(fake, labels, training=False)
        return self.record(
            d_loss=self.adversarial_loss.d(real_logits, fake_logits),
            g_loss=self.adversarial_loss.g(fake_logits, real_logits),
            **self.discriminator_stats(real_logits, fake_logits),
        )

    # --------------------------------------------------------------- sampling
    def generate(
        self,
        n: int,
        seed: int | None = None,
        labels=None,
        batch_size: int = 256,
        raw: bool = False,
    ) -> np.ndarray:
        """Sample ``n`` outputs from the (EMA) generator.

        Returns uint8 images of shape (n, H, W, C) in [0, 255]; with ``raw=True``
        (and always for models of 2-D points) the generator's float32 output, in
        [-1, 1] for images. ``seed`` fixes the latent vectors (the same ones
        ``ganzoo.runtime`` draws); without it they come from the model's seed
        generator. ``labels`` (an int or a sequence of n ints) are required for
        class-conditional models.
        """
        checks.check_generate_arguments(n, seed, batch_size)
        check_sample_count(n, self.image_shape, self.latent_dim)
        if seed is not None:
            z = latent_vectors(n, self.latent_dim, seed)
        else:
            z = keras.ops.convert_to_numpy(keras.random.normal((n, self.latent_dim), seed=self.seed_generator))
        label_array = self.check_labels(labels, n)
        outputs = []
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            inputs = z[start:stop] if label_array is None else [z[start:stop], label_array[start:stop]]
            outputs.append(keras.ops.convert_to_numpy(self(inputs, training=False)).astype(np.float32))
        images = np.concatenate(outputs)
        if raw or len(self.image_shape) == 1:
            return images
        return to_uint8(images)

    def check_labels(self, labels, n: int) -> np.ndarray | None:
        """Validate class labels for generation: an int or n ints in ``[0, num_classes)``."""
        return check_labels(labels, n, self.num_classes, type(self).__name__)
