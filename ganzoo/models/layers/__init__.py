"""Keras layers shared by the variants: common (minibatch stddev, spectral norm), style-based, image-to-image."""
