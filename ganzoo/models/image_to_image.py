"""``ImageToImageGAN``: the base of pix2pix, cyclegan and srgan, whose generators map images to images.

Datasets yield ``(source, target)`` pairs, ``model(images)`` is the inference translation,
:meth:`ImageToImageGAN.translate` maps uint8 or [-1, 1] images of any size, and
:meth:`ImageToImageGAN.export_endpoints` names the generators an exporter must write.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ganzoo.models.base import GAN, IMAGE_POSTPROCESSING, ServingGraph
from ganzoo.utils.images import match_channels, run_padded, to_model_range, to_uint8


class ImageToImageGAN(GAN):
    """Base of the image-conditioned variants: the generator maps an image, not a latent vector.

    * datasets yield ``(source, target)`` batches (``ganzoo.image_tasks`` builds them);
    * ``model(images)`` is the inference forward pass of the (EMA) generator;
    * :meth:`translate` maps uint8 or [-1, 1] images of any size and returns uint8 (or float);
    * :meth:`export_endpoints` lists ``{name: generator}`` for exporters, each taking ``image``
      (N, H, W, C) with dynamic H and W and returning one image.

    ``latent_dim`` is inherited from :class:`ganzoo.GAN` and unused; ``num_classes`` is refused.
    """

    supports_relativistic = False  # its G steps pair no real batch with the fakes

    requires_labels = False
    data_kind = "pairs"  # fit() data: (source, target)
    source_channels: int
    output_scale = 1  # output size / input size

    def __init__(self, **kwargs):
        if kwargs.get("num_classes") is not None:
            raise ValueError(f"{type(self).__name__} is conditioned on images, not classes: leave num_classes unset.")
        super().__init__(**kwargs)

    # -------------------------------------------------------------- data
    def unpack_batch(self, data):
        """``(source, target)`` from a dataset element."""
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise ValueError(
                f"{type(self).__name__} trains on (source, target) pairs: the dataset must yield 2-tuples of image "
                "batches (see ganzoo.image_tasks.load_pairs / load_unpaired)."
            )
        return data[0], data[1]

    # -------------------------------------------------------------- inference
    @property
    def size_multiple(self) -> int:
        """Input sides must be multiples of this (the generator's total stride); translate() pads for you."""
        return 1

    def export_endpoints(self) -> dict[str, keras.Model]:
        """``{endpoint name: inference generator}``; the first is the default (``call``)."""
        return {"translate": self.inference_generator}

    def call(self, inputs, training: bool = False):
        return self.inference_generator(inputs, training=training)

    # -------------------------------------------------------------- export
    export_kind = "image_to_image"

    def serving_graphs(self) -> dict[str, ServingGraph]:
        """One graph per endpoint: ``image`` (N, H, W, C), with N, H and W dynamic, -> ``output``."""
        graphs = {}
        for name, network in self.export_endpoints().items():
            spec = tf.TensorSpec((None, None, None, int(network.inputs[0].shape[-1])), tf.float32, name="image")
            describe = {
                "image": {
                    "range": [-1.0, 1.0],
                    "layout": "NHWC",
                    "constraint": f"height and width multiples of {self.size_multiple}",
                }
            }
            graphs[name] = ServingGraph([spec], _inference(network), "output", network, describe)
        return graphs

    def serving_metadata(self) -> dict[str, Any]:
        return {
            "image_shape": [int(s) for s in self.image_shape],
            "size_multiple": int(self.size_multiple),
            "scale": int(self.output_scale),
            "receptive_radius": getattr(self, "receptive_radius", None),
            "output": {"kind": "image", "layout": "NHWC", "range": [-1.0, 1.0], "postprocessing": IMAGE_POSTPROCESSING},
            "preprocessing": "uint8 x -> x / 127.5 - 1; sides reflect-padded to multiples of size_multiple, "
            "output cropped to the input size times scale",
        }

    def export_examples(self, graph: str, seed: int = 0) -> list[dict[str, np.ndarray]]:
        """Batch 1 at the training patches' size and batch 3 at a larger, non-square one (dynamic height and width).

        Not smaller than the training patches: instance norm over a tiny bottleneck (2 x 2 for an 8 px input
        of a 32 px CycleGAN) amplifies float32 rounding past the parity tolerance, which says nothing about
        the export.
        """
        m = self.size_multiple
        base = -(-max(self.image_shape[0] // self.output_scale, 8) // m) * m
        step = m * max(1, 16 // m)
        channels = int(self.export_endpoints()[graph].inputs[0].shape[-1])
        rng = np.random.default_rng(seed)
        return [
            {"image": rng.uniform(-1, 1, (batch, h, w, channels)).astype(np.float32)}
            for batch, h, w in ((1, base, base), (3, base + step, base + 2 * step))
        ]

    def keras_input_signature(self) -> list:
        return [next(iter(self.serving_graphs().values())).inputs[0]]

    def translate(self, images, direction: str | None = None, batch_size: int = 8, raw: bool = False) -> np.ndarray:
        """Run endpoint ``direction`` (default: the first) on images of any size.

        ``images``: (H, W[, C]) or (N, H, W, C), uint8 0..255 or float in [-1, 1]; their channels are
        converted to the model's (gray <-> RGB). Sides are reflect-padded to :attr:`size_multiple`
        and the output cropped back. Returns uint8 (N, H*s, W*s, C) or, with ``raw``, float32 in [-1, 1].
        """
        endpoints = self.export_endpoints()
        name = direction or next(iter(endpoints))
        if name not in endpoints:
            raise ValueError(f"{type(self).__name__} has no direction {name!r}; choose from {', '.join(endpoints)}.")
        network = endpoints[name]
        x = match_channels(to_model_range(images), network.inputs[0].shape[-1])

        def forward(batch):
            return np.concatenate(
                [
                    ops.convert_to_numpy(network(batch[i : i + batch_size], training=False))
                    for i in range(0, len(batch), batch_size)
                ]
            )

        y = run_padded(forward, x, self.size_multiple, self.output_scale).astype(np.float32)
        return y if raw else to_uint8(y)

    def generate(self, *args, **kwargs):
        raise TypeError(
            f"{type(self).__name__} maps images to images and has no latent space to sample: use "
            "model.translate(images) (or model(images) on [-1, 1] batches)."
        )

    # -------------------------------------------------------------- training helpers
    def image_discriminator_step(self, real, fake, condition=None, scale: float = 1.0) -> dict[str, Any]:
        """One update of ``self.discriminator`` on real vs (already generated, detached) fake images.

        ``condition`` (pix2pix's source image) is passed to D beside the image, through the base's
        ``discriminate(images, labels)`` slot, so the base's gradient penalties condition on it too.
        The adversarial D loss is multiplied by ``scale`` (pix2pix halves it).
        """
        with tf.GradientTape() as tape:
            real_logits = self.discriminate(self.discriminator_view(real), condition)
            fake_logits = self.discriminate(self.discriminator_view(fake), condition)
            d_loss = scale * self.adversarial_loss.d(real_logits, fake_logits, real_target=1.0 - self.label_smoothing)
            total = d_loss + self.discriminator_penalties(real, fake, condition)
        d_grad_norm = self.apply_gradients(tape, total, self.discriminator, self.d_optimizer)
        self.adapt_augmentation(real_logits, fake_logits)
        return {"d_loss": d_loss, "d_grad_norm": d_grad_norm, **self.discriminator_stats(real_logits, fake_logits)}


def _inference(network: keras.Model):
    def serve(image):
        return network(image, training=False)

    return serve
