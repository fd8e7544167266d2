"""Learning tests: a model must actually learn, not just run (CPU-sized)."""

import keras
import numpy as np
import pytest

import ganzoo
from ganzoo.data import datasets as data


def _near_modes(points, modes, radius=0.2):
    distances = np.linalg.norm(points[:, None, :] - modes[None], axis=-1)
    near = distances.min(axis=1) < radius
    return near.mean(), len(set(distances.argmin(axis=1)[near]))


@pytest.mark.slow
def test_vanilla_gan_learns_the_ring_of_gaussians():
    """LSGAN at lr 1e-3 (the stability study's setting): 8/8 modes, 84-91 % of samples on a mode at seeds 0-2.

    At lr 2e-4 the same run covered only 3 of 8 modes at seed 0: too slow for 2,500 steps.
    """
    keras.utils.set_random_seed(0)
    modes, _ = data.mixture_modes("ring8")
    dataset = data.load("ring8", batch_size=256, seed=0, num_samples=256 * 100)
    model = ganzoo.create("vanilla_gan", data_shape=(2,), latent_dim=16, hidden_units=(128, 128, 128), seed=0)
    model.compile(
        g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        loss="least_squares",
    )
    before, _ = _near_modes(model.generate(2000, seed=1), modes)
    model.fit(dataset, epochs=25, verbose=0)  # 2,500 steps, ~20 s on 2 cores
    after, covered = _near_modes(model.generate(2000, seed=1), modes)
    # Spacing between neighbouring modes is 1.53, so "within 0.2" means "on a mode".
    assert before < 0.05
    assert after > 0.7, f"only {after:.0%} of samples near a mode"
    assert covered >= 6, f"only {covered} of 8 modes covered"
