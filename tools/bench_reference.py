"""Reference DCGANs for ``tools/bench.py``: the networks of ganzoo's ``dcgan`` written twice more.

1. :class:`KerasDCGAN`: a plain single-file Keras 3 implementation in the style of the keras-io
   DCGAN example (a ``keras.Model`` subclass with its own ``train_step``, two ``GradientTape``
   blocks, ``keras.random`` latents, Mean trackers, ``model.fit`` on a ``tf.data`` pipeline).
2. :func:`torch_networks` / :class:`TorchTrainer`: the same networks in PyTorch on the CPU
   (NCHW, PyTorch's default layout). PyTorch is only installed for the benchmark, never a
   dependency of ganzoo.

The networks equal ganzoo's ``dcgan`` for an image of side ``4 * start`` (two doublings, the
classic MNIST-sized DCGAN at 28x28):

    G: Dense(start*start*2F, no bias) -> BN -> ReLU -> reshape -> ConvT(F, 4, s2, no bias) -> BN
       -> ReLU -> ConvT(C, 4, s2) -> tanh
    D: Conv(F, 4, s2) -> LeakyReLU(0.2) -> Conv(2F, 4, s2) -> BN -> LeakyReLU(0.2) -> Flatten
       -> Dense(1) logit

and the update is the same as ganzoo's base ``train_step``: fakes for the D step drawn outside
the tape (G in training mode), D on the real and on the fake batch separately (BatchNorm
statistics per batch, as ganzoo does), non-saturating loss on logits, Adam(2e-4, beta_1=0.5) for
both networks, then one G step through D. BatchNorm constants match Keras (momentum 0.99 =
PyTorch 0.01, epsilon 1e-3). Nothing here imports ganzoo.
"""

from __future__ import annotations

import time

import numpy as np

LATENT_DIM = 100
BASE_FILTERS = 64
LEARNING_RATE = 2e-4
BETA_1 = 0.5


# ----------------------------------------------------------------------------------- Keras
def keras_networks(
    image_size: int = 28,
    channels: int = 1,
    latent_dim: int = LATENT_DIM,
    base_filters: int = BASE_FILTERS,
    fused_bn: bool = False,
):
    """(generator, discriminator) as plain functional Keras models; ``fused_bn`` swaps in :class:`FusedBatchNorm`."""
    import keras

    if image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4, got {image_size}.")
    start = image_size // 4
    norm = FusedBatchNorm if fused_bn else keras.layers.BatchNormalization

    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Dense(start * start * base_filters * 2, use_bias=False)(z)
    x = norm()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Reshape((start, start, base_filters * 2))(x)
    x = keras.layers.Conv2DTranspose(base_filters, 4, strides=2, padding="same", use_bias=False)(x)
    x = norm()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same")(x)
    image = keras.layers.Activation("tanh")(x)
    generator = keras.Model(z, image, name="generator")

    image_in = keras.Input((image_size, image_size, channels), name="image")
    x = keras.layers.Conv2D(base_filters, 4, strides=2, padding="same")(image_in)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Conv2D(base_filters * 2, 4, strides=2, padding="same")(x)
    x = norm()(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    logit = keras.layers.Dense(1)(x)
    discriminator = keras.Model(image_in, logit, name="discriminator")
    return generator, discriminator


def _fused_batch_norm_class():
    import keras
    import tensorflow as tf

    class FusedBatchNorm(keras.layers.Layer):
        """BatchNormalization on TensorFlow's fused kernel (``FusedBatchNormV3``), channels last.

        Same parameters and constants as ``keras.layers.BatchNormalization`` (momentum 0.99,
        epsilon 1e-3); a 2-D input (after a Dense layer) is viewed as (B, 1, 1, features).
        (The kernel's batch variance for the moving average is Bessel-corrected, Keras's is
        not: irrelevant to speed.) Used only to measure what a fused normalization kernel buys.
        """

        def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, **kwargs):
            super().__init__(**kwargs)
            self.momentum, self.epsilon = momentum, epsilon

        def build(self, input_shape):
            features = int(input_shape[-1])
            self.gamma = self.add_weight(shape=(features,), initializer="ones", name="gamma")
            self.beta = self.add_weight(shape=(features,), initializer="zeros", name="beta")
            self.moving_mean = self.add_weight(
                shape=(features,), initializer="zeros", trainable=False, name="moving_mean"
            )
            self.moving_variance = self.add_weight(
                shape=(features,), initializer="ones", trainable=False, name="moving_variance"
            )

        def call(self, inputs, training=False):
            shape = tf.shape(inputs)
            x = inputs if inputs.shape.rank == 4 else tf.reshape(inputs, [-1, 1, 1, inputs.shape[-1]])
            if training:
                y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                    x, self.gamma, self.beta, epsilon=self.epsilon, is_training=True
                )
                self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
                self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
            else:
                y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                    x,
                    self.gamma,
                    self.beta,
                    mean=self.moving_mean,
                    variance=self.moving_variance,
                    epsilon=self.epsilon,
                    is_training=False,
                )
            return y if inputs.shape.rank == 4 else tf.reshape(y, shape)

        def compute_output_shape(self, input_shape):
            return input_shape

    return FusedBatchNorm


class _LazyFusedBatchNorm:
    """Defers importing TensorFlow until the fused layer is first used."""

    _cls = None

    def __call__(self, *args, **kwargs):
        if _LazyFusedBatchNorm._cls is None:
            _LazyFusedBatchNorm._cls = _fused_batch_norm_class()
        return _LazyFusedBatchNorm._cls(*args, **kwargs)


FusedBatchNorm = _LazyFusedBatchNorm()


def make_keras_dcgan(
    image_size: int = 28,
    channels: int = 1,
    latent_dim: int = LATENT_DIM,
    base_filters: int = BASE_FILTERS,
    fused_bn: bool = False,
    jit_compile=False,
    seed: int = 1337,
):
    """A compiled :class:`KerasDCGAN` (the keras-io DCGAN example's structure, ganzoo's networks)."""
    import keras
    import tensorflow as tf
    from keras import ops

    class KerasDCGAN(keras.Model):
        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.seed_generator = keras.random.SeedGenerator(seed)

        def compile(self, d_optimizer, g_optimizer, loss_fn, **kwargs):
            super().compile(**kwargs)
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn
            self.d_loss_metric = keras.metrics.Mean(name="d_loss")
            self.g_loss_metric = keras.metrics.Mean(name="g_loss")

        @property
        def metrics(self):
            return [self.d_loss_metric, self.g_loss_metric]

        def train_step(self, real_images):
            batch_size = ops.shape(real_images)[0]
            ones = ops.ones((batch_size, 1))
            zeros = ops.zeros((batch_size, 1))

            # Train the discriminator on a real and a generated batch.
            z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
            generated = self.generator(z, training=True)
            with tf.GradientTape() as tape:
                real_logits = self.discriminator(real_images, training=True)
                fake_logits = self.discriminator(generated, training=True)
                d_loss = self.loss_fn(ones, real_logits) + self.loss_fn(zeros, fake_logits)
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

            # Train the generator (without updating the discriminator's weights).
            z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
            with tf.GradientTape() as tape:
                predictions = self.discriminator(self.generator(z, training=True), training=True)
                g_loss = self.loss_fn(ones, predictions)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

            self.d_loss_metric.update_state(d_loss)
            self.g_loss_metric.update_state(g_loss)
            return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}

    generator, discriminator = keras_networks(image_size, channels, latent_dim, base_filters, fused_bn)
    model = KerasDCGAN(discriminator, generator, latent_dim)
    model.compile(
        d_optimizer=keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1),
        g_optimizer=keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def keras_dataset(images: np.ndarray, batch_size: int = 64, seed: int = 0):
    """The keras-io style pipeline over in-memory images: slices -> shuffle -> batch -> prefetch."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(images.astype(np.float32))
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------------- PyTorch
def torch_networks(
    image_size: int = 28, channels: int = 1, latent_dim: int = LATENT_DIM, base_filters: int = BASE_FILTERS
):
    """(generator, discriminator) as ``torch.nn`` modules, NCHW."""
    import torch
    from torch import nn

    start = image_size // 4
    f2 = base_filters * 2

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(latent_dim, start * start * f2, bias=False)
            self.bn0 = nn.BatchNorm1d(start * start * f2, eps=1e-3, momentum=0.01)
            self.up1 = nn.ConvTranspose2d(f2, base_filters, 4, stride=2, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(base_filters, eps=1e-3, momentum=0.01)
            self.up2 = nn.ConvTranspose2d(base_filters, channels, 4, stride=2, padding=1)

        def forward(self, z):
            x = torch.relu(self.bn0(self.dense(z)))
            x = x.view(-1, f2, start, start)
            x = torch.relu(self.bn1(self.up1(x)))
            return torch.tanh(self.up2(x))

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, base_filters, 4, stride=2, padding=1)
            self.conv2 = nn.Conv2d(base_filters, f2, 4, stride=2, padding=1)
            self.bn2 = nn.BatchNorm2d(f2, eps=1e-3, momentum=0.01)
            self.dense = nn.Linear(f2 * start * start, 1)

        def forward(self, x):
            x = nn.functional.leaky_relu(self.conv1(x), 0.2)
            x = nn.functional.leaky_relu(self.bn2(self.conv2(x)), 0.2)
            return self.dense(x.flatten(1))

    return Generator(), Discriminator()


class TorchTrainer:
    """The same alternating update in PyTorch; ``images`` are NHWC float32 in [-1, 1] (moved to NCHW here).

    D's parameters are frozen during the G step (no wasted weight gradients, as in the
    TensorFlow graphs after pruning); Adam uses PyTorch's fused CPU kernel when available.
    """

    def __init__(
        self,
        images: np.ndarray,
        batch_size: int = 64,
        latent_dim: int = LATENT_DIM,
        base_filters: int = BASE_FILTERS,
        threads: int | None = None,
        seed: int = 0,
    ):
        import torch

        self.threads = int(threads) if threads else torch.get_num_threads()
        torch.set_num_threads(self.threads)
        torch.manual_seed(seed)
        self.torch = torch
        self.images = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32))
        self.batch_size, self.latent_dim = batch_size, latent_dim
        self.steps_per_epoch = len(images) // batch_size
        self.G, self.D = torch_networks(images.shape[1], images.shape[3], latent_dim, base_filters)
        self.G.train()
        self.D.train()
        self.g_opt = self._adam(self.G.parameters())
        self.d_opt = self._adam(self.D.parameters())
        self.generator = torch.Generator().manual_seed(seed)

    def _adam(self, params):
        torch = self.torch
        try:
            return torch.optim.Adam(params, lr=LEARNING_RATE, betas=(BETA_1, 0.999), fused=True)
        except (RuntimeError, TypeError):  # fused CPU Adam not available in this build
            return torch.optim.Adam(params, lr=LEARNING_RATE, betas=(BETA_1, 0.999))

    def step(self, real):
        torch = self.torch
        F = torch.nn.functional
        n = real.shape[0]
        with torch.no_grad():
            fake = self.G(torch.randn(n, self.latent_dim))
        self.d_opt.zero_grad(set_to_none=True)
        d_loss = F.softplus(-self.D(real)).mean() + F.softplus(self.D(fake)).mean()
        d_loss.backward()
        self.d_opt.step()

        for p in self.D.parameters():
            p.requires_grad_(False)
        self.g_opt.zero_grad(set_to_none=True)
        g_loss = F.softplus(-self.D(self.G(torch.randn(n, self.latent_dim)))).mean()
        g_loss.backward()
        self.g_opt.step()
        for p in self.D.parameters():
            p.requires_grad_(True)
        return d_loss, g_loss

    def epoch(self) -> float:
        """One shuffled pass (drop remainder); returns its wall time in seconds."""
        torch = self.torch
        torch.set_num_threads(self.threads)  # per trainer: one process may hold several thread settings
        started = time.perf_counter()
        order = torch.randperm(len(self.images), generator=self.generator)
        for i in range(self.steps_per_epoch):
            index = order[i * self.batch_size : (i + 1) * self.batch_size]
            d_loss, g_loss = self.step(self.images[index])
        float(d_loss.detach()), float(g_loss.detach())  # losses reach Python once per epoch, as fit's logs do
        return time.perf_counter() - started
