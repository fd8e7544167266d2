"""Images without TensorFlow: uint8 conversion, grids, PNG files, panels, scatter plots, tiling.

Shared by the Keras models, the callbacks and the ONNX runtime, so a picture or a tiled
upscale is made the same way whichever backend produced the pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Map float images in [-1, 1] to uint8 [0, 255] (values outside are clipped)."""
    return np.clip(np.rint((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images: np.ndarray, columns: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile uint8 images (N, H, W, C) into one (rows*H, columns*W, C) image with padding between tiles."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"image_grid expects uint8 images of shape (N, H, W, C), got {images.dtype} {images.shape}.")
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + padding) + padding, columns * (w + padding) + padding, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = image
    return grid


def save_png(image: np.ndarray, path: str | Path, upscale: int = 1) -> Path:
    """Write a uint8 (H, W, C) image as PNG, optionally enlarged with nearest-neighbour pixels."""
    from PIL import Image

    image = np.asarray(image)
    if upscale > 1:
        image = image.repeat(upscale, axis=0).repeat(upscale, axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)
    return path


def save_grid(images: np.ndarray, path: str | Path, columns: int | None = None, upscale: int | None = None) -> Path:
    """Write uint8 images as one PNG grid; small images are enlarged so the grid is readable."""
    images = np.asarray(images)
    if upscale is None:
        upscale = max(1, 64 // images.shape[1])
    return save_png(image_grid(images, columns), path, upscale=upscale)


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (imported on first use: it is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def plot_points(points: np.ndarray, path: str | Path, reference: np.ndarray | None = None, title: str = "") -> Path:
    """Scatter plot of 2-D samples, with the true mode centres (``reference``) marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4, 4))
    if reference is not None:
        ax.scatter(*np.asarray(reference).T, c="tab:red", marker="x", s=60, label="modes")
    ax.scatter(points[:, 0], points[:, 1], s=4, alpha=0.5, label="samples")
    ax.set_title(title)
    ax.set_aspect("equal")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def to_model_range(images) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1]; float images are taken as already in [-1, 1]. Adds a batch axis to (H, W, C)."""
    x = np.asarray(images)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"images must be (H, W), (H, W, C) or (N, H, W, C); got shape {x.shape}.")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 127.5 - 1.0
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"images must be uint8 (0..255) or float in [-1, 1]; got {x.dtype}.")
    x = x.astype(np.float32)
    if x.size and (x.min() < -1.001 or x.max() > 1.001):
        raise ValueError(f"float images must lie in [-1, 1]; got [{x.min():.3g}, {x.max():.3g}].")
    return x


# ITU-R BT.601 luma weights of R, G, B: the gray of match_channels, skimage:colorize and pix2pix's chroma output.
BT601_LUMA = (0.299, 0.587, 0.114)


def match_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Convert (N, H, W, C) [-1, 1] images to ``channels``: gray -> RGB by repetition, RGB -> gray by BT.601 luma."""
    have = x.shape[-1]
    if have == 4:  # drop alpha
        x, have = x[..., :3], 3
    if have == channels:
        return x
    if have == 1 and channels == 3:
        return np.repeat(x, 3, axis=-1)
    if have == 3 and channels == 1:
        return (x @ np.array(BT601_LUMA, np.float32))[..., None]
    raise ValueError(f"cannot convert {have}-channel images to {channels} channels.")


def run_padded(fn, x: np.ndarray, multiple: int, scale: int = 1) -> np.ndarray:
    """``fn`` on ``x`` (N, H, W, C) reflect-padded at the bottom/right to a multiple of ``multiple``, output cropped back.

    Lets a network whose strided layers need sides divisible by ``multiple`` run on any size;
    ``scale`` is the output/input size ratio (SR models).
    """
    h, w = x.shape[1:3]
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "symmetric"
        x = np.pad(x, [(0, 0), (0, ph), (0, pw), (0, 0)], mode=mode)
    y = np.asarray(fn(x))
    return y[:, : h * scale, : w * scale]


def run_tiled(fn, x: np.ndarray, tile: int | None, overlap: int, scale: int = 1, multiple: int = 1) -> np.ndarray:
    """``fn`` on ``x`` (N, H, W, C) in tiles of ``tile`` x ``tile`` input pixels, each read with
    ``overlap`` extra pixels of context on every side that is not the image border.

    For a convolutional ``fn`` whose receptive radius is at most ``overlap``, the result equals
    ``fn(x)`` (up to float round-off) while the memory stays bounded by one tile.
    ``scale`` is the output/input size ratio.
    """
    n, h, w, _ = x.shape
    if tile is None or (h <= tile and w <= tile):
        return run_padded(fn, x, multiple, scale)
    if tile < 1 or overlap < 0:
        raise ValueError(f"need tile >= 1 and overlap >= 0, got tile={tile}, overlap={overlap}.")
    out = None
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            bottom, right = min(top + tile, h), min(left + tile, w)
            t0, l0 = max(top - overlap, 0), max(left - overlap, 0)
            b0, r0 = min(bottom + overlap, h), min(right + overlap, w)
            y = run_padded(fn, x[:, t0:b0, l0:r0], multiple, scale)
            if out is None:
                out = np.empty((n, h * scale, w * scale, y.shape[-1]), y.dtype)
            out[:, top * scale : bottom * scale, left * scale : right * scale] = y[
                :, (top - t0) * scale : (bottom - t0) * scale, (left - l0) * scale : (right - l0) * scale
            ]
    return out


def read_image(path) -> np.ndarray:
    """An image file as uint8 (H, W, C), C = 1 or 3 (alpha dropped)."""
    from PIL import Image

    with Image.open(path) as image:
        mode = "L" if image.mode in ("L", "I", "I;16", "F", "1") else "RGB"
        array = np.asarray(image.convert(mode), np.uint8)
    return array[..., None] if array.ndim == 2 else array


# =============================================================================== panels
def save_panel(columns: Sequence[np.ndarray], path, padding: int = 2, upscale: int = 1) -> Path:
    """A sample panel: one row per example, one column per array (e.g. input | output | target).

    Each array is (N, H, W, C) uint8 or [-1, 1] float; smaller columns (an SR input) are enlarged
    with nearest-neighbour pixels to the largest height; gray columns are shown as RGB. ``upscale``
    enlarges the whole panel (nearest neighbour) for small patches.
    """
    columns = [
        np.asarray(c) if np.asarray(c).dtype == np.uint8 else to_uint8(np.asarray(c, np.float32)) for c in columns
    ]
    height = max(c.shape[1] for c in columns)
    shown = []
    for c in columns:
        factor = height // c.shape[1]
        c = c.repeat(factor, axis=1).repeat(factor, axis=2) if factor > 1 else c
        shown.append(np.repeat(c, 3, axis=-1) if c.shape[-1] == 1 else c)
    rows = np.stack(shown, axis=1).reshape(-1, *shown[0].shape[1:])
    return save_png(image_grid(rows, columns=len(shown), padding=padding), path, upscale=upscale)
