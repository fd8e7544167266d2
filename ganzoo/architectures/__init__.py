"""One module per architecture; importing this package registers them all."""

from ganzoo.architectures import cgan, dcgan, vanilla_gan  # noqa: F401
