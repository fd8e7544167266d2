"""WGAN-GP and SNGAN: DCGAN networks with the defaults that define each method.

Both are DCGAN subclasses that only change constructor and ``compile`` defaults;
every default can still be overridden (``create("wgan_gp", d_steps=1)``,
``model.compile(loss="hinge")``).

* ``wgan_gp`` (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs"):
  Wasserstein critic loss with a gradient penalty of weight lambda = 10, n_critic = 5
  critic steps per generator step, Adam(alpha=1e-4, beta_1=0, beta_2=0.9) (the
  paper's Algorithm 1), and no batch normalization in the critic (the penalty is per
  sample; the paper recommends layer normalization): ``d_norm="layer"``, which normalizes
  each sample over C, H and W with a per-channel scale and offset, as the official code does.
* ``sngan`` (Miyato et al. 2018, "Spectral Normalization for GANs"): spectral
  normalization on every discriminator layer and no other normalization in D, hinge
  loss, one D step per G step with Adam(2e-4, beta_1=0.5, beta_2=0.999): the paper's
  standard-CNN setting C (Table 1), which pairs n_dis = 1 with those betas. Its ResNet
  runs pair n_dis = 5 with Adam(2e-4, beta_1=0, beta_2=0.9): pass ``d_steps=5`` and
  those optimizers to ``compile``.
"""

from __future__ import annotations

import keras

from ganzoo.models.dcgan import DCGAN
from ganzoo.registry import register_architecture


@register_architecture("wgan_gp")
@keras.saving.register_keras_serializable(package="ganzoo")
class WGANGP(DCGAN):
    """DCGAN trained as a WGAN-GP critic/generator pair.

    Args (defaults differ from DCGAN's):
        gp_weight: gradient-penalty weight lambda (10).
        d_steps: critic updates per generator update, n_critic (5).
        d_norm: critic normalization, "layer" or "none"; "batch" is refused because
            batch statistics couple the samples whose per-sample gradient is penalised.
        weight_init: "glorot" (the official tflib code's uniform fan-in/fan-out initialization).

    ``compile()`` defaults: loss "wasserstein", Adam(1e-4, beta_1=0.0, beta_2=0.9) for both networks.
    """

    default_loss = "wasserstein"

    def __init__(
        self, gp_weight: float = 10.0, d_steps: int = 5, d_norm: str = "layer", weight_init: str = "glorot", **kwargs
    ):
        if d_norm == "batch":
            raise ValueError(
                "wgan_gp's critic must not use batch normalization (the gradient penalty is per sample; "
                "Gulrajani et al. 2017, section 4): use d_norm='layer' or 'none'."
            )
        super().__init__(gp_weight=gp_weight, d_steps=d_steps, d_norm=d_norm, weight_init=weight_init, **kwargs)

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        return keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9)


@register_architecture("sngan")
@keras.saving.register_keras_serializable(package="ganzoo")
class SNGAN(DCGAN):
    """DCGAN with a spectrally normalized discriminator trained with the hinge loss.

    Args (defaults differ from DCGAN's):
        spectral_norm: spectral normalization on D's layers (True).
        d_norm: no other normalization in D ("none").

    ``compile()`` defaults: loss "hinge", Adam(2e-4, beta_1=0.5, beta_2=0.999) for both networks
    (setting C of the paper, the one for ``d_steps=1``).
    """

    default_loss = "hinge"

    def __init__(self, spectral_norm: bool = True, d_norm: str = "none", **kwargs):
        super().__init__(spectral_norm=spectral_norm, d_norm=d_norm, **kwargs)

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        return keras.optimizers.Adam(2e-4, beta_1=0.5, beta_2=0.999)
