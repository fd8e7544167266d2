"""One module per architecture; importing this package registers them all."""

from ganzoo.architectures import cgan, dcgan, vanilla_gan  # noqa: F401
from ganzoo.architectures import cyclegan, pix2pix, srgan  # noqa: F401
from ganzoo.architectures import wgan  # noqa: F401  (wgan_gp, sngan)
from ganzoo.architectures import progan, stylegan  # noqa: F401
