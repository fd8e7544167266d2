"""Working in a generator's latent spaces: interpolation, style mixing, truncation, projection.

    from ganzoo import latent_tools as lt
    frames = lt.interpolate(model, seeds=(0, 1), steps=16, space="w")   # lerp in W (slerp in Z with space="z")
    lt.save_animation(frames, "walk.gif")                                # or "walk.png" for a strip
    grid = lt.style_mixing_grid(model, row_seeds=[1, 2, 3], col_seeds=[4, 5, 6])
    sweep = lt.truncation_sweep(model, seeds=[0, 1, 2], psis=(1.0, 0.7, 0.5, 0.0))
    result = lt.project(model, image, steps=300)                         # GAN inversion
    result.image, result.latent, result.mse

Style mixing and truncation need a style-based model (``ganzoo.create("stylegan", ...)``);
interpolation in Z and projection in Z work for any unconditional image GAN.

The ``ganzoo`` CLI subcommands ``interpolate``, ``mix`` and ``project`` are defined at the bottom
(:data:`CLI_COMMANDS`; ``ganzoo sample --truncation`` is in :mod:`ganzoo.cli`). TensorFlow is imported only by the
functions that need it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ganzoo.utils.images import image_grid, save_grid, to_uint8
from ganzoo.utils.sampling import latent_vectors


# ------------------------------------------------------------------ interpolation
def lerp(a, b, t):
    """Linear interpolation ``a + t (b - a)`` (broadcasts; t may be an array of shape (k, 1, ...))."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a + np.asarray(t, np.float32) * (b - a)


def slerp(a, b, t, epsilon: float = 1e-7):
    """Spherical interpolation between vectors on their last axis (the right path between Gaussian latents).

    Keeps the norm statistics of z along the path, unlike lerp (which passes through the
    low-density centre). Falls back to lerp where the two vectors are (anti)parallel.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.asarray(t, np.float64)
    a_unit = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), epsilon)
    b_unit = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), epsilon)
    omega = np.arccos(np.clip(np.sum(a_unit * b_unit, axis=-1, keepdims=True), -1.0, 1.0))
    sin = np.sin(omega)
    safe = np.abs(sin) > epsilon
    sin = np.where(safe, sin, 1.0)
    out = np.where(safe, (np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / sin, a + t * (b - a))
    return out.astype(np.float32)


def is_style_model(model) -> bool:
    """A style-based generator: a mapping network to W and a synthesis network fed per-layer styles."""
    return hasattr(model, "mapping_ws") and hasattr(model, "synthesize")


def _check_image_gan(model) -> None:
    if getattr(model, "is_conditional", False):
        raise ValueError("latent tools work on unconditional generators; this model is class-conditional.")
    if len(getattr(model, "image_shape", ())) != 3:
        raise ValueError("latent tools work on image generators.")


def _generate_from_z(model, z: np.ndarray, batch_size: int = 64) -> np.ndarray:

    outputs = [
        np.asarray(keras.ops.convert_to_numpy(model(z[i : i + batch_size], training=False)), np.float32)
        for i in range(0, len(z), batch_size)
    ]
    return np.concatenate(outputs)


def interpolate(
    model,
    seeds: Sequence[int] = (0, 1),
    steps: int = 16,
    space: str = "w",
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    raw: bool = False,
) -> np.ndarray:
    """Frames of a latent walk through ``seeds`` (each consecutive pair gets ``steps`` frames, the
    last seed ends the walk): uint8 (frames, H, W, C), or float32 with ``raw``.

    ``space="w"`` (style models): lerp between mapped, truncated latents w (W is where StyleGAN's
    paths are perceptually smooth). ``space="z"``: slerp between the Gaussian latents z (any GAN).
    """
    _check_image_gan(model)
    if len(seeds) < 2 or steps < 2:
        raise ValueError("interpolate needs at least two seeds and two steps.")
    if space not in ("w", "z"):
        raise ValueError(f"space must be 'w' or 'z', got {space!r}.")
    style = is_style_model(model)
    if space == "w" and not style:
        raise ValueError(f"{type(model).__name__} has no W space: use space='z'.")
    if truncation_psi != 1.0 and not style:
        raise ValueError(f"{type(model).__name__} has no truncation trick (it needs a mapping network).")
    zs = np.stack([latent_vectors(1, model.latent_dim, int(s))[0] for s in seeds])
    t = np.linspace(0.0, 1.0, steps, endpoint=False, dtype=np.float32)[:, None]
    if space == "z":
        path = np.concatenate([slerp(zs[i], zs[i + 1], t) for i in range(len(zs) - 1)] + [zs[-1:]])
        if style:
            images = model.synthesize(model.mapping_ws(path, truncation_psi), noise_mode)
        else:
            images = _generate_from_z(model, path)
    else:
        ws = model.mapping_ws(zs, truncation_psi)[:, 0]
        path = np.concatenate([lerp(ws[i], ws[i + 1], t) for i in range(len(ws) - 1)] + [ws[-1:]])
        images = model.synthesize(path, noise_mode)
    return images if raw else to_uint8(images)


def save_animation(frames: np.ndarray, path, fps: int = 12, upscale: int | None = None, loop: bool = True) -> Path:
    """Write uint8 frames as an animated GIF (``.gif``, bouncing back with ``loop``) or a PNG strip."""
    from PIL import Image

    frames = np.asarray(frames)
    path = Path(path)
    upscale = upscale or max(1, 128 // frames.shape[1])
    if path.suffix.lower() != ".gif":
        return save_grid(frames, path, columns=len(frames), upscale=upscale)
    sequence = list(frames) + (list(frames[-2:0:-1]) if loop else [])
    pictures = []
    for frame in sequence:
        frame = frame.repeat(upscale, axis=0).repeat(upscale, axis=1)
        pictures.append(Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame))
    path.parent.mkdir(parents=True, exist_ok=True)
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=int(1000 / fps), loop=0)
    return path


# ------------------------------------------------------------------ style mixing & truncation
def _require_style(model, what: str) -> None:
    if not is_style_model(model):
        raise ValueError(
            f"{what} needs a style-based model (mapping + synthesis networks), not {type(model).__name__}."
        )


def style_mixing(
    model,
    coarse_seeds: Sequence[int],
    fine_seeds: Sequence[int],
    cutoff: int | None = None,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
) -> np.ndarray:
    """Images whose styles before ``cutoff`` come from ``coarse_seeds`` and the rest from ``fine_seeds``
    (pairwise), uint8 (n, H, W, C). ``cutoff`` defaults to ``num_ws // 2``."""
    _require_style(model, "style mixing")
    if len(coarse_seeds) != len(fine_seeds):
        raise ValueError("coarse_seeds and fine_seeds must have the same length.")
    coarse = model.mapping_ws(_latents(model, coarse_seeds), truncation_psi)
    fine = model.mapping_ws(_latents(model, fine_seeds), truncation_psi)
    return model.synthesize(model.mix_styles(coarse, fine, cutoff), noise_mode, raw=False)


def _latents(model, seeds: Sequence[int]) -> np.ndarray:
    return np.stack([latent_vectors(1, model.latent_dim, int(s))[0] for s in seeds])


def style_mixing_grid(
    model,
    row_seeds: Sequence[int],
    col_seeds: Sequence[int],
    cutoff: int | None = None,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    padding: int = 2,
) -> np.ndarray:
    """The StyleGAN mixing figure as one uint8 image.

    Top row: the images of ``col_seeds``; left column: the images of ``row_seeds``; cell (i, j): coarse
    styles (layers ``< cutoff``: pose, shape) from ``row_seeds[i]``, fine styles (the rest: texture,
    colour) from ``col_seeds[j]``. Cutoff defaults to ``num_ws // 2``.
    """
    _require_style(model, "a style-mixing grid")
    rows, cols = list(row_seeds), list(col_seeds)
    row_img = model.synthesize(model.mapping_ws(_latents(model, rows), truncation_psi), noise_mode, raw=False)
    col_img = model.synthesize(model.mapping_ws(_latents(model, cols), truncation_psi), noise_mode, raw=False)
    mixed = style_mixing(
        model, [r for r in rows for _ in cols], [c for _ in rows for c in cols], cutoff, truncation_psi, noise_mode
    )
    blank = np.full_like(row_img[:1], 255)
    tiles = [blank[0], *col_img]
    for i in range(len(rows)):
        tiles.append(row_img[i])
        tiles.extend(mixed[i * len(cols) : (i + 1) * len(cols)])
    return image_grid(np.stack(tiles), columns=len(cols) + 1, padding=padding)


def truncation_sweep(
    model,
    seeds: Sequence[int] = (0, 1, 2, 3),
    psis: Sequence[float] = (1.0, 0.85, 0.7, 0.5, 0.25, 0.0),
    noise_mode: str = "const",
    padding: int = 2,
) -> np.ndarray:
    """One row per seed, one column per psi (uint8 grid image): the quality/diversity trade-off;
    the psi = 0 column is the average image for every seed."""
    _require_style(model, "a truncation sweep")
    z = _latents(model, seeds)
    tiles = np.stack([model.synthesize(model.mapping_ws(z, psi), noise_mode, raw=False) for psi in psis], axis=1)
    return image_grid(tiles.reshape(-1, *tiles.shape[2:]), columns=len(psis), padding=padding)


# ------------------------------------------------------------------ projection (GAN inversion)
@dataclasses.dataclass
class Projection:
    """Result of :func:`project`.

    ``latent``: w (w_dim,) in W, ws (num_ws, w_dim) in W+, or z (latent_dim,) in Z; ``noise``: the
    optimized noise maps (style models with ``optimize_noise``) by input name; ``image``: the
    reconstruction (uint8, H x W x C); ``raw``: the same in float32; ``mse``: per-step mean squared
    error in [-1, 1] pixel units (``mse[0]`` is the starting point, ``mse[-1]`` the result);
    ``space``: "w", "w+" or "z".
    """

    latent: np.ndarray
    space: str
    image: np.ndarray
    raw: np.ndarray
    mse: list[float]
    noise: dict[str, np.ndarray] | None = None

    @property
    def psnr(self) -> float:
        """PSNR of the result in dB, for images in [-1, 1] (peak-to-peak 2)."""
        return float(10.0 * np.log10(4.0 / max(self.mse[-1], 1e-12)))


def _target(model, image) -> np.ndarray:
    """A target image as float32 (1, H, W, C) in [-1, 1], checked against the model's shape."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 127.5 - 1.0
    array = array.astype(np.float32)
    if tuple(array.shape) != tuple(model.image_shape):
        raise ValueError(
            f"image has shape {array.shape}; the model makes {tuple(model.image_shape)} images "
            "(load it with load_image(path, model) to resize and convert it)."
        )
    return array[None]


def load_image(path, model) -> np.ndarray:
    """An image file resized (bicubic) and converted to the model's image shape, as uint8."""
    from PIL import Image

    size, _, channels = model.image_shape
    picture = Image.open(path).convert("L" if channels == 1 else "RGB").resize((size, size), Image.BICUBIC)
    array = np.asarray(picture, np.uint8)
    return array[..., None] if channels == 1 else array


def _noise_regularization(noises) -> Any:
    """StyleGAN2's projector regularizer: squared autocorrelations of each noise map at shifts of one
    pixel, over a pyramid down to 8x8, so the noise maps cannot encode the image."""

    total = 0.0
    for noise in noises:
        x = noise
        while True:
            total += tf.reduce_mean(x * tf.roll(x, 1, axis=1)) ** 2 + tf.reduce_mean(x * tf.roll(x, 1, axis=2)) ** 2
            if x.shape[1] <= 8:
                break
            x = tf.nn.avg_pool2d(x, 2, 2, "VALID")
    return total


def project(
    model,
    image,
    steps: int = 300,
    learning_rate: float = 0.1,
    w_plus: bool = False,
    optimize_noise: bool = True,
    noise_weight: float = 1e3,
    initial_noise_factor: float = 0.05,
    noise_ramp: float = 0.75,
    num_avg_samples: int = 2000,
    feature_fn=None,
    feature_weight: float = 1.0,
    seed: int = 0,
    verbose: bool = False,
) -> Projection:
    """Find a latent whose image reproduces ``image`` (uint8 or [-1, 1] float, H x W x C).

    Style models (StyleGAN2's projector): start from ``w_avg``, optimize w (or one w per layer with
    ``w_plus``) with Adam, a learning rate that ramps up over the first 5 % and down (cosine) over the
    last 25 % of the steps, Gaussian noise on w decaying to 0 over the first ``noise_ramp`` of the
    steps (scale ``initial_noise_factor`` times the spread of W), and, with ``optimize_noise``, the
    noise maps too, kept Gaussian by the autocorrelation penalty (``noise_weight``) and renormalized
    after every step. Other GANs: optimize z from 0 with a Gaussian prior ``||z||^2 / latent_dim``
    (weight 1e-3) and the same schedule.

    The loss is the pixel MSE plus the MSE of 2x and 4x average-pooled copies (a coarse-to-fine
    distance) and, if ``feature_fn`` (images in [-1, 1] -> features, differentiable, e.g. a VGG
    the user has weights for) is given, ``feature_weight`` times the MSE between features.
    """

    _check_image_gan(model)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}.")
    target = tf.constant(_target(model, image))
    style = is_style_model(model)
    rng = np.random.default_rng(seed)

    def distance(x):
        terms = [tf.reduce_mean(tf.square(x - target))]
        a, b = x, target
        for _ in range(2):
            if a.shape[1] < 8:
                break
            a, b = tf.nn.avg_pool2d(a, 2, 2, "VALID"), tf.nn.avg_pool2d(b, 2, 2, "VALID")
            terms.append(tf.reduce_mean(tf.square(a - b)))
        loss = tf.add_n(terms)
        if feature_fn is not None:
            loss += feature_weight * tf.reduce_mean(tf.square(feature_fn(x) - feature_fn(target)))
        return loss

    noise_vars: list[tf.Variable] = []
    if style:
        mapping, _, synthesis = model.parts()
        z = latent_vectors(num_avg_samples, model.latent_dim, seed + 1)
        w_samples = np.asarray(keras.ops.convert_to_numpy(mapping(z, training=False)), np.float64)
        w_avg = model.w_avg.astype(np.float32)
        w_std = float(np.sqrt(np.mean(np.sum((w_samples - w_avg) ** 2, axis=1))))
        start = np.repeat(w_avg[None], model.num_ws if w_plus else 1, axis=0)[None]
        latent = tf.Variable(start, name="w")
        const = model.noise_inputs(1, "const")
        noise_vars = [tf.Variable(const[name], name=name, trainable=optimize_noise) for name in model.noise_names]
        noise_scale0 = w_std * initial_noise_factor

        def render(latent_value):
            ws = latent_value if w_plus else tf.repeat(latent_value, model.num_ws, axis=1)
            feed = {"ws": ws, **{name: v for name, v in zip(model.noise_names, noise_vars)}}
            return tf.cast(synthesis(feed, training=False), tf.float32)
    else:
        latent = tf.Variable(np.zeros((1, model.latent_dim), np.float32), name="z")
        noise_scale0 = initial_noise_factor
        generator = model.inference_generator

        def render(latent_value):
            return tf.cast(generator(latent_value, training=False), tf.float32)

    variables = [latent] + ([v for v in noise_vars] if (style and optimize_noise) else [])
    optimizer = keras.optimizers.Adam(learning_rate, beta_1=0.9, beta_2=0.999)
    optimizer.build(variables)
    shape = tuple(latent.shape)

    @tf.function
    def step(lr, noise_scale, perturbation):
        optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            image_out = render(latent + noise_scale * perturbation)
            loss = distance(image_out)
            if style and optimize_noise:
                loss += noise_weight * _noise_regularization(noise_vars)
            if not style:
                loss += 1e-3 * tf.reduce_sum(tf.square(latent)) / model.latent_dim
        grads = tape.gradient(loss, variables)
        optimizer.apply(grads, variables)
        for v in noise_vars if (style and optimize_noise) else []:
            mean = tf.reduce_mean(v)
            v.assign((v - mean) * tf.math.rsqrt(tf.reduce_mean(tf.square(v - mean)) + 1e-8))
        return tf.reduce_mean(tf.square(render(latent) - target))

    mse = [float(tf.reduce_mean(tf.square(render(latent) - target)))]
    for i in range(steps):
        t = i / steps
        noise_scale = noise_scale0 * max(0.0, 1.0 - t / noise_ramp) ** 2
        ramp = min(1.0, (1.0 - t) / 0.25)
        ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
        ramp *= min(1.0, (i + 1) / (0.05 * steps))
        perturbation = rng.standard_normal(shape).astype(np.float32)
        mse.append(
            float(
                step(
                    tf.constant(learning_rate * ramp, tf.float32),
                    tf.constant(noise_scale, tf.float32),
                    tf.constant(perturbation),
                )
            )
        )
        if verbose and (i % max(1, steps // 10) == 0 or i == steps - 1):
            print(f"step {i + 1}/{steps}: mse {mse[-1]:.5f}")
    raw = render(latent).numpy()[0]
    space = "z" if not style else ("w+" if w_plus else "w")
    final = latent.numpy()[0]
    if space == "w":
        final = final[0]
    noise = {name: v.numpy() for name, v in zip(model.noise_names, noise_vars)} if style else None
    return Projection(final, space, to_uint8(raw[None])[0], raw, mse, noise)
