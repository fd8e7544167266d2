"""Moved from ganzoo.image_tasks (issue 12 layout move)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from ganzoo.data.pairs import PHOTOS, bicubic_upscale, degrade, skimage_photos
from ganzoo.evaluation.metrics import psnr, ssim
from ganzoo.utils.images import (
    to_uint8,
)


# =============================================================================== evaluation
def _uint8(x) -> np.ndarray:
    return to_uint8(np.asarray(x, np.float32))


def evaluate_translation(
    translate: Callable,
    sources: np.ndarray,
    targets: np.ndarray,
    baseline: np.ndarray | None = None,
    batch_size: int = 32,
) -> dict[str, Any]:
    """L1 (on [-1, 1]), PSNR and SSIM (RGB, 8-bit outputs, no border crop) of ``translate(sources)`` vs ``targets``.

    ``sources``/``targets`` are float [-1, 1] arrays; ``baseline`` (same shape as targets), if
    given, is scored the same way under ``"baseline"``.
    """

    outputs = np.concatenate(
        [np.asarray(translate(sources[i : i + batch_size])) for i in range(0, len(sources), batch_size)]
    )

    def score(images):
        quantized, truth = _uint8(images), _uint8(targets)
        return {
            "l1": float(np.mean(np.abs(quantized / 127.5 - 1.0 - truth / 127.5 + 1.0))),
            "psnr_rgb": psnr(quantized, truth, data_range=255, channel="rgb"),
            "ssim_rgb": ssim(quantized, truth, data_range=255, channel="rgb"),
        }

    result = {
        "model": score(outputs),
        "n": int(len(sources)),
        "protocol": "outputs and targets quantized to uint8; L1 on [-1, 1]; PSNR/SSIM (ganzoo.metrics, Wang et al. "
        "window) on RGB, data_range 255, no border crop; mean over patches",
    }
    if baseline is not None:
        result["baseline"] = score(baseline)
    return result


def evaluate_super_resolution(
    upscale: Callable, scale: int, photos: Sequence[np.ndarray] | None = None, names: Sequence[str] | None = None
) -> dict[str, Any]:
    """PSNR/SSIM of ``upscale(lr)`` and of bicubic upscaling on whole held-out photos.

    Protocol: each photo (default: :data:`PHOTOS` ``test``) is cropped to a multiple of
    ``scale``; LR = :func:`degrade` (bicubic, antialiased, 8-bit); SR and bicubic outputs are
    quantized to uint8; PSNR and SSIM on the BT.601 Y channel with ``scale`` border pixels
    cropped (the usual SR protocol), data range 255. ``upscale`` maps a (1, h, w, 3) [-1, 1]
    array to (1, h*scale, w*scale, 3).
    """

    if photos is None:
        photos, names = skimage_photos("test"), list(PHOTOS["test"])
    names = list(names or [f"photo_{i}" for i in range(len(photos))])
    per_photo = {}
    for name, photo in zip(names, photos):
        h, w = (photo.shape[0] // scale) * scale, (photo.shape[1] // scale) * scale
        high = photo[None, :h, :w].astype(np.float32) / 127.5 - 1.0
        low = degrade(high, scale).numpy()
        sr, bicubic, truth = _uint8(upscale(low)), _uint8(bicubic_upscale(low, scale)), _uint8(high)
        per_photo[name] = {
            "size": [h, w],
            "psnr_y": psnr(sr, truth, data_range=255, crop_border=scale, channel="y"),
            "ssim_y": ssim(sr, truth, data_range=255, crop_border=scale, channel="y"),
            "bicubic_psnr_y": psnr(bicubic, truth, data_range=255, crop_border=scale, channel="y"),
            "bicubic_ssim_y": ssim(bicubic, truth, data_range=255, crop_border=scale, channel="y"),
        }
    mean = {
        k: float(np.mean([v[k] for v in per_photo.values()]))
        for k in ("psnr_y", "ssim_y", "bicubic_psnr_y", "bicubic_ssim_y")
    }
    return {
        **mean,
        "per_photo": per_photo,
        "scale": scale,
        "protocol": f"whole held-out photos {names}, cropped to multiples of {scale}; LR = TF bicubic downscale with "
        "antialiasing, rounded to 8 bits; outputs and bicubic baseline (TF bicubic, a=-0.5) quantized to uint8; "
        f"PSNR/SSIM on the BT.601 Y channel (16-235 offsets as ganzoo.metrics.rgb_to_y), {scale}-pixel border "
        "cropped, data range 255; mean over photos",
    }


def train_domain_classifier(a: np.ndarray, b: np.ndarray, epochs: int = 4, seed: int = 0):
    """A small CNN telling domain A (label 0) from B (label 1) on [-1, 1] images; returns ``predict(x) -> P(B)``."""

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(a.shape[1:])
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    x = np.concatenate([a, b]).astype(np.float32)
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))]).astype(np.float32)
    model.fit(x, y, epochs=epochs, batch_size=64, shuffle=True, verbose=0)
    return lambda images: model.predict(np.asarray(images, np.float32), verbose=0, batch_size=256)[:, 0]


def evaluate_cycle(
    model,
    a: np.ndarray,
    b: np.ndarray,
    truth_b: np.ndarray | None = None,
    truth_a: np.ndarray | None = None,
    classifier: Callable | None = None,
) -> dict[str, Any]:
    """CycleGAN checks on held-out ``a`` and ``b`` ([-1, 1]): cycle reconstruction L1/PSNR (RGB, 8-bit) per
    direction; with ``truth_b = T(a)`` / ``truth_a = T^-1(b)`` known, PSNR of G(a) and F(b) against them and
    of the untranslated input (identity baseline); with a domain ``classifier`` (P(B)), the fraction of
    G(a) judged B and of F(b) judged A, beside its accuracy on the real images."""

    g = lambda x: model.translate(x, "a2b", raw=True)  # noqa: E731
    f = lambda x: model.translate(x, "b2a", raw=True)  # noqa: E731
    fake_b, fake_a = g(a), f(b)
    rec_a, rec_b = f(fake_b), g(fake_a)
    rgb = lambda x, y: psnr(_uint8(x), _uint8(y), data_range=255, channel="rgb")  # noqa: E731
    result: dict[str, Any] = {
        "n_a": int(len(a)),
        "n_b": int(len(b)),
        "cycle_l1_a": float(np.mean(np.abs(rec_a - a))),
        "cycle_l1_b": float(np.mean(np.abs(rec_b - b))),
        "cycle_psnr_rgb_a": rgb(rec_a, a),
        "cycle_psnr_rgb_b": rgb(rec_b, b),
    }
    if truth_b is not None:
        result.update(a2b_psnr_rgb=rgb(fake_b, truth_b), a2b_identity_baseline_psnr_rgb=rgb(a, truth_b))
    if truth_a is not None:
        result.update(b2a_psnr_rgb=rgb(fake_a, truth_a), b2a_identity_baseline_psnr_rgb=rgb(b, truth_a))
    if classifier is not None:
        result.update(
            domain_accuracy_real=float((np.mean(classifier(a) < 0.5) + np.mean(classifier(b) >= 0.5)) / 2),
            a2b_judged_b=float(np.mean(classifier(fake_b) >= 0.5)),
            b2a_judged_a=float(np.mean(classifier(fake_a) < 0.5)),
            identity_baseline_a_judged_b=float(np.mean(classifier(a) >= 0.5)),
        )
    result["protocol"] = (
        "held-out patches; reconstructions F(G(a)) and G(F(b)) and translations quantized to uint8 for PSNR "
        "(RGB, data range 255, no crop); L1 on [-1, 1] floats; domain judged by a small CNN trained on "
        "real training-photo patches of both domains (threshold 0.5)"
    )
    return result
