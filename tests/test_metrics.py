"""Tests for ganzoo.metrics: closed forms, brute-force references and known cases."""

from __future__ import annotations

import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from ganzoo.evaluation import metrics as M


def _random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


# --------------------------------------------------------------------------- FD / FID


def test_frechet_distance_diagonal_closed_form():
    rng = np.random.default_rng(0)
    d = 16
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = rng.uniform(0.1, 3.0, size=d), rng.uniform(0.1, 3.0, size=d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    got = M.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2))
    assert isinstance(got, float)
    assert abs(got - expected) <= 1e-6 * abs(expected)


@pytest.mark.parametrize("d", [3, 32])
def test_frechet_distance_full_covariance_vs_eigendecomposition(d):
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = _random_spd(rng, d), _random_spd(rng, d)
    # Independent float64 route: Tr sqrt(s1 s2) = Tr sqrt(s1^1/2 s2 s1^1/2), symmetric PSD.
    r1 = _sqrt_psd(s1)
    inner = r1 @ s2 @ r1
    tr_covmean = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_covmean
    got = M.frechet_distance(mu1, s1, mu2, s2)
    assert abs(got - expected) <= 1e-6 * abs(expected)
    # symmetric in its arguments
    assert M.frechet_distance(mu2, s2, mu1, s1) == pytest.approx(got, rel=1e-6)


def test_frechet_distance_singular_covariance_is_finite_and_invalid_raises():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 6))  # rank-2 covariance in 6-D
    y = rng.normal(size=(3, 6)) + 1.0
    mu1, s1 = M.feature_statistics(x)
    mu2, s2 = M.feature_statistics(y)
    with pytest.warns(RuntimeWarning):  # fewer samples than dimensions
        value = M.fid(x, y)
    assert np.isfinite(value)
    assert value == pytest.approx(M.frechet_distance(mu1, s1, mu2, s2))
    # A negative-definite "covariance" has a purely imaginary square root: must raise.
    with pytest.raises(ValueError, match="imaginary"):
        M.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), -np.eye(3))
    with pytest.raises(ValueError):
        M.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_fid_self_is_zero_and_shift_gives_squared_norm():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20000, 4))
    assert abs(M.fid(x, x)) < 1e-8
    shift = np.array([1.0, 0.5, 0.0, -1.0])  # |shift|^2 = 2.25
    y = rng.normal(size=(20000, 4)) + shift
    assert M.fid(x, y) == pytest.approx(2.25, abs=0.08)
    # a scaled distribution: FD = sum (1 + 4 - 2*2) = D
    z = 2.0 * rng.normal(size=(20000, 4))
    assert M.fid(x, z) == pytest.approx(4.0, abs=0.15)


# --------------------------------------------------------------------------- KID


def _brute_force_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    m, d = x.shape
    n = y.shape[0]

    def k(a, b):
        return (float(np.dot(a, b)) / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_matches_brute_force_unbiased_mmd():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(25, 5))
    y = rng.normal(size=(25, 5)) * 1.3 + 0.4
    mean, std = M.kid(x, y, num_subsets=1, subset_size=1000)
    assert mean == pytest.approx(_brute_force_mmd2(x, y), rel=1e-10)
    assert std == 0.0
    # every subset is the whole (permuted) set: all equal
    mean3, std3 = M.kid(x, y, num_subsets=3, subset_size=25)
    assert mean3 == pytest.approx(mean, rel=1e-10) and std3 == pytest.approx(0.0, abs=1e-12)


def test_kid_identical_distributions_near_zero_and_shift_positive():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, 8))
    y = rng.normal(size=(1000, 8))
    mean, std = M.kid(x, y, num_subsets=50, subset_size=200)
    assert std > 0
    assert abs(mean) < 3 * std
    mean_s, std_s = M.kid(x, y + 1.0, num_subsets=50, subset_size=200)
    assert mean_s > 0.1 and mean_s > 10 * std_s
    # deterministic given the seed
    assert M.kid(x, y, num_subsets=5, subset_size=100, seed=3) == M.kid(x, y, num_subsets=5, subset_size=100, seed=3)


def test_kid_std_is_spread_of_single_subset_estimates():
    # The second value is the std of one-subset estimates (reference convention),
    # not the much smaller standard error of their mean.
    rng = np.random.default_rng(2)
    m, d = 100, 4
    x = rng.normal(size=(5000, d))
    y = rng.normal(size=(5000, d)) + 0.2
    _, std = M.kid(x, y, num_subsets=60, subset_size=m, seed=0)
    independent = [M.kid(rng.normal(size=(m, d)), rng.normal(size=(m, d)) + 0.2, num_subsets=1)[0] for _ in range(60)]
    ref = np.std(independent)
    assert 0.6 * ref < std < 1.6 * ref


# --------------------------------------------------------------------------- IS


def test_inception_score_known_values():
    c = 10
    onehot = np.tile(np.eye(c), (20, 1))  # confident and perfectly diverse
    mean, std = M.inception_score(onehot, splits=10)
    assert mean == pytest.approx(c, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)
    same = np.tile(np.eye(c)[3], (200, 1))  # confident but collapsed
    assert M.inception_score(same, splits=5)[0] == pytest.approx(1.0)
    uniform = np.full((200, c), 1.0 / c)  # diverse marginal but unconfident
    assert M.inception_score(uniform, splits=5)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        M.inception_score(np.ones((20, c)), splits=2)


# --------------------------------------------------------------------------- PR / DC


# 10 well-separated modes on a 5x2 grid in the plane (2-D, so k-NN balls cover each mode well)
_CENTRES = 10.0 * np.stack(np.meshgrid(np.arange(5), np.arange(2)), -1).reshape(-1, 2).astype(float)


def _clusters(rng, centres, n_per, std=0.05):
    return np.concatenate([c + std * rng.normal(size=(n_per, centres.shape[1])) for c in centres])


def _naive_pr(real, fake, k):
    r_real = np.sort(cdist(real, real), axis=1)[:, k]
    r_fake = np.sort(cdist(fake, fake), axis=1)[:, k]
    precision = np.mean(np.any(cdist(fake, real) <= r_real[None, :], axis=1))
    recall = np.mean(np.any(cdist(real, fake) <= r_fake[None, :], axis=1))
    return precision, recall


def _naive_dc(real, fake, k):
    r = np.sort(cdist(real, real), axis=1)[:, k]
    d = cdist(real, fake)
    density = (d < r[:, None]).sum() / (k * fake.shape[0])
    coverage = np.mean(d.min(axis=1) < r)
    return density, coverage


def test_precision_recall_matches_naive_and_is_batch_invariant():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 6))
    fake = rng.normal(size=(250, 6)) * 1.2 + 0.3
    expected = _naive_pr(real, fake, 3)
    assert M.precision_recall(real, fake, k=3) == pytest.approx(expected, abs=1e-12)
    assert M.precision_recall(real, fake, k=3, batch_size=7) == pytest.approx(expected, abs=1e-12)
    assert 0.0 < expected[0] < 1.0 and 0.0 < expected[1] < 1.0


def test_precision_recall_known_cases():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 8))
    assert M.precision_recall(x, x) == (1.0, 1.0)
    assert M.precision_recall(x, x + 100.0) == (0.0, 0.0)
    real = _clusters(rng, _CENTRES, 100)
    fake = _clusters(rng, _CENTRES[:5], 200)  # covers only half of the modes
    precision, recall = M.precision_recall(real, fake, k=3)
    assert precision > 0.93
    assert 0.43 < recall <= 0.5


def test_manifold_boundary_conventions_follow_reference_code():
    # 1-D points 0,1,2,3 with k=1: every radius is exactly 1; a fake point at 4 lies
    # exactly on the boundary of the ball around 3. Kynkaanniemi et al. count it
    # (<=), Naeem et al.'s prdc does not (<).
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    fake = np.array([[4.0], [5.0]])
    precision, _ = M.precision_recall(real, fake, k=1)
    assert precision == 0.5
    density, coverage = M.density_coverage(real, fake, k=1)
    assert density == 0.0 and coverage == 0.0


def test_density_coverage_matches_naive_and_known_cases():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 6))
    fake = rng.normal(size=(250, 6)) * 1.2 + 0.3
    expected = _naive_dc(real, fake, 5)
    assert M.density_coverage(real, fake, k=5) == pytest.approx(expected, abs=1e-12)
    assert M.density_coverage(real, fake, k=5, batch_size=11) == pytest.approx(expected, abs=1e-12)
    # identical sets: each ball holds itself + k-1 others strictly inside -> density exactly 1
    assert M.density_coverage(real, real, k=5) == pytest.approx((1.0, 1.0), abs=1e-12)
    # independent sample of the same distribution
    other = rng.normal(size=(300, 6))
    density, coverage = M.density_coverage(real, other, k=5)
    assert 0.75 < density < 1.25 and coverage > 0.85
    assert M.density_coverage(real, real + 100.0) == (0.0, 0.0)
    real_c = _clusters(rng, _CENTRES, 100)
    fake_c = _clusters(rng, _CENTRES[:5], 200)
    density, coverage = M.density_coverage(real_c, fake_c, k=5)
    assert 0.85 < density < 1.2
    assert 0.45 < coverage <= 0.5


# --------------------------------------------------------------------------- modes


def _ring(k=8, radius=2.0):
    angles = 2 * np.pi * np.arange(k) / k
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def test_mode_statistics_known_cases():
    rng = np.random.default_rng(0)
    modes, std = _ring(), 0.02
    idx = rng.integers(0, 8, size=2500)
    perfect = modes[idx] + std * rng.normal(size=(2500, 2))
    s = M.mode_statistics(perfect, modes, std)
    assert s["modes_covered"] == 8 and s["num_modes"] == 8
    # within 3 std in 2-D: 1 - exp(-4.5) = 0.989
    assert s["high_quality_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert 0.0 <= s["reverse_kl"] < 0.01
    assert sum(s["mode_counts"]) == round(s["high_quality_fraction"] * 2500)

    two = modes[rng.integers(0, 2, size=2500)] + std * rng.normal(size=(2500, 2))
    s2 = M.mode_statistics(two, modes, std)
    assert s2["modes_covered"] == 2
    assert s2["reverse_kl"] == pytest.approx(math.log(4), abs=0.01)

    far = rng.uniform(-100, 100, size=(2500, 2))
    s3 = M.mode_statistics(far, modes, std)
    assert s3["high_quality_fraction"] < 0.01 and s3["modes_covered"] == 0


def test_mode_statistics_min_count_rule():
    modes, std = _ring(), 0.1
    pts = np.concatenate([np.repeat(modes[:1], 20, axis=0), np.repeat(modes[1:2], 19, axis=0)])
    s = M.mode_statistics(pts, modes, std)  # default min_count=20
    assert s["modes_covered"] == 1
    assert M.mode_statistics(pts, modes, std, min_count=19)["modes_covered"] == 2
    assert s["high_quality_fraction"] == 1.0
    # a point just outside 3 std is not high quality
    out = modes[:1] + np.array([[3.01 * std, 0.0]])
    assert M.mode_statistics(out, modes, std)["high_quality_fraction"] == 0.0
    assert math.isnan(M.mode_statistics(out, modes, std)["reverse_kl"])


# --------------------------------------------------------------------------- PSNR / SSIM


def test_rgb_to_y_bt601():
    colors = np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.2, 0.5, 0.7]])
    y = M.rgb_to_y(colors)
    expected = [(16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255 for r, g, b in colors]
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)
    assert y[0] == pytest.approx(16 / 255) and y[1] == pytest.approx(235 / 255)


def test_psnr_ssim_identical_and_known_mse():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, size=(3, 24, 24, 3))
    assert M.psnr(a, a, data_range=1.0) == math.inf
    assert M.ssim(a, a, data_range=1.0) == pytest.approx(1.0, abs=1e-12)
    a = 0.9 * a
    b = a + 0.1  # MSE = 0.01 -> 20 dB
    assert M.psnr(a, b, data_range=1.0, channel="rgb") == pytest.approx(20.0, abs=1e-9)
    # same in 8-bit units and for [-1, 1] images
    assert M.psnr(255 * a, 255 * b, data_range=255, channel="rgb") == pytest.approx(20.0, abs=1e-9)
    assert M.psnr(2 * a - 1, 2 * b - 1, channel="rgb") == pytest.approx(20.0, abs=1e-9)
    # Y channel: a constant RGB offset of 0.1 is a Y offset of 0.1 * 219 / 255
    c = np.full((2, 16, 16, 3), 0.3)
    expected_y = -20 * math.log10(0.1 * (65.481 + 128.553 + 24.966) / 255)
    assert M.psnr(c, c + 0.1, data_range=1.0, channel="y") == pytest.approx(expected_y, abs=1e-9)


def test_psnr_ssim_y_channel_matches_manual_conversion():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    a = rng.uniform(0, 255, size=(2, 20, 20, 3))
    b = np.clip(a + rng.normal(0, 20, size=a.shape), 0, 255)
    ya = 16 + a[..., 0] * 65.481 / 255 + a[..., 1] * 128.553 / 255 + a[..., 2] * 24.966 / 255
    yb = 16 + b[..., 0] * 65.481 / 255 + b[..., 1] * 128.553 / 255 + b[..., 2] * 24.966 / 255
    mse = np.mean((ya - yb) ** 2, axis=(1, 2))
    assert M.psnr(a, b, data_range=255) == pytest.approx(np.mean(10 * np.log10(255**2 / mse)))
    ref = np.mean(
        [
            structural_similarity(
                ya[i],
                yb[i],
                data_range=255,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
            )
            for i in range(2)
        ]
    )
    assert M.ssim(a, b, data_range=255) == pytest.approx(ref, abs=1e-10)
    assert M.ssim(a, b, data_range=255) < 0.99
    # rgb mode differs from y mode
    assert M.psnr(a, b, data_range=255, channel="rgb") != pytest.approx(M.psnr(a, b, data_range=255))


def test_psnr_ssim_crop_border():
    rng = np.random.default_rng(2)
    a = rng.uniform(-1, 1, size=(2, 32, 32, 3))
    b = a.copy()
    b[:, :4] = rng.uniform(-1, 1, size=b[:, :4].shape)  # top border rows differ
    b[:, :, -4:] = 0.0  # right border columns differ
    assert math.isfinite(M.psnr(a, b))
    assert M.ssim(a, b) < 1.0
    assert M.psnr(a, b, crop_border=4) == math.inf
    assert M.ssim(a, b, crop_border=4) == pytest.approx(1.0, abs=1e-12)
    assert math.isfinite(M.psnr(a, b, crop_border=3))
    with pytest.raises(ValueError):
        M.psnr(a, b, crop_border=16)


# --------------------------------------------------------------------------- Keras parts


@pytest.fixture(scope="module")
def digits():
    import tensorflow as tf
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.images[..., None].astype("float32") / 16.0
    x = tf.image.resize(x, (16, 16), method="bilinear").numpy() * 2.0 - 1.0
    x = np.clip(x, -1.0, 1.0)
    return train_test_split(x, d.target, test_size=0.25, random_state=0, stratify=d.target)


@pytest.mark.slow
def test_digits_classifier_trains_above_95_percent(digits):
    x_train, x_test, y_train, y_test = digits
    model = M.train_digits_classifier(x_train, y_train, seed=0)
    extractor = M.ClassifierFeatures(model)
    probs = extractor.probabilities(x_test)
    accuracy = np.mean(probs.argmax(axis=1) == y_test)
    assert accuracy > 0.95, accuracy


def test_classifier_features_shapes_and_resizing(digits):
    x_train = digits[0][:40]
    model = M.build_digits_classifier(image_size=16)
    ext = M.ClassifierFeatures(model, batch_size=16)
    assert ext.layer_name == "features" and ext.feature_dim == 128
    assert "features" in ext.name
    feats = ext(x_train)
    assert feats.shape == (40, 128) and feats.dtype == np.float32
    probs = ext.probabilities(x_train)
    assert probs.shape == (40, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # batching does not change the result; other sizes are resized to the input
    np.testing.assert_allclose(M.ClassifierFeatures(model, batch_size=40)(x_train), feats, atol=1e-5)
    small = x_train[:, ::2, ::2]
    assert ext(small).shape == (40, 128)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        ext(255.0 * (x_train + 1.0))


def test_inception_features_shapes_without_weights():
    ext = M.InceptionFeatures(weights=None, batch_size=2)
    images = np.random.default_rng(0).uniform(-1, 1, size=(3, 8, 8, 1)).astype("float32")
    feats = ext(images)  # grayscale -> RGB, resized to 299x299, two batches
    assert feats.shape == (3, 2048) and feats.dtype == np.float32
    assert np.isfinite(feats).all()
    assert "random-init" in ext.name
    with pytest.raises(ValueError):
        ext.probabilities(images)


def test_evaluate_returns_protocol_fields(digits):
    x = digits[0]
    real, fake = x[:200], x[200:400]
    ext = M.ClassifierFeatures(M.build_digits_classifier(image_size=16))
    res = M.evaluate(
        real, fake, ext, metrics=("fid", "kid", "pr", "dc", "is"), kid_subsets=10, kid_subset_size=100, is_splits=2
    )
    for key in [
        "extractor",
        "n_real",
        "n_fake",
        "fid",
        "kid",
        "kid_std",
        "precision",
        "recall",
        "density",
        "coverage",
        "inception_score",
        "inception_score_std",
        "pr_k",
        "dc_k",
        "kid_subset_size",
        "feature_dim",
    ]:
        assert key in res, key
    assert res["extractor"] == ext.name
    assert (res["n_real"], res["n_fake"], res["feature_dim"]) == (200, 200, 128)
    assert res["kid_subset_size"] == 100
    for key, value in res.items():
        if key != "extractor":
            assert isinstance(value, (int, float)) and math.isfinite(value), key
    # same features as the functions on the extracted arrays
    fr, ff = ext(real).astype(np.float64), ext(fake).astype(np.float64)
    assert res["fid"] == pytest.approx(M.fid(fr, ff))
    assert (res["precision"], res["recall"]) == pytest.approx(M.precision_recall(fr, ff, k=3))
    same = M.evaluate(real, real, ext, metrics=("fid", "pr"))
    assert abs(same["fid"]) < 1e-6 and (same["precision"], same["recall"]) == (1.0, 1.0)
    assert "kid" not in same
    with pytest.raises(ValueError):
        M.evaluate(real, fake, ext, metrics=("fid", "lpips"))
