"""Evaluation metrics for generative models.

Two layers:

* Pure numpy/scipy metric functions that work on feature arrays, class
  probabilities, 2-D points or image batches. All arithmetic is float64.
  Each docstring names the protocol it follows.
* Keras feature extractors (:class:`InceptionFeatures`, :class:`ClassifierFeatures`)
  with one interface: ``extractor(images) -> (N, D) float32`` for images given
  as float32 in ``[-1, 1]`` with shape ``(N, H, W, C)``, a ``.name`` that is
  written into every report, and a ``batch_size``.

:func:`evaluate` ties the two together and returns the numbers together with the
protocol that produced them (extractor name, sample counts, k, subset sizes).

Comparability warning: FID/KID/PR values are only comparable when computed with
the same extractor, the same number of samples and the same preprocessing.
``InceptionFeatures`` uses ``keras.applications.InceptionV3`` weights and
TensorFlow bilinear resizing; this is *not* the 2015 Inception graph used by the
TTUR / pytorch-fid reference implementations, so its FIDs must not be compared
with numbers published with those tools.

TensorFlow/Keras are imported lazily, so the numpy metrics can be used (and
tested) without loading TensorFlow.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import linalg
from scipy.special import rel_entr

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = [
    "feature_statistics",
    "frechet_distance",
    "fid",
    "kid",
    "inception_score",
    "precision_recall",
    "density_coverage",
    "mode_statistics",
    "rgb_to_y",
    "psnr",
    "ssim",
    "FeatureExtractor",
    "InceptionFeatures",
    "ClassifierFeatures",
    "build_digits_classifier",
    "train_digits_classifier",
    "build_feature_classifier",
    "train_classifier",
    "evaluate",
]

# Largest pairwise-distance block (in elements) materialised at once by the
# k-NN metrics: 2**23 float64 values = 64 MiB per block.
_MAX_BLOCK_ELEMENTS = 2**23


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _features_2d(x: Any, name: str, min_rows: int = 1) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) array, got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return arr


def _check_same_dim(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: real has {a.shape[1]}, fake has {b.shape[1]}")


def _row_blocks(n_rows: int, n_cols: int, batch_size: int | None) -> Iterator[slice]:
    rows = max(1, _MAX_BLOCK_ELEMENTS // max(n_cols, 1))
    if batch_size is not None:
        rows = max(1, min(rows, int(batch_size)))
    for start in range(0, n_rows, rows):
        yield slice(start, min(start + rows, n_rows))


def _sq_dists(a: np.ndarray, b: np.ndarray, a_sq: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances ``|a_i - b_j|^2`` (clipped at 0)."""
    d = a @ b.T
    d *= -2.0
    d += a_sq[:, None]
    d += b_sq[None, :]
    np.maximum(d, 0.0, out=d)
    return d


def _kth_nn_sq_radii(x: np.ndarray, k: int, batch_size: int | None) -> np.ndarray:
    """Squared distance from each row of ``x`` to its k-th nearest *other* row."""
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must satisfy 1 <= k < N (N={n}), got k={k}")
    x_sq = np.einsum("ij,ij->i", x, x)
    radii = np.empty(n, dtype=np.float64)
    for rows in _row_blocks(n, n, batch_size):
        d = _sq_dists(x[rows], x, x_sq[rows], x_sq)
        idx = np.arange(rows.start, rows.stop)
        d[idx - rows.start, idx] = np.inf  # exclude the point itself
        radii[rows] = np.partition(d, k - 1, axis=1)[:, k - 1]
    return radii


def _center(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Distances are translation invariant; centring improves the conditioning
    # of the |a|^2 - 2ab + |b|^2 expansion.
    mean = real.mean(axis=0)
    return real - mean, fake - mean


# ---------------------------------------------------------------------------
# Frechet distance / FID
# ---------------------------------------------------------------------------


def feature_statistics(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (``ddof=1``) of an ``(N, D)`` feature array."""
    f = _features_2d(features, "features", min_rows=2)
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, eps: float = 1e-6) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``|mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2})``
    (Heusel et al. 2017, "GANs trained by a two time-scale update rule").
    Follows the pytorch-fid reference: ``scipy.linalg.sqrtm`` of the product;
    if the result is not finite, ``eps * I`` is added to both covariances and
    the square root is recomputed; an imaginary part from round-off is dropped
    when the diagonal's imaginary part is within ``1e-3`` of zero, otherwise
    ``ValueError`` is raised.
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape or mu1.ndim != 1:
        raise ValueError(f"mean vectors have different shapes: {mu1.shape} vs {mu2.shape}")
    d = mu1.shape[0]
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"covariances must be ({d}, {d}), got {sigma1.shape} and {sigma2.shape}")

    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        warnings.warn(
            f"frechet_distance: sqrtm of the covariance product is singular; "
            f"adding {eps} to the diagonal of both covariances",
            RuntimeWarning,
            stacklevel=2,
        )
        offset = np.eye(d) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0.0, atol=1e-3):
            raise ValueError(
                "frechet_distance: sqrtm has a large imaginary component "
                f"({np.max(np.abs(covmean.imag)):.3g}); covariances are not valid"
            )
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def fid(real_features: Any, fake_features: Any) -> float:
    """Frechet Inception Distance between two ``(N, D)`` feature sets.

    Gaussian fit with the sample mean and the unbiased covariance (``ddof=1``,
    as in TTUR / pytorch-fid), then :func:`frechet_distance`. FID is biased and
    depends on N: always report the sample sizes (50k vs 50k is customary for
    Inception features). Warns when N < D (rank-deficient covariance).
    """
    real = _features_2d(real_features, "real_features", min_rows=2)
    fake = _features_2d(fake_features, "fake_features", min_rows=2)
    _check_same_dim(real, fake)
    if min(real.shape[0], fake.shape[0]) < real.shape[1]:
        warnings.warn(
            f"fid: fewer samples ({min(real.shape[0], fake.shape[0])}) than feature "
            f"dimensions ({real.shape[1]}): the covariance is rank deficient and FID "
            "is strongly biased",
            RuntimeWarning,
            stacklevel=2,
        )
    mu1, s1 = feature_statistics(real)
    mu2, s2 = feature_statistics(fake)
    return frechet_distance(mu1, s1, mu2, s2)


# ---------------------------------------------------------------------------
# KID
# ---------------------------------------------------------------------------


def _polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3 for equal-size x, y."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_yy = (y @ y.T / d + 1.0) ** 3
    k_xy = (x @ y.T / d + 1.0) ** 3
    sum_xx = k_xx.sum() - np.trace(k_xx)
    sum_yy = k_yy.sum() - np.trace(k_yy)
    return float((sum_xx + sum_yy) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


def kid(
    real_features: Any,
    fake_features: Any,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs").

    Unbiased estimator of MMD^2 with the cubic polynomial kernel
    ``k(x, y) = (x.y / d + 1)^3``, computed on ``num_subsets`` random subsets of
    ``m = min(subset_size, N_real, N_fake)`` rows drawn without replacement from
    each set (``numpy.random.default_rng(seed)``)::

        MMD^2 = sum_{i!=j} k(x_i,x_j)/(m(m-1)) + sum_{i!=j} k(y_i,y_j)/(m(m-1))
                - 2 sum_{i,j} k(x_i,y_j)/m^2

    Returns ``(mean, std)`` over subsets, the spread reported by the reference
    implementations (Binkowski et al.'s code, torch-fidelity ``kid_std``;
    ``np.std`` with ``ddof=0``). It is the spread of single-subset estimates,
    not a standard error of the mean (subsets overlap, so a standard error
    would be over-optimistic). Can be negative for matching distributions.
    """
    real = _features_2d(real_features, "real_features", min_rows=2)
    fake = _features_2d(fake_features, "fake_features", min_rows=2)
    _check_same_dim(real, fake)
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}")
    m = min(int(subset_size), real.shape[0], fake.shape[0])
    if m < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")
    rng = np.random.default_rng(seed)
    values = np.empty(num_subsets, dtype=np.float64)
    for i in range(num_subsets):
        x = real[rng.choice(real.shape[0], m, replace=False)]
        y = fake[rng.choice(fake.shape[0], m, replace=False)]
        values[i] = _polynomial_mmd2_unbiased(x, y)
    return float(values.mean()), float(values.std())


# ---------------------------------------------------------------------------
# Inception score
# ---------------------------------------------------------------------------


def inception_score(probs: Any, splits: int = 10) -> tuple[float, float]:
    """Inception Score (Salimans et al. 2016) from class probabilities ``(N, C)``.

    ``exp(E_x KL(p(y|x) || p(y)))`` computed on ``splits`` consecutive chunks
    (boundaries ``i * N // splits`` as in the original OpenAI code), with p(y)
    the chunk's marginal. Returns ``(mean, std)`` over chunks (``ddof=0``).
    Rows must be probability vectors (non-negative, summing to 1 within 1e-3).
    Scores are only comparable for the same classifier and N (50k, 10 splits
    is customary for the Inception network).
    """
    p = _features_2d(probs, "probs", min_rows=1)
    if splits < 1 or p.shape[0] < splits:
        raise ValueError(f"need 1 <= splits <= N, got splits={splits}, N={p.shape[0]}")
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probs rows must be probability vectors (softmax outputs)")
    n = p.shape[0]
    scores = []
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]
        marginal = part.mean(axis=0, keepdims=True)
        kl = rel_entr(part, marginal).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    scores_arr = np.asarray(scores)
    return float(scores_arr.mean()), float(scores_arr.std())


# ---------------------------------------------------------------------------
# k-NN manifold metrics
# ---------------------------------------------------------------------------


def precision_recall(
    real_features: Any, fake_features: Any, k: int = 3, batch_size: int | None = None
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its samples with radius
    the distance to the sample's k-th nearest neighbour in the same set
    (itself excluded). Precision is the fraction of fake samples inside the
    real manifold, recall the fraction of real samples inside the fake
    manifold; membership uses ``<=`` as in the official NVIDIA code. Euclidean
    distances are computed in row blocks (at most 64 MiB each, or
    ``batch_size`` rows), so 10k x 10k sets never need the full matrix.
    """
    real = _features_2d(real_features, "real_features", min_rows=2)
    fake = _features_2d(fake_features, "fake_features", min_rows=2)
    _check_same_dim(real, fake)
    real, fake = _center(real, fake)
    r_real = _kth_nn_sq_radii(real, k, batch_size)
    r_fake = _kth_nn_sq_radii(fake, k, batch_size)
    real_sq = np.einsum("ij,ij->i", real, real)
    fake_sq = np.einsum("ij,ij->i", fake, fake)

    def _inside(query, query_sq, ref, ref_sq, radii) -> float:
        hits = 0
        for rows in _row_blocks(query.shape[0], ref.shape[0], batch_size):
            d = _sq_dists(query[rows], ref, query_sq[rows], ref_sq)
            hits += int(np.any(d <= radii[None, :], axis=1).sum())
        return hits / query.shape[0]

    precision = _inside(fake, fake_sq, real, real_sq, r_real)
    recall = _inside(real, real_sq, fake, fake_sq, r_fake)
    return float(precision), float(recall)


def density_coverage(
    real_features: Any, fake_features: Any, k: int = 5, batch_size: int | None = None
) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020, "Reliable fidelity and diversity metrics").

    With ``r_i`` the distance from real sample i to its k-th nearest real
    neighbour (itself excluded)::

        density  = 1/(k M) * sum_j sum_i 1[|y_j - x_i| < r_i]
        coverage = 1/N * sum_i 1[min_j |y_j - x_i| < r_i]

    Strict ``<`` as in the official ``prdc`` code. Density is not bounded by 1
    (about 1 for matching distributions). Computed in row blocks as
    :func:`precision_recall`.
    """
    real = _features_2d(real_features, "real_features", min_rows=2)
    fake = _features_2d(fake_features, "fake_features", min_rows=1)
    _check_same_dim(real, fake)
    real, fake = _center(real, fake)
    r_real = _kth_nn_sq_radii(real, k, batch_size)
    real_sq = np.einsum("ij,ij->i", real, real)
    fake_sq = np.einsum("ij,ij->i", fake, fake)
    counts = np.zeros(fake.shape[0], dtype=np.int64)
    covered = np.zeros(real.shape[0], dtype=bool)
    for rows in _row_blocks(real.shape[0], fake.shape[0], batch_size):
        d = _sq_dists(real[rows], fake, real_sq[rows], fake_sq)
        inside = d < r_real[rows, None]
        counts += inside.sum(axis=0)
        covered[rows] = d.min(axis=1) < r_real[rows]
    density = counts.sum() / (k * fake.shape[0])
    return float(density), float(covered.mean())


# ---------------------------------------------------------------------------
# 2-D mixture benchmarks
# ---------------------------------------------------------------------------


def mode_statistics(
    points: Any,
    modes: Any,
    std: float | Sequence[float],
    min_count: int = 20,
    num_std: float = 3.0,
) -> dict:
    """Mode-collapse statistics for mixture-of-Gaussians benchmarks (ring, grid).

    Protocol of VEEGAN (Srivastava et al. 2017) / PacGAN (Lin et al. 2018):
    each sample is assigned to its nearest mode centre and is *high quality*
    when it lies within ``num_std`` (3) standard deviations of that centre
    (``std`` is the mixture components' standard deviation, a scalar or one
    value per mode). A mode is *covered* when it received at least
    ``min_count`` high-quality samples; the default 20 is the PacGAN rule for
    2,500 samples (scale it if you evaluate a different number of samples).

    ``reverse_kl`` is ``KL(q || uniform) = sum_k q_k log(K q_k)`` where q is
    the histogram of the high-quality samples over the K modes. No epsilon
    smoothing is needed because the reference (uniform) is strictly positive
    and ``0 log 0 = 0``; it lies in ``[0, log K]``. It is NaN when there is no
    high-quality sample (q undefined). Extra key ``mode_counts``: the
    per-mode high-quality counts.
    """
    pts = _features_2d(points, "points", min_rows=1)
    centres = _features_2d(modes, "modes", min_rows=1)
    _check_same_dim(pts, centres)
    n_modes = centres.shape[0]
    stds = np.broadcast_to(np.asarray(std, dtype=np.float64), (n_modes,))
    if (stds <= 0).any():
        raise ValueError("std must be positive")
    d2 = _sq_dists(pts, centres, np.einsum("ij,ij->i", pts, pts), np.einsum("ij,ij->i", centres, centres))
    nearest = d2.argmin(axis=1)
    dist = np.sqrt(d2[np.arange(pts.shape[0]), nearest])
    high_quality = dist <= num_std * stds[nearest]
    counts = np.bincount(nearest[high_quality], minlength=n_modes)
    total = counts.sum()
    if total > 0:
        q = counts / total
        reverse_kl = float(rel_entr(q, np.full(n_modes, 1.0 / n_modes)).sum())
    else:
        reverse_kl = float("nan")
    return {
        "modes_covered": int((counts >= min_count).sum()),
        "num_modes": int(n_modes),
        "high_quality_fraction": float(high_quality.mean()),
        "reverse_kl": reverse_kl,
        "mode_counts": counts.tolist(),
    }


# ---------------------------------------------------------------------------
# PSNR / SSIM (super-resolution protocol)
# ---------------------------------------------------------------------------


def rgb_to_y(rgb01: Any) -> np.ndarray:
    """ITU-R BT.601 luma of RGB in ``[0, 1]`` (last axis), returned in ``[16/255, 235/255]``.

    ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255`` - MATLAB ``rgb2ycbcr``
    without rounding, as used by the super-resolution literature (BasicSR).
    """
    x = np.asarray(rgb01, dtype=np.float64)
    if x.shape[-1] != 3:
        raise ValueError(f"rgb_to_y expects 3 channels in the last axis, got {x.shape}")
    return (16.0 + x @ np.array([65.481, 128.553, 24.966])) / 255.0


def _prepare_pair(
    a: Any, b: Any, data_range: float | tuple[float, float], crop_border: int, channel: str
) -> tuple[np.ndarray, np.ndarray]:
    """Map to [0, 1], convert to Y if asked, crop; returns (N, H, W, C') float64."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"image batches differ in shape: {x.shape} vs {y.shape}")
    if x.ndim == 3:  # a single (H, W, C) image
        x, y = x[None], y[None]
    if x.ndim != 4:
        raise ValueError(f"expected (N, H, W, C) or (H, W, C) images, got shape {x.shape}")
    if np.isscalar(data_range) or np.ndim(data_range) == 0:
        lo, hi = 0.0, float(data_range)
    else:
        lo, hi = (float(v) for v in data_range)
    if not hi > lo:
        raise ValueError(f"invalid data_range {data_range!r}")
    x = (x - lo) / (hi - lo)
    y = (y - lo) / (hi - lo)
    if channel == "y":
        if x.shape[-1] == 3:
            x, y = rgb_to_y(x)[..., None], rgb_to_y(y)[..., None]
        elif x.shape[-1] != 1:
            raise ValueError(f"channel='y' needs 1 or 3 channels, got {x.shape[-1]}")
    elif channel != "rgb":
        raise ValueError(f"channel must be 'y' or 'rgb', got {channel!r}")
    crop_border = int(crop_border)
    if crop_border < 0:
        raise ValueError("crop_border must be >= 0")
    if crop_border:
        if 2 * crop_border >= min(x.shape[1], x.shape[2]):
            raise ValueError(f"crop_border={crop_border} removes the whole {x.shape[1:3]} image")
        c = crop_border
        x, y = x[:, c:-c, c:-c], y[:, c:-c, c:-c]
    return x, y


def psnr(
    a: Any,
    b: Any,
    data_range: float | tuple[float, float] = (-1.0, 1.0),
    crop_border: int = 0,
    channel: str = "y",
) -> float:
    """Mean per-image PSNR (dB) of two image batches ``(N, H, W, C)``.

    Super-resolution protocol: images are mapped to ``[0, 1]`` using
    ``data_range`` (a float ``L`` means values in ``[0, L]``, e.g. 255 or 1.0; a
    pair ``(lo, hi)`` gives the bounds, the default ``(-1, 1)`` is the ganzoo
    generator range), converted to the BT.601 Y channel (:func:`rgb_to_y`) when
    ``channel="y"`` and the images are RGB (single-channel images are used as
    they are), and ``crop_border`` pixels are removed from every side. Then
    ``PSNR = 10 log10(1 / MSE)`` per image (peak = full range, i.e. 255 in
    8-bit units, also for Y) and the mean over the batch. Identical images give
    ``inf`` (so the batch mean is ``inf`` if any pair is identical). No 8-bit
    rounding is applied.
    """
    x, y = _prepare_pair(a, b, data_range, crop_border, channel)
    mse = np.mean((x - y) ** 2, axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        values = np.where(mse > 0, 10.0 * np.log10(1.0 / np.where(mse > 0, mse, 1.0)), np.inf)
    return float(np.mean(values))


def ssim(
    a: Any,
    b: Any,
    data_range: float | tuple[float, float] = (-1.0, 1.0),
    crop_border: int = 0,
    channel: str = "y",
) -> float:
    """Mean per-image SSIM (Wang et al. 2004) of two image batches ``(N, H, W, C)``.

    Same preprocessing as :func:`psnr` (map to ``[0, 1]``, BT.601 Y channel,
    border crop), then ``skimage.metrics.structural_similarity`` with the Wang
    et al. setting: 11x11 Gaussian window (``gaussian_weights=True``,
    ``sigma=1.5``), ``use_sample_covariance=False``, K1=0.01, K2=0.03, and
    ``data_range=1``. For ``channel="rgb"`` the per-channel SSIMs are averaged.
    Images (after cropping) must be at least 11x11.
    """
    from skimage.metrics import structural_similarity

    x, y = _prepare_pair(a, b, data_range, crop_border, channel)
    values = []
    for xi, yi in zip(x, y):
        multichannel = xi.shape[-1] > 1
        if not multichannel:
            xi, yi = xi[..., 0], yi[..., 0]
        values.append(
            structural_similarity(
                xi,
                yi,
                data_range=1.0,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
                channel_axis=-1 if multichannel else None,
            )
        )
    return float(np.mean(values))


# ---------------------------------------------------------------------------
# Feature extractors (Keras)
# ---------------------------------------------------------------------------


def _check_images(images: Any) -> np.ndarray:
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:  # (N, H, W) grayscale
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C) (or (N, H, W)), got shape {x.shape}")
    if x.size and not np.isfinite(x).all():
        raise ValueError("images contain NaN or Inf")
    if x.size and (x.min() < -1.001 or x.max() > 1.001):
        raise ValueError(
            f"images must be float in [-1, 1]; got range [{x.min():.3g}, {x.max():.3g}]. "
            "Scale (e.g. x / 127.5 - 1) or clip them first."
        )
    return x


class FeatureExtractor:
    """Common interface: ``extractor(images) -> (N, D)`` float32 features.

    ``images`` are float32 in ``[-1, 1]`` with shape ``(N, H, W, C)``;
    subclasses implement :meth:`_extract` for one batch. ``name`` identifies
    the extractor in reports; ``batch_size`` is the number of images per
    forward pass.
    """

    name: str = "feature_extractor"
    feature_dim: int | None = None

    def __init__(self, batch_size: int = 64, name: str | None = None):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.batch_size = int(batch_size)
        if name is not None:
            self.name = name

    def _extract(self, batch: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _batched(self, images: Any, fn) -> np.ndarray:
        x = _check_images(images)
        outs = [np.asarray(fn(x[i : i + self.batch_size])) for i in range(0, len(x), self.batch_size)]
        if not outs:
            raise ValueError("no images given")
        return np.concatenate(outs, axis=0).astype(np.float32)

    def __call__(self, images: Any) -> np.ndarray:
        return self._batched(images, self._extract)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, batch_size={self.batch_size})"


def _match_input(x, height: int | None, width: int | None, channels: int | None):
    """Tile grayscale to RGB and bilinearly resize to the network's input size."""
    import tensorflow as tf

    x = tf.convert_to_tensor(x, dtype=tf.float32)
    c = x.shape[-1]
    if channels is not None and c != channels:
        if c == 1 and channels == 3:
            x = tf.tile(x, [1, 1, 1, 3])
        else:
            raise ValueError(f"images have {c} channels, the network expects {channels}")
    if height is not None and width is not None and tuple(x.shape[1:3]) != (height, width):
        x = tf.image.resize(x, (height, width), method="bilinear", antialias=False)
    return x


class InceptionFeatures(FeatureExtractor):
    """2048-d pool features of ``keras.applications.InceptionV3``.

    Images in ``[-1, 1]`` are what Keras' Inception preprocessing
    (``x / 127.5 - 1`` on ``[0, 255]``) produces, so they are fed unchanged
    after grayscale->RGB tiling and bilinear resizing to 299x299
    (``tf.image.resize``, no antialiasing). ``weights="imagenet"`` loads the
    Keras ImageNet weights (downloaded to / read from the Keras cache; unavailable
    offline), ``None`` gives a random network (for tests only), or a path to a
    weights file. With ``include_top=True`` the full classifier is built and
    :meth:`probabilities` returns the 1000-class softmax for the Inception Score
    (Keras' 1000-class head, not the 1008-class graph of the original IS code).
    """

    feature_dim = 2048

    def __init__(
        self,
        weights: str | None = "imagenet",
        batch_size: int = 32,
        include_top: bool = False,
        name: str | None = None,
    ):
        super().__init__(batch_size=batch_size)
        import keras

        self.weights = weights
        self.include_top = include_top
        base = keras.applications.InceptionV3(
            include_top=include_top,
            weights=weights,
            input_shape=(299, 299, 3),
            pooling="avg",
        )
        if include_top:
            pool = base.get_layer("avg_pool").output
            self._model = keras.Model(base.inputs, [pool, base.output], name="inception_v3_fp")
        else:
            self._model = base
        if weights is None:
            tag = "random-init"
        elif weights == "imagenet":
            tag = "imagenet"
        else:
            tag = str(weights).replace("\\", "/").rsplit("/", 1)[-1]
        self.name = name or f"keras-inception-v3/pool-2048/{tag}/bilinear-299"

    def _forward(self, batch: np.ndarray):
        x = _match_input(batch, 299, 299, 3)
        return self._model(x, training=False)

    def _extract(self, batch: np.ndarray) -> np.ndarray:
        out = self._forward(batch)
        if self.include_top:
            out = out[0]
        return np.asarray(out)

    def probabilities(self, images: Any) -> np.ndarray:
        """(N, 1000) ImageNet class probabilities (requires ``include_top=True``)."""
        if not self.include_top:
            raise ValueError("InceptionFeatures(include_top=True) is needed for probabilities")
        return self._batched(images, lambda b: np.asarray(self._forward(b)[1]))


class ClassifierFeatures(FeatureExtractor):
    """Features of any Keras classifier: a hidden layer plus its class probabilities.

    ``layer_name`` selects the feature layer; by default the layer named
    ``"features"`` if the model has one, otherwise the penultimate layer.
    Images are resized (bilinear) to the model's input size and grayscale is
    tiled to RGB if the model expects 3 channels. :meth:`probabilities` returns
    the model output (softmax applied when ``from_logits=True``), usable for
    the Inception Score and for class accuracy of conditional generators.
    The model must be functional (or a built Sequential with defined ``inputs``).
    """

    def __init__(
        self,
        model: keras.Model,
        layer_name: str | None = None,
        batch_size: int = 256,
        name: str | None = None,
        from_logits: bool = False,
    ):
        super().__init__(batch_size=batch_size)
        import keras

        if layer_name is None:
            names = [layer.name for layer in model.layers]
            layer_name = "features" if "features" in names else model.layers[-2].name
        layer = model.get_layer(layer_name)
        self.model = model
        self.layer_name = layer_name
        self.from_logits = from_logits
        self._model = keras.Model(model.inputs, [layer.output, model.outputs[0]])
        shape = tuple(model.inputs[0].shape)
        self._input_hwc = (shape[1], shape[2], shape[3]) if len(shape) == 4 else (None, None, None)
        self.feature_dim = int(np.prod(layer.output.shape[1:]))
        self.name = name or f"classifier:{model.name}/{layer_name}"

    def _forward(self, batch: np.ndarray):
        x = _match_input(batch, *self._input_hwc)
        feats, out = self._model(x, training=False)
        return np.asarray(feats).reshape(len(batch), -1), np.asarray(out)

    def _extract(self, batch: np.ndarray) -> np.ndarray:
        return self._forward(batch)[0]

    def probabilities(self, images: Any) -> np.ndarray:
        """(N, num_classes) class probabilities."""

        def probs(b):
            out = self._forward(b)[1].astype(np.float64)
            if self.from_logits:
                out = np.exp(out - out.max(axis=1, keepdims=True))
                out /= out.sum(axis=1, keepdims=True)
            return out

        return self._batched(images, probs)


def build_digits_classifier(image_size: int = 16, channels: int = 1, num_classes: int = 10) -> keras.Model:
    """Small CNN for digit images in ``[-1, 1]``: conv-conv-pool-conv-pool-dense(128)-softmax.

    The 128-unit ReLU layer is named ``"features"`` (used by
    :class:`ClassifierFeatures`); the output layer ``"probabilities"``. Compiled
    with Adam(1e-3) and sparse categorical cross-entropy.
    """
    import keras
    from keras import layers

    inputs = keras.Input((image_size, image_size, channels), name="images")
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Dense(128, activation="relu", name="features")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name=f"digits_cnn_{image_size}")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def build_feature_classifier(image_size: int = 28, channels: int = 1, num_classes: int = 10) -> keras.Model:
    """CNN with batch norm for 28-32 px images in ``[-1, 1]``: the domain classifier of Fashion-MNIST.

    Two blocks of (conv-BN-ReLU) x 2, max pooling and dropout 0.25 (32 then 64 filters), a 128-unit ReLU
    layer named ``"features"`` (the FID/KID/precision-recall features), dropout 0.5 and a softmax named
    ``"probabilities"``. Wider than :func:`build_digits_classifier` because the evaluation protocol asks
    for at least 92 % test accuracy on Fashion-MNIST (the small CNN reaches about 91 %).
    """
    import keras
    from keras import layers

    inputs = keras.Input((image_size, image_size, channels), name="images")
    x = inputs
    for filters in (32, 64):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", name="features")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name=f"feature_cnn_{image_size}")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train_classifier(
    images: Any,
    labels: Any,
    epochs: int = 15,
    seed: int = 0,
    batch_size: int = 32,
    validation_data: tuple[Any, Any] | None = None,
    verbose: int = 0,
    *,
    build: Callable[..., keras.Model] | None = None,
    lr_decay: float = 1.0,
) -> keras.Model:
    """Train ``build(image_size=, channels=, num_classes=)`` (default :func:`build_digits_classifier`) on
    caller-provided ``images`` in ``[-1, 1]`` (``(N, S, S, C)`` or ``(N, S, S)``) and integer ``labels``.

    ``lr_decay`` multiplies the learning rate after every epoch (1: constant). Seeds Python/numpy/TF with
    ``keras.utils.set_random_seed(seed)``. Returns the trained model (its ``history`` attribute holds the
    training curves).
    """
    import keras

    x = _check_images(images)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} images but {len(y)} labels")
    if x.shape[1] != x.shape[2]:
        raise ValueError(f"images must be square, got {x.shape[1:3]}")
    keras.utils.set_random_seed(seed)
    build = build or build_digits_classifier
    model = build(image_size=x.shape[1], channels=x.shape[3], num_classes=max(10, int(y.max()) + 1))
    if validation_data is not None:
        validation_data = (_check_images(validation_data[0]), np.asarray(validation_data[1]))
    initial = float(model.optimizer.learning_rate)
    callbacks = [] if lr_decay == 1.0 else [keras.callbacks.LearningRateScheduler(lambda e: initial * lr_decay**e)]
    model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        validation_data=validation_data,
        verbose=verbose,
        callbacks=callbacks,
    )
    return model


def train_digits_classifier(
    images: Any,
    labels: Any,
    epochs: int = 15,
    seed: int = 0,
    batch_size: int = 32,
    validation_data: tuple[Any, Any] | None = None,
    verbose: int = 0,
) -> keras.Model:
    """:func:`train_classifier` with :func:`build_digits_classifier` (the digits classifier's recipe)."""
    return train_classifier(images, labels, epochs, seed, batch_size, validation_data, verbose)


# ---------------------------------------------------------------------------
# High-level entry point
# ---------------------------------------------------------------------------

_KNOWN_METRICS = ("fid", "kid", "pr", "dc", "is")


def evaluate(
    real_images: Any,
    fake_images: Any,
    extractor: FeatureExtractor,
    metrics: Sequence[str] = ("fid", "kid", "pr", "dc"),
    *,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    pr_k: int = 3,
    dc_k: int = 5,
    is_splits: int = 10,
    seed: int = 0,
) -> dict:
    """Extract features with ``extractor`` and compute the requested metrics.

    ``metrics`` from ``"fid"``, ``"kid"``, ``"pr"`` (precision/recall, k=pr_k),
    ``"dc"`` (density/coverage, k=dc_k) and ``"is"`` (Inception Score of the
    fake images; needs ``extractor.probabilities``). Images are float32 in
    ``[-1, 1]``, ``(N, H, W, C)``. Returns plain Python numbers plus the
    protocol: ``extractor`` (name), ``feature_dim``, ``n_real``, ``n_fake`` and
    the parameters of each metric (``kid_subsets``, ``kid_subset_size`` (after
    clipping), ``pr_k``, ``dc_k``, ``is_splits``, ``seed``).
    """
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in _KNOWN_METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {_KNOWN_METRICS}")
    real_feats = np.asarray(extractor(real_images), dtype=np.float64)
    fake_feats = np.asarray(extractor(fake_images), dtype=np.float64)
    result: dict[str, Any] = {
        "extractor": extractor.name,
        "feature_dim": int(real_feats.shape[1]),
        "n_real": int(real_feats.shape[0]),
        "n_fake": int(fake_feats.shape[0]),
        "seed": int(seed),
    }
    if "fid" in metrics:
        result["fid"] = fid(real_feats, fake_feats)
    if "kid" in metrics:
        result["kid"], result["kid_std"] = kid(
            real_feats, fake_feats, num_subsets=kid_subsets, subset_size=kid_subset_size, seed=seed
        )
        result["kid_subsets"] = int(kid_subsets)
        result["kid_subset_size"] = int(min(kid_subset_size, len(real_feats), len(fake_feats)))
    if "pr" in metrics:
        result["precision"], result["recall"] = precision_recall(real_feats, fake_feats, k=pr_k)
        result["pr_k"] = int(pr_k)
    if "dc" in metrics:
        result["density"], result["coverage"] = density_coverage(real_feats, fake_feats, k=dc_k)
        result["dc_k"] = int(dc_k)
    if "is" in metrics:
        if not hasattr(extractor, "probabilities"):
            raise ValueError(f"extractor {extractor.name!r} has no probabilities() for 'is'")
        probs = extractor.probabilities(fake_images)
        result["inception_score"], result["inception_score_std"] = inception_score(probs, splits=is_splits)
        result["is_splits"] = int(is_splits)
    return result
