"""ganzoo: a Keras model zoo of generative adversarial networks.

    import ganzoo
    model = ganzoo.create("dcgan", image_shape=(16, 16, 1))
    model.compile()
    model.fit(ganzoo.data.load("digits", batch_size=64), epochs=5)
    images = model.generate(16, seed=0)   # uint8, (16, 16, 16, 1)
"""

from ganzoo import architectures, losses  # noqa: F401  (architectures registers the variants)
from ganzoo.base import GAN
from ganzoo.registry import create, list_architectures, register_architecture

__version__ = "0.1.0"

__all__ = ["GAN", "create", "list_architectures", "register_architecture", "data", "losses", "__version__"]
