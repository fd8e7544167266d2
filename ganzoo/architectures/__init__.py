"""One module per architecture; importing this package registers them all."""

from ganzoo.architectures import (  # noqa: F401  # noqa: F401  # noqa: F401
    cgan,
    cyclegan,
    dcgan,
    pix2pix,
    progan,
    srgan,
    stylegan,
    vanilla_gan,
    wgan,  # noqa: F401  (wgan_gp, sngan)
)
