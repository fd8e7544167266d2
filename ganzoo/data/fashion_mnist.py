"""Fashion-MNIST (Xiao, Rasul and Vollgraf 2017) from its four IDX files, found offline where they usually are.

The data set is 60,000 training and 10,000 test images, 28 x 28 grayscale, 10 classes (MIT license). It
is not shipped with ganzoo; :func:`load_arrays` finds the four gzipped IDX files, in this order:

1. ``data_dir`` (an argument of ``ganzoo.data.load``), if given: only there;
2. ``$GANZOO_FASHION_MNIST``, a folder holding them;
3. Keras' dataset cache, ``$KERAS_HOME/datasets/fashion-mnist`` (default ``~/.keras``), where
   ``keras.datasets.fashion_mnist.load_data()`` puts them;
4. the Debian package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``);
5. TensorFlow Datasets' ``fashion_mnist`` when it is already prepared (``ganzoo.data`` does this step);
6. with network access (``GANZOO_OFFLINE`` unset), a download through Keras into its cache.

Offline without the files, the error names every place searched and how to get the data. The IDX
reader checks the magic number, the dimensions and the length of every file, so a truncated or wrong
file is an error that names it, never a silently short data set. Reading needs numpy only.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from ganzoo.errors import DataError
from ganzoo.utils.files import offline_mode

__all__ = ["CLASS_NAMES", "FILES", "ENV_VAR", "DEBIAN_DIR", "search_dirs", "find_dir", "read_idx", "load_arrays"]

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SIZES = {"train": 60_000, "test": 10_000}
ENV_VAR = "GANZOO_FASHION_MNIST"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
HOW_TO_GET = (
    "Get the four files with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), "
    "`python -c 'import keras; keras.datasets.fashion_mnist.load_data()'` (with network access), or from "
    "the dataset's repository (zalandoresearch/fashion-mnist), and point $GANZOO_FASHION_MNIST or data_dir at their folder."
)
_IDX_DTYPES = {0x08: np.uint8}  # the only type Fashion-MNIST uses
_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _keras_cache_dirs() -> list[Path]:
    """Keras' dataset cache: ``$KERAS_HOME`` or ``~/.keras``, and ``/tmp/.keras``, where Keras goes when that is read-only."""
    home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    return [Path(home) / "datasets" / "fashion-mnist", Path("/tmp/.keras/datasets/fashion-mnist")]


def search_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for the IDX files, in order (see the module docstring)."""
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    env = os.environ.get(ENV_VAR)
    return [*([Path(env).expanduser()] if env else []), *_keras_cache_dirs(), DEBIAN_DIR]


def _has_files(folder: Path) -> bool:
    return all((folder / name).is_file() for names in FILES.values() for name in names)


def find_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The first searched folder that holds all four files, or None."""
    return next((folder for folder in search_dirs(data_dir) if _has_files(folder)), None)


def read_idx(path: str | os.PathLike, expected_shape: tuple[int | None, ...]) -> np.ndarray:
    """One IDX file (gzipped or not) as a uint8 array, after checking its header against ``expected_shape``.

    ``expected_shape`` gives the number of dimensions and the sizes that must match (None: any).
    Raises DataError naming the file for a wrong magic number, type, dimensions or length.
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as stream:
            raw = stream.read()
    except (OSError, EOFError) as err:  # gzip raises BadGzipFile (an OSError) or EOFError when cut short
        raise DataError(f"cannot read IDX file {str(path)!r}: {type(err).__name__}: {err}.") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(
            f"{str(path)!r} is not an IDX file: its magic number {raw[:4].hex() or '(empty)'} does not start with 0000."
        )
    dtype, ndim = _IDX_DTYPES.get(raw[2]), raw[3]
    if dtype is None:
        raise DataError(f"{str(path)!r} stores IDX type 0x{raw[2]:02x}; expected 0x08 (unsigned bytes).")
    if ndim != len(expected_shape):
        raise DataError(f"{str(path)!r} has {ndim} dimensions; expected {len(expected_shape)}.")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{str(path)!r} is truncated: its header needs {header} bytes, the file has {len(raw)}.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if any(want is not None and want != got for want, got in zip(expected_shape, shape)):
        want = " x ".join("N" if d is None else str(d) for d in expected_shape)
        raise DataError(f"{str(path)!r} holds an array of shape {' x '.join(map(str, shape))}; expected {want}.")
    size = int(np.prod(shape))
    if len(raw) - header != size:
        raise DataError(
            f"{str(path)!r} is {'truncated' if len(raw) - header < size else 'too long'}: its header announces "
            f"{size} bytes of data, the file holds {len(raw) - header}."
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _read_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    image_file, label_file = (folder / name for name in FILES[split])
    images = read_idx(image_file, (None, 28, 28))
    labels = read_idx(label_file, (None,))
    if len(images) != len(labels):
        raise DataError(f"{str(image_file)!r} holds {len(images)} images but {str(label_file)!r} {len(labels)} labels.")
    if len(images) != SIZES[split]:
        raise DataError(
            f"{str(image_file)!r} holds {len(images)} images; Fashion-MNIST's {split} split has {SIZES[split]}."
        )
    if labels.max(initial=0) >= len(CLASS_NAMES):
        raise DataError(f"{str(label_file)!r} has label {int(labels.max())}; Fashion-MNIST's are 0-9.")
    return images, labels


def _download_through_keras() -> Path | None:
    """Let Keras download the files into its cache (network needed); the searched folder that now holds them."""
    import keras  # only on this path: reading the files needs numpy alone

    keras.datasets.fashion_mnist.load_data()
    return find_dir()


def load_arrays(
    split: str, data_dir: str | os.PathLike | None = None, tfds_fallback=None
) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels uint8 (N,)) of ``split`` (``train``, ``test`` or ``all``).

    ``tfds_fallback(split)``, if given, is tried after the folders (TFDS' prepared ``fashion_mnist``);
    it returns the arrays or None. Results are cached per folder and split for the session.
    """
    if split == "all":
        parts = [load_arrays(s, data_dir, tfds_fallback) for s in ("train", "test")]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    if split not in FILES:
        raise DataError(f"unknown split {split!r} for fashion_mnist; expected one of train, test, all.")
    folder = find_dir(data_dir)
    if folder is None and data_dir is None and tfds_fallback is not None:
        arrays = tfds_fallback(split)
        if arrays is not None:
            if len(arrays[0]) != SIZES[split] or len(arrays[1]) != SIZES[split]:
                raise DataError(
                    f"TFDS' fashion_mnist {split} split holds {len(arrays[0])} images and {len(arrays[1])} labels; "
                    f"Fashion-MNIST's has {SIZES[split]}. Prepare it again."
                )
            return arrays
    if folder is None and data_dir is None and not offline_mode():
        try:
            folder = _download_through_keras()
        except Exception as err:  # no network, a proxy, a server error: all mean "not available here"
            raise _missing(data_dir, f" A download through Keras failed too ({type(err).__name__}: {err}).") from err
    if folder is None:
        raise _missing(data_dir, " Offline (GANZOO_OFFLINE is set): nothing was downloaded." if offline_mode() else "")
    key = (str(folder.resolve()), split, *((folder / n).stat().st_mtime_ns for n in FILES[split]))
    if key not in _CACHE:
        images, labels = _read_split(folder, split)
        images.flags.writeable = labels.flags.writeable = False
        _CACHE[key] = (images, labels)
    return _CACHE[key]


def _missing(data_dir, extra: str) -> DataError:
    places = [str(p) for p in search_dirs(data_dir)]
    if data_dir is None:
        places.append("TFDS 'fashion_mnist' (not prepared)")
    return DataError(
        f"Fashion-MNIST not found: looked for {', '.join(FILES['train'] + FILES['test'])} in "
        f"{'; '.join(places)}.{extra} {HOW_TO_GET}"
    )
