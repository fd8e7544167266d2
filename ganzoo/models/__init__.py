"""The GAN families: one base (:mod:`ganzoo.models.base`), one module per variant.

Importing this package registers every built-in architecture (with ganzoo's registry and
with Keras' serialization), so ``create`` and ``keras.saving.load_model`` find them.
"""

from __future__ import annotations

from ganzoo import registry
from ganzoo.models import (  # noqa: F401
    cgan,
    cyclegan,
    dcgan,
    pix2pix,
    progan,
    srgan,
    stylegan,
    vanilla_gan,
    wgan,
)
from ganzoo.models.base import GAN
from ganzoo.models.image_to_image import ImageToImageGAN

__all__ = ["GAN", "ImageToImageGAN", "architecture_class", "create", "list_architectures"]


def list_architectures(pattern: str | None = None) -> list[str]:
    """Names of the registered architectures, optionally filtered by a glob pattern."""
    return registry.registered(pattern)


def architecture_class(name: str) -> type[GAN]:
    """The class of architecture ``name`` (an unknown name lists the valid ones)."""
    return registry.lookup(name)


def create(name: str, **config) -> GAN:
    """Build an uncompiled model of architecture ``name``; ``config`` goes to its constructor."""
    return architecture_class(name)(**config)
