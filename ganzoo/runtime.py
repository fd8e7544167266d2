"""Sampling from an exported generator with ONNX Runtime only: no TensorFlow, no Keras.

    from ganzoo.runtime import load
    generator = load("exported/dcgan")            # directory of ganzoo.export, or its .onnx file
    images = generator.generate(16, seed=0)       # uint8 (16, H, W, C), == model.generate(16, seed=0)

Style-based exports (``stylegan_manifest.json``: mapping and synthesis graphs) load as
:class:`OnnxStyleGenerator`, whose ``generate`` also takes ``truncation_psi``,
``noise_mode`` and ``mix`` like ``StyleGAN.generate``.

This module imports numpy, onnxruntime and :mod:`ganzoo.sampling` only (keep it that
way: deployments install ``onnxruntime`` without TensorFlow). Latent vectors come from
:func:`ganzoo.sampling.latent_vectors`, the same draw ``GAN.generate(seed=...)`` makes,
so a seed gives the same samples here as in Keras.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnxruntime as ort

from ganzoo.files import sha256_file
from ganzoo.sampling import check_labels, latent_vectors, mix_styles, mixing_latents, noise_inputs, to_uint8

ONNX_FILENAME = "generator.onnx"
MANIFEST_FILENAME = "manifest.json"
STYLE_MANIFEST_FILENAME = "stylegan_manifest.json"


class OnnxGenerator:
    """An exported ganzoo generator running in an ONNX Runtime session.

    Args:
        path: an export directory (holding ``generator.onnx`` and ``manifest.json``) or the
            ``.onnx`` file itself (``manifest.json`` must sit next to it).
        threads: intra-op threads; default: the physical cores available to this process.
        providers: ONNX Runtime execution providers; default ``["CPUExecutionProvider"]``.
        check_hash: compare the ONNX file's sha256 with the manifest's (catches a file that
            does not belong to that manifest).

    Attributes: ``latent_dim``, ``num_classes`` (None when unconditional), ``image_shape``,
    ``is_conditional``, ``manifest`` (the dict), ``session``, ``path``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        threads: int | None = None,
        providers: Sequence[str] | None = None,
        check_hash: bool = True,
    ):
        self.path, manifest_path = _locate(Path(path))
        self.manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        onnx_info = self.manifest.get("artifacts", {}).get("onnx")
        if onnx_info is None:
            raise ValueError(f"{manifest_path} describes no ONNX artifact (formats: {self.manifest.get('formats')}).")
        if check_hash and onnx_info.get("sha256") and sha256_file(self.path) != onnx_info["sha256"]:
            raise ValueError(f"{self.path} does not match the sha256 recorded in {manifest_path}: wrong or modified file.")
        self.latent_dim = int(self.manifest["latent_dim"])
        self.num_classes = None if self.manifest.get("num_classes") is None else int(self.manifest["num_classes"])
        self.image_shape = tuple(int(s) for s in self.manifest["image_shape"])
        self.architecture = self.manifest.get("architecture")

        if threads is None:
            threads = physical_cores()
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
            raise ValueError(f"threads must be a positive integer or None, got {threads!r}.")
        self.threads = int(threads)
        self.session = ort.InferenceSession(
            str(self.path), sess_options=session_options(self.threads), providers=list(providers or ["CPUExecutionProvider"])
        )
        self._input_names = [i.name for i in self.session.get_inputs()]
        expected = ["z", "label"] if self.is_conditional else ["z"]
        if sorted(self._input_names) != sorted(expected):
            raise ValueError(f"{self.path} has inputs {self._input_names}; its manifest implies {expected}.")
        self._output_name = self.manifest["outputs"][0]["name"] if self.manifest.get("outputs") else "image"

    @property
    def is_conditional(self) -> bool:
        return self.num_classes is not None

    @property
    def outputs_images(self) -> bool:
        """True for image generators (uint8 output by default), False for 2-D point models."""
        return len(self.image_shape) > 1

    def __repr__(self) -> str:
        classes = f", num_classes={self.num_classes}" if self.is_conditional else ""
        return (f"OnnxGenerator({str(self.path)!r}, architecture={self.architecture!r}, latent_dim={self.latent_dim}"
                f"{classes}, image_shape={self.image_shape}, threads={self.threads})")

    def run(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """One forward pass on given latents (float32 (n, latent_dim)) [and int labels]: raw float32 output."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}), got {z.shape}.")
        feed = {"z": z}
        label_array = self.check_labels(labels, z.shape[0])
        if label_array is not None:
            feed["label"] = label_array
        (output,) = self.session.run([self._output_name], feed)
        return np.asarray(output, dtype=np.float32)

    __call__ = run

    def generate(
        self,
        n: int,
        seed: int | None = 0,
        labels=None,
        batch_size: int = 256,
        raw: bool = False,
    ) -> np.ndarray:
        """``n`` samples from latents ``latent_vectors(n, latent_dim, seed)``.

        Same contract as ``GAN.generate`` with an explicit seed: uint8 images (n, H, W, C),
        or with ``raw=True`` (and always for 2-D point models) the float32 output.
        ``labels`` (an int or n ints in ``[0, num_classes)``) are required by conditional
        models. ``seed=None`` draws fresh latents from OS entropy.
        """
        _check_positive_int("n", n)
        _check_positive_int("batch_size", batch_size)
        z = latent_vectors(n, self.latent_dim, seed)
        label_array = self.check_labels(labels, n)
        outputs = []
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            outputs.append(self.run(z[start:stop], None if label_array is None else label_array[start:stop]))
        samples = np.concatenate(outputs)
        if raw or not self.outputs_images:
            return samples
        return to_uint8(samples)

    def check_labels(self, labels, n: int) -> np.ndarray | None:
        """Validate class labels like ``GAN.check_labels``: an int or n ints in ``[0, num_classes)``."""
        return check_labels(labels, n, self.num_classes, f"{self.architecture or 'This'} generator")


class OnnxStyleGenerator:
    """An exported style-based generator: its mapping and synthesis graphs in ONNX Runtime sessions.

    ``generate`` reproduces ``StyleGAN.generate`` (same seeds, truncation, noise modes and
    style mixing) without TensorFlow: z -> ``mapping.onnx`` (with ``truncation_psi``) -> w,
    broadcast to ``num_ws`` styles (mixed when asked) -> ``synthesis.onnx`` with the noise maps.

    Args:
        path: an export directory of ``export_stylegan`` (``stylegan_manifest.json``, ``mapping.onnx``,
            ``synthesis.onnx``).
        threads, providers: as for :class:`OnnxGenerator`.
    """

    num_classes = None
    is_conditional = False
    outputs_images = True

    def __init__(self, path: str | os.PathLike, threads: int | None = None, providers: Sequence[str] | None = None):
        folder = Path(path)
        folder = folder.parent if folder.suffix == ".onnx" else folder
        manifest_path = folder / STYLE_MANIFEST_FILENAME
        if not manifest_path.is_file():
            raise FileNotFoundError(f"No {STYLE_MANIFEST_FILENAME} in {folder}: not a style-based export.")
        self.path = folder
        self.manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        if "onnx" not in self.manifest.get("formats", []):
            raise ValueError(f"{manifest_path} lists no ONNX graphs (formats: {self.manifest.get('formats')}).")
        self.architecture = self.manifest.get("architecture")
        self.latent_dim = int(self.manifest["latent_dim"])
        self.num_ws = int(self.manifest["num_ws"])
        self.image_shape = tuple(int(s) for s in self.manifest["image_shape"])
        self.noise_names = list(self.manifest["noise_inputs"])
        self.noise_resolutions = [int(shape[1]) for shape in self.manifest["noise_inputs"].values()]
        self.threads = physical_cores() if threads is None else int(threads)
        _check_positive_int("threads", self.threads)
        options = session_options(self.threads)
        providers = list(providers or ["CPUExecutionProvider"])
        self.mapping, self.synthesis = (
            ort.InferenceSession(str(folder / f"{graph}.onnx"), sess_options=options, providers=providers)
            for graph in ("mapping", "synthesis"))

    def __repr__(self) -> str:
        return (f"OnnxStyleGenerator({str(self.path)!r}, latent_dim={self.latent_dim}, num_ws={self.num_ws}, "
                f"image_shape={self.image_shape}, threads={self.threads})")

    def mapping_ws(self, z: np.ndarray, truncation_psi: float = 1.0) -> np.ndarray:
        """z (n, latent_dim) -> truncated styles (n, num_ws, w_dim)."""
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}), got {z.shape}.")
        (w,) = self.mapping.run(["w"], {"z": z, "truncation_psi": np.asarray(truncation_psi, np.float32)})
        return np.repeat(w[:, None], self.num_ws, axis=1)

    def noise_inputs(self, n: int, noise_mode: str = "const", seed: int | None = None) -> dict[str, np.ndarray]:
        """Noise maps for ``n`` samples, as ``StyleGAN.noise_inputs`` (random without a seed: fresh entropy)."""
        if noise_mode == "random" and seed is None:
            seed = int(np.random.default_rng().integers(2**31 - 1))
        return noise_inputs(n, noise_mode, self.noise_names, self.noise_resolutions, seed)

    def generate(
        self,
        n: int,
        seed: int | None = 0,
        labels=None,
        batch_size: int = 256,
        raw: bool = False,
        truncation_psi: float = 1.0,
        noise_mode: str = "const",
        mix=None,
        mix_cutoff: int | None = None,
    ) -> np.ndarray:
        """``n`` images, as ``StyleGAN.generate(n, seed, ...)``: uint8, or float32 with ``raw=True``."""
        _check_positive_int("n", n)
        _check_positive_int("batch_size", batch_size)
        check_labels(labels, n, None, "A style-based generator")
        ws = self.mapping_ws(latent_vectors(n, self.latent_dim, seed), truncation_psi)
        if mix is not None:
            ws = mix_styles(ws, self.mapping_ws(mixing_latents(mix, n, self.latent_dim), truncation_psi), mix_cutoff)
        elif mix_cutoff is not None:
            raise ValueError("mix_cutoff needs mix= (the second latents).")
        noise = self.noise_inputs(n, noise_mode, seed if noise_mode == "random" else None)
        outputs = []
        for start in range(0, n, batch_size):
            feed = {"ws": ws[start:start + batch_size], **{k: v[start:start + batch_size] for k, v in noise.items()}}
            outputs.append(self.synthesis.run(["image"], feed)[0])
        images = np.concatenate(outputs).astype(np.float32)
        return images if raw else to_uint8(images)


def load(path: str | os.PathLike, **kwargs) -> OnnxGenerator | OnnxStyleGenerator:
    """The runtime generator of an export directory (or its ``.onnx`` file): plain or style-based."""
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    if (folder / STYLE_MANIFEST_FILENAME).is_file():
        return OnnxStyleGenerator(folder, **kwargs)
    return OnnxGenerator(path, **kwargs)


def session_options(threads: int) -> ort.SessionOptions:
    """Options for generator inference: all graph optimizations, ``threads`` intra-op threads, sequential."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return options


def physical_cores() -> int:
    """Physical cores usable by this process (psutil when installed, else the logical CPU count)."""
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except Exception:  # psutil is optional
        physical = None
    return max(1, min(available, physical or available))


def _locate(path: Path) -> tuple[Path, Path]:
    """(ONNX file, manifest.json) from an export directory or an .onnx path."""
    if path.is_dir():
        onnx_path = path / ONNX_FILENAME
        if not onnx_path.is_file():
            raise FileNotFoundError(f"No {ONNX_FILENAME} in {path}; export the model with formats including 'onnx'.")
    elif path.suffix == ".onnx":
        if not path.is_file():
            raise FileNotFoundError(f"No such ONNX file: {path}")
        onnx_path = path
    else:
        raise FileNotFoundError(f"{path} is neither an export directory nor an .onnx file.")
    manifest = onnx_path.parent / MANIFEST_FILENAME
    if not manifest.is_file():
        raise FileNotFoundError(f"No {MANIFEST_FILENAME} next to {onnx_path}: it describes the inputs and shapes.")
    return onnx_path, manifest


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
