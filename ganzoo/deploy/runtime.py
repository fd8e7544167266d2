"""Every exported ganzoo model with ONNX Runtime and numpy only: no TensorFlow, no Keras.

    from ganzoo.deploy import runtime                      # or: ganzoo.runtime
    generator = runtime.load("exported/dcgan-digits")      # an export folder (or one of its .onnx files)
    images = generator.generate(16, seed=0)                # uint8, == model.generate(16, seed=0)

:func:`load` reads the folder's ``manifest.json`` (schema 2, written by ``ganzoo.export``),
checks the sha256 of every ONNX graph against it *before* any graph is read, and returns the
runtime of the export's kind:

* ``latent`` -> :class:`OnnxGenerator`: ``generate(n, seed, labels)``, ``run(z, labels)``;
* ``style`` -> :class:`OnnxStyleGenerator`: also ``truncation_psi``, ``noise_mode`` and ``mix``;
* ``image_to_image`` and ``super_resolution`` -> :class:`OnnxImageModel`: ``translate(images,
  direction)`` on images of any size, and ``upscale(images, tile=...)`` for super-resolution.

Latents and noise maps come from :mod:`ganzoo.utils.sampling` and pictures from
:mod:`ganzoo.utils.images`, the same code the Keras models use, so a seed gives the same
samples here as in Keras. Keep this module free of TensorFlow (a test checks it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from ganzoo.deploy.manifest import artifact_path, check_artifact_hashes, read_manifest
from ganzoo.errors import ModelFileError
from ganzoo.utils.images import (
    match_channels,
    run_padded,
    run_tiled,
    to_model_range,
    to_uint8,
)
from ganzoo.utils.sampling import (
    check_labels,
    check_positive_int,
    check_sample_count,
    check_seed,
    latent_vectors,
    mix_styles,
    mixing_latents,
    noise_inputs,
)


class OnnxModel:
    """The graphs of one export folder, each in an ONNX Runtime session.

    Args:
        path: an export folder (``manifest.json`` and ``<graph>.onnx``), or one of its ``.onnx`` files.
        threads: intra-op threads; default: the physical cores available to this process.
        providers: ONNX Runtime execution providers; default ``["CPUExecutionProvider"]``.
        check_hash: compare every graph's sha256 with the manifest's before reading it (on by
            default; a file that does not belong to the manifest is refused).

    Attributes: ``path`` (the folder), ``manifest`` (the dict), ``kind``, ``architecture``,
    ``graphs`` (graph names, the default first), ``sessions`` ({graph: InferenceSession}).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        threads: int | None = None,
        providers: Sequence[str] | None = None,
        check_hash: bool = True,
    ):
        folder = Path(path)
        folder = folder.parent if folder.suffix == ".onnx" else folder
        self.path = folder
        self.manifest: dict[str, Any] = read_manifest(folder)
        onnx_files = self.manifest.get("artifacts", {}).get("onnx")
        if not onnx_files:
            raise ModelFileError(
                f"{folder / 'manifest.json'} describes no ONNX graphs "
                f"(formats: {self.manifest.get('formats')}); export with formats including 'onnx'."
            )
        if check_hash:
            check_artifact_hashes(folder, self.manifest, formats=("onnx",))
        self.kind = self.manifest["kind"]
        self.architecture = self.manifest.get("architecture")
        self.metadata: dict[str, Any] = self.manifest.get("model")
        if not isinstance(self.metadata, dict):
            raise ModelFileError(f"{folder / 'manifest.json'} has no 'model' section describing the model.")
        self.threads = physical_cores() if threads is None else threads
        check_positive_int("threads", self.threads)
        options = session_options(int(self.threads))
        providers = list(providers or ["CPUExecutionProvider"])
        default = self.manifest.get("default_graph")
        if default not in self.manifest["graphs"] or set(self.manifest["graphs"]) - set(onnx_files):
            raise ModelFileError(
                f"{folder / 'manifest.json'} names default graph {default!r} and graphs {list(self.manifest['graphs'])}, "
                f"but ONNX files for {list(onnx_files)}."
            )
        self.graphs = [default, *(g for g in self.manifest["graphs"] if g != default)]
        self.sessions = {
            name: ort.InferenceSession(
                str(artifact_path(folder, onnx_files[name].get("path"))), sess_options=options, providers=providers
            )
            for name in self.graphs
        }
        for name, session in self.sessions.items():  # a graph of another export fails here even without hashes
            names = [i.name for i in session.get_inputs()]
            expected = [spec["name"] for spec in self.manifest["graphs"][name]["inputs"]]
            if names != expected:
                raise ModelFileError(
                    f"{folder / onnx_files[name]['path']} has inputs {names}; its manifest says {expected}."
                )

    def field(self, key: str):
        """``manifest["model"][key]``, or a :class:`ModelFileError` naming the manifest when it is missing."""
        if key not in self.metadata:
            raise ModelFileError(
                f"{self.path / 'manifest.json'} lacks the field model.{key} that a {self.kind} export needs; export "
                "the model again with `ganzoo export`."
            )
        return self.metadata[key]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self.path)!r}, architecture={self.architecture!r}, "
            f"graphs={self.graphs}, threads={self.threads})"
        )

    @property
    def session(self) -> ort.InferenceSession:
        """The default graph's session."""
        return self.sessions[self.graphs[0]]

    def run_graph(self, graph: str, feed: dict[str, np.ndarray]) -> np.ndarray:
        """One forward pass of ``graph`` on named inputs; the raw float32 output."""
        if graph not in self.sessions:
            raise ValueError(
                f"{self.architecture} export has no graph {graph!r}; choose from {', '.join(self.graphs)}."
            )
        expected = [spec["name"] for spec in self.manifest["graphs"][graph]["inputs"]]
        if sorted(feed) != sorted(expected):
            raise ValueError(f"graph {graph!r} takes inputs {expected}, got {sorted(feed)}.")
        output = self.manifest["graphs"][graph]["output"]["name"]
        return np.asarray(self.sessions[graph].run([output], feed)[0], dtype=np.float32)


class OnnxGenerator(OnnxModel):
    """A latent generator (``kind: latent``): ``z`` [, ``label``] -> images or 2-D points.

    Attributes: ``latent_dim``, ``num_classes`` (None when unconditional), ``image_shape``,
    ``is_conditional``, ``outputs_images``.
    """

    def __init__(self, path: str | os.PathLike, **kwargs):
        super().__init__(path, **kwargs)
        self.latent_dim = int(self.field("latent_dim"))
        classes = self.metadata.get("num_classes")
        self.num_classes = None if classes is None else int(classes)
        self.image_shape = tuple(int(s) for s in self.field("image_shape"))

    @property
    def is_conditional(self) -> bool:
        return self.num_classes is not None

    @property
    def outputs_images(self) -> bool:
        """True for image generators (uint8 output by default), False for 2-D point models."""
        return len(self.image_shape) > 1

    def run(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """One forward pass on given latents (float32 (n, latent_dim)) [and int labels]: raw float32 output."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}), got {z.shape}.")
        feed = {"z": z}
        label_array = self.check_labels(labels, z.shape[0])
        if label_array is not None:
            feed["label"] = label_array
        return self.run_graph(self.graphs[0], feed)

    __call__ = run

    def generate(
        self, n: int, seed: int | None = 0, labels=None, batch_size: int = 256, raw: bool = False
    ) -> np.ndarray:
        """``n`` samples from latents ``latent_vectors(n, latent_dim, seed)``.

        Same contract as ``GAN.generate`` with an explicit seed: uint8 images (n, H, W, C),
        or with ``raw=True`` (and always for 2-D point models) the float32 output.
        ``labels`` (an int or n ints in ``[0, num_classes)``) are required by conditional
        models. ``seed=None`` draws fresh latents from OS entropy.
        """
        self.check_sample_arguments(n, seed, batch_size)
        z = latent_vectors(n, self.latent_dim, seed)
        label_array = self.check_labels(labels, n)
        outputs = [
            self.run(z[i : i + batch_size], None if label_array is None else label_array[i : i + batch_size])
            for i in range(0, n, batch_size)
        ]
        samples = np.concatenate(outputs)
        return samples if raw or not self.outputs_images else to_uint8(samples)

    def check_sample_arguments(self, n: int, seed, batch_size: int) -> None:
        """Validate ``generate``'s arguments as ``GAN.generate`` does, with the same bound on ``n``."""
        check_positive_int("n", n)
        check_positive_int("batch_size", batch_size)
        check_seed(seed)
        check_sample_count(n, self.image_shape, self.latent_dim)

    def check_labels(self, labels, n: int) -> np.ndarray | None:
        """Validate class labels like ``GAN.check_labels``: an int or n ints in ``[0, num_classes)``."""
        return check_labels(labels, n, self.num_classes, f"{self.architecture or 'This'} generator")


class OnnxStyleGenerator(OnnxGenerator):
    """A style-based generator (``kind: style``): ``mapping`` and ``synthesis`` graphs (and the combined one).

    ``generate`` reproduces ``StyleGAN.generate`` (same seeds, truncation, noise modes and style
    mixing): z -> ``mapping`` (with ``truncation_psi``) -> w, broadcast to ``num_ws`` styles
    (mixed when asked) -> ``synthesis`` with the noise maps.
    """

    def __init__(self, path: str | os.PathLike, **kwargs):
        super().__init__(path, **kwargs)
        self.num_ws = int(self.field("num_ws"))
        self.noise_names = list(self.field("noise_inputs"))
        self.noise_resolutions = [int(shape[1]) for shape in self.field("noise_inputs").values()]

    def mapping_ws(self, z: np.ndarray, truncation_psi: float = 1.0) -> np.ndarray:
        """z (n, latent_dim) -> truncated styles (n, num_ws, w_dim)."""
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}), got {z.shape}.")
        w = self.run_graph("mapping", {"z": z, "truncation_psi": np.asarray(truncation_psi, np.float32)})
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
        self.check_sample_arguments(n, seed, batch_size)
        check_labels(labels, n, None, "A style-based generator")
        ws = self.mapping_ws(latent_vectors(n, self.latent_dim, seed), truncation_psi)
        if mix is not None:
            ws = mix_styles(ws, self.mapping_ws(mixing_latents(mix, n, self.latent_dim), truncation_psi), mix_cutoff)
        elif mix_cutoff is not None:
            raise ValueError("mix_cutoff needs mix= (the second latents).")
        noise = self.noise_inputs(n, noise_mode, seed if noise_mode == "random" else None)
        outputs = [
            self.run_graph(
                "synthesis", {"ws": ws[i : i + batch_size], **{k: v[i : i + batch_size] for k, v in noise.items()}}
            )
            for i in range(0, n, batch_size)
        ]
        images = np.concatenate(outputs)
        return images if raw else to_uint8(images)

    def run(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """The combined graph on given latents: no truncation, the constant noise maps (as ``model(z)``)."""
        z = np.asarray(z, np.float32)
        check_labels(labels, len(z), None, "A style-based generator")
        return self.synthesis_from(self.mapping_ws(z), self.noise_inputs(len(z)))

    def synthesis_from(self, ws: np.ndarray, noise: dict[str, np.ndarray]) -> np.ndarray:
        """The synthesis graph on given styles (n, num_ws, w_dim) and noise maps: raw float32 images."""
        return self.run_graph("synthesis", {"ws": np.asarray(ws, np.float32), **noise})

    __call__ = run


class OnnxImageModel(OnnxModel):
    """An image-to-image or super-resolution export: one graph per direction, ``image`` in and out.

    Inputs may have any size: sides are reflect-padded to the model's ``size_multiple`` and the
    output is cropped back, exactly as ``model.translate`` does in Keras.
    """

    def __init__(self, path: str | os.PathLike, **kwargs):
        super().__init__(path, **kwargs)
        self.size_multiple = int(self.field("size_multiple"))
        self.scale = int(self.field("scale"))
        radius = self.metadata.get("receptive_radius")
        self.receptive_radius = None if radius is None else int(radius)
        self.image_shape = tuple(int(s) for s in self.field("image_shape"))

    @property
    def directions(self) -> list[str]:
        return list(self.graphs)

    def _forward(self, direction: str | None, batch_size: int):
        name = direction or self.graphs[0]
        if name not in self.sessions:
            raise ValueError(
                f"{self.architecture} export has no direction {name!r}; choose from {', '.join(self.graphs)}."
            )
        channels = int(self.manifest["graphs"][name]["inputs"][0]["shape"][-1])

        def forward(batch: np.ndarray) -> np.ndarray:
            return np.concatenate(
                [self.run_graph(name, {"image": batch[i : i + batch_size]}) for i in range(0, len(batch), batch_size)]
            )

        return forward, channels

    def translate(self, images, direction: str | None = None, batch_size: int = 8, raw: bool = False) -> np.ndarray:
        """Images (H, W[, C]) or (N, H, W, C), uint8 or [-1, 1] float -> uint8 (or float32 with ``raw``)."""
        forward, channels = self._forward(direction, batch_size)
        x = match_channels(to_model_range(images), channels)
        y = run_padded(forward, x, self.size_multiple, self.scale).astype(np.float32)
        return y if raw else to_uint8(y)

    def upscale(
        self, images, tile: int | None = None, overlap: int | None = None, batch_size: int = 8, raw: bool = False
    ) -> np.ndarray:
        """Super-resolution as ``SRGAN.upscale``: whole images, or tiles of ``tile`` low-resolution pixels
        with ``overlap`` pixels of context (default: the receptive radius, which hides the seams)."""
        if self.kind != "super_resolution":
            raise TypeError(f"{self.architecture} translates images; upscale() is for super-resolution exports.")
        forward, channels = self._forward(None, batch_size)
        x = match_channels(to_model_range(images), channels)
        overlap = self.receptive_radius if overlap is None else overlap
        if tile is not None and overlap is None:
            raise ValueError("tiling needs overlap= (this export does not state its receptive radius).")
        y = run_tiled(forward, x, tile, overlap or 0, self.scale, self.size_multiple).astype(np.float32)
        return y if raw else to_uint8(y)


_RUNTIMES = {
    "latent": OnnxGenerator,
    "style": OnnxStyleGenerator,
    "image_to_image": OnnxImageModel,
    "super_resolution": OnnxImageModel,
}


def load(path: str | os.PathLike, **kwargs) -> OnnxModel:
    """The runtime of an export folder (or one of its ``.onnx`` files), chosen by the manifest's kind."""
    folder = Path(path)
    folder = folder.parent if folder.suffix == ".onnx" else folder
    return _RUNTIMES[read_manifest(folder)["kind"]](folder, **kwargs)


def session_options(threads: int) -> ort.SessionOptions:
    """Options for inference: all graph optimizations, ``threads`` intra-op threads, sequential."""
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
        import psutil  # optional: only for the physical core count

        physical = psutil.cpu_count(logical=False)
    except Exception:  # psutil is optional
        physical = None
    return max(1, min(available, physical or available))
