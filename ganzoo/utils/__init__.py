"""TensorFlow-free helpers: files and hashes, latent and noise draws, images and plots."""
