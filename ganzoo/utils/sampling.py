"""Latent vectors and image post-processing shared by Keras and the TensorFlow-free runtime.

Nothing here imports TensorFlow: ``ganzoo.runtime`` relies on it to draw the very
same latents as ``GAN.generate(seed=...)`` and to write the same PNG grids.
"""

from __future__ import annotations

import numpy as np

from ganzoo.errors import InputError

# The largest output one generate() call returns (4 GiB of float32); more is an error, not an out-of-memory kill.
MAX_SAMPLE_BYTES = 4 << 30


def latent_vectors(n: int, latent_dim: int, seed: int) -> np.ndarray:
    """``n`` standard-normal latent vectors from numpy's PCG64 seeded with ``seed`` (float32)."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim), dtype=np.float32)


NOISE_MODES = ("const", "random", "none")  # the per-layer noise inputs of style-based generators
CONST_NOISE_SEED = 0x5EED  # the fixed noise maps of noise_mode="const" (not saved: they are recomputed)


def noise_maps(n: int, resolutions, seed: int) -> list[np.ndarray]:
    """The per-layer noise maps of ``noise_mode="random"``: float32 (n, r, r, 1), one per resolution.

    ``numpy.random.default_rng([seed, 1])`` draws them in layer order, so the runtime without
    TensorFlow reproduces ``StyleGAN.generate(seed=seed, noise_mode="random")`` exactly.
    """
    rng = np.random.default_rng([int(seed), 1])
    return [rng.standard_normal((n, r, r, 1), dtype=np.float32) for r in resolutions]


def const_noise_maps(resolutions) -> list[np.ndarray]:
    """The fixed maps of ``noise_mode="const"``: (1, r, r, 1) each, from a fixed seed."""
    rng = np.random.default_rng(CONST_NOISE_SEED)
    return [rng.standard_normal((1, r, r, 1), dtype=np.float32) for r in resolutions]


def noise_inputs(n: int, noise_mode: str, names, resolutions, seed: int | None = None) -> dict[str, np.ndarray]:
    """Noise maps for ``n`` samples of a style-based generator, by input name: "const" (the fixed
    maps), "random" (:func:`noise_maps` of ``seed``, which the caller must give) or "none" (zeros)."""
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}.")
    if noise_mode == "const":
        maps = [np.repeat(m, n, axis=0) for m in const_noise_maps(resolutions)]
    elif noise_mode == "none":
        maps = [np.zeros((n, r, r, 1), np.float32) for r in resolutions]
    else:
        maps = noise_maps(n, resolutions, seed)
    return dict(zip(names, maps))


def mix_styles(ws_coarse: np.ndarray, ws_fine: np.ndarray, cutoff: int | None = None) -> np.ndarray:
    """Styles (n, num_ws, w_dim): layers ``< cutoff`` from ``ws_coarse``, the rest from ``ws_fine``
    (default cutoff: num_ws // 2)."""
    num_ws = np.shape(ws_coarse)[1]
    cutoff = num_ws // 2 if cutoff is None else int(cutoff)
    if not 0 <= cutoff <= num_ws:
        raise ValueError(f"mix_cutoff must be in [0, {num_ws}], got {cutoff}.")
    mixed = np.array(ws_coarse, np.float32, copy=True)
    mixed[:, cutoff:] = np.asarray(ws_fine, np.float32)[:, cutoff:]
    return mixed


def mixing_latents(mix, n: int, latent_dim: int) -> np.ndarray:
    """The second latents of style mixing: a seed (``latent_vectors``) or an (n, latent_dim) array."""
    z2 = latent_vectors(n, latent_dim, int(mix)) if np.ndim(mix) == 0 else np.asarray(mix, np.float32)
    if z2.shape != (n, latent_dim):
        raise ValueError(f"mix must be a seed or an array of shape {(n, latent_dim)}, got {z2.shape}.")
    return z2


def check_labels(labels, n: int, num_classes: int | None, owner: str = "This model") -> np.ndarray | None:
    """Validate class labels for generation: an int or ``n`` ints in ``[0, num_classes)``.

    ``num_classes=None`` means an unconditional model, which takes no labels.
    Returns int32 labels of shape (n,), or None.
    """
    if num_classes is None:
        if labels is not None:
            raise ValueError(f"{owner} is unconditional; do not pass labels.")
        return None
    if labels is None:
        raise ValueError(f"{owner} is class-conditional: pass labels= (ints in [0, {num_classes})).")
    labels = np.asarray(labels)
    if labels.ndim == 0:
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be an int or {n} ints, got {labels.item()!r} of dtype {labels.dtype}.")
        labels = np.full((n,), int(labels))
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be an int or {n} ints, got an array of shape {labels.shape} and dtype {labels.dtype}."
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}), got values from {labels.min()} to {labels.max()}.")
    return labels.astype(np.int32)


def check_positive_int(name: str, value) -> None:
    """Raise :class:`InputError` (a ``ValueError``) unless ``value`` is a positive integer (``bool`` is refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}.")


def check_seed(seed) -> None:
    """Raise :class:`InputError` unless ``seed`` is None or a non-negative integer (``bool`` is refused)."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise InputError(f"seed must be a non-negative integer or None, got {seed!r}.")


def check_sample_count(n: int, sample_shape, latent_dim: int = 0) -> None:
    """Raise :class:`InputError` when ``n`` samples of ``sample_shape`` (and their latents) exceed
    :data:`MAX_SAMPLE_BYTES` as float32: such a call would exhaust the memory instead of answering."""
    per_sample = 4 * (int(np.prod(sample_shape, dtype=np.int64)) + int(latent_dim))
    if n * per_sample > MAX_SAMPLE_BYTES:
        raise InputError(
            f"n={n} samples of shape {tuple(sample_shape)} would take {n * per_sample / 2**30:.1f} GiB; one call "
            f"generates at most {MAX_SAMPLE_BYTES // per_sample} of them (call it several times with other seeds)."
        )
