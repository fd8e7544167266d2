import numpy as np
import pytest

from ganzoo.objectives import losses

ALL = sorted(losses.LOSSES)


@pytest.mark.parametrize("name", ALL)
def test_losses_are_finite_for_extreme_logits(name):
    loss = losses.get(name)
    for value in (-1e4, -50.0, 0.0, 50.0, 1e4):
        logits = np.full((4, 1), value, np.float32)
        assert np.isfinite(float(loss.d(logits, logits))), (name, value)
        assert np.isfinite(float(loss.g(logits, logits))), (name, value)  # real logits: read by relativistic only


@pytest.mark.parametrize("name", ALL)
def test_discriminator_loss_rewards_separating_real_from_fake(name):
    loss = losses.get(name)
    good = float(loss.d(np.full((4, 1), 3.0, np.float32), np.full((4, 1), -3.0, np.float32)))
    bad = float(loss.d(np.full((4, 1), -3.0, np.float32), np.full((4, 1), 3.0, np.float32)))
    assert good < bad


@pytest.mark.parametrize("name", ALL)
def test_generator_loss_rewards_fooling_the_discriminator(name):
    loss = losses.get(name)
    real = np.zeros((4, 1), np.float32)  # read by the relativistic loss only
    assert float(loss.g(np.full((4, 1), 3.0, np.float32), real)) < float(
        loss.g(np.full((4, 1), -3.0, np.float32), real)
    )


def test_known_values():
    zero = np.zeros((3, 1), np.float32)
    log2 = np.log(2.0)
    assert float(losses.get("non_saturating").d(zero, zero)) == pytest.approx(2 * log2, rel=1e-6)
    assert float(losses.get("non_saturating").g(zero)) == pytest.approx(log2, rel=1e-6)
    assert float(losses.get("minimax").g(zero)) == pytest.approx(-log2, rel=1e-6)
    assert float(losses.get("least_squares").d(zero, zero)) == pytest.approx(0.5)
    assert float(losses.get("hinge").d(zero, zero)) == pytest.approx(2.0)
    x = np.array([[1.0], [3.0]], np.float32)
    assert float(losses.get("wasserstein").d(x, -x)) == pytest.approx(-4.0)
    # Minimax and non-saturating G losses at a huge logit: softplus keeps them exact, not inf/nan.
    assert float(losses.get("non_saturating").g(np.full((1, 1), -100.0, np.float32))) == pytest.approx(100.0)


def test_one_sided_label_smoothing_changes_only_the_real_target():
    real = np.full((2, 1), 5.0, np.float32)
    fake = np.full((2, 1), -5.0, np.float32)
    loss = losses.get("non_saturating")
    assert float(loss.d(real, fake, real_target=0.9)) > float(loss.d(real, fake))


def test_unknown_loss_suggests_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'hinge'"):
        losses.get("hinge_loss")
