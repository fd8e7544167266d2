"""Bad input gets a clear error: one test per row of docs/ERRORS.md.

Each test feeds one kind of bad input where a user can pass it and checks that the error names
what was wrong and what was expected, and (where state is involved) that nothing was changed.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import small_model

import ganzoo
from ganzoo.deploy import loading, zoo
from ganzoo.deploy.exporter import export, verify_parity
from ganzoo.errors import InputError, ModelFileError
from ganzoo.models import checks


def _images(n, shape, dtype="float32", low=-1.0, high=1.0):
    return np.random.default_rng(0).uniform(low, high, (n, *shape)).astype(dtype)


def _fit(model, dataset):
    model.compile()
    return model.fit(dataset, epochs=1, verbose=0)


def _weights(model):
    """Both networks and (when compiled) both optimizers' state: what a bad batch must not touch."""
    variables = model.generator.variables + model.discriminator.variables
    for optimizer in (model.g_optimizer, model.d_optimizer):
        variables += optimizer.variables if optimizer is not None else []
    return [v.numpy().copy() for v in variables]


def test_wrong_image_shape_names_both_shapes():
    model = small_model("dcgan")  # expects (16, 16, 1)
    data = tf.data.Dataset.from_tensor_slices(_images(8, (8, 8, 1))).batch(4)
    with pytest.raises(InputError, match=r"images of shape \(batch, 8, 8, 1\).*expects \(batch, 16, 16, 1\).*Resize"):
        _fit(model, data)


def test_wrong_channel_count_says_how_to_fix_it():
    model = small_model("dcgan")
    data = tf.data.Dataset.from_tensor_slices(_images(8, (16, 16, 3))).batch(4)
    with pytest.raises(InputError, match=r"channel count differs \(3 vs 1\).*channels=1"):
        _fit(model, data)


def test_missing_batch_dimension_is_named():
    model = small_model("dcgan")
    data = tf.data.Dataset.from_tensor_slices(_images(8, (16, 16, 1)))  # not batched
    with pytest.raises(InputError, match="batch dimension missing"):
        _fit(model, data)


def test_labels_out_of_range_stop_fit_before_any_update():
    model = small_model("cgan")  # num_classes=3
    images = _images(8, (16, 16, 1))
    data = tf.data.Dataset.from_tensor_slices((images, np.array([0, 1, 2, 5] * 2, np.int32))).batch(4)
    model.compile()
    before = _weights(model)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must lie in \[0, 3\)"):
        model.fit(data, epochs=1, verbose=0)
    for a, b in zip(before, _weights(model)):
        np.testing.assert_array_equal(a, b)


def test_missing_labels_for_a_conditional_model():
    model = small_model("cgan")
    data = tf.data.Dataset.from_tensor_slices(_images(8, (16, 16, 1))).batch(4)
    with pytest.raises(InputError, match="class-conditional.*with_labels=True"):
        _fit(model, data)


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (_images(8, (16, 16, 1), "uint8", 0, 255), None, r"dtype uint8 \(pixel values 0..255\).*float32 in \[-1, 1\]"),
        (_images(8, (16, 16, 1), "int32", 0, 255), None, "dtype int32; expected float32"),
        (_images(8, (16, 16, 1)), np.zeros((8, 3), "float32"), "labels have dtype float32.*not one-hot"),
        (_images(8, (16, 16, 1)), np.zeros((8, 3), "int32"), r"labels of shape \(batch, 3\).*shape \(batch,\)"),
    ],
    ids=["uint8-images", "int-images", "one-hot-labels", "label-shape"],
)
def test_wrong_dtypes_are_refused_at_trace_time(images, labels, message):
    model = small_model("cgan") if labels is not None else small_model("dcgan")
    elements = images if labels is None else (images, labels)
    with pytest.raises(InputError, match=message):
        _fit(model, tf.data.Dataset.from_tensor_slices(elements).batch(4))


def test_images_in_0_255_are_detected_and_rescale_images_converts_them():
    model = small_model("dcgan")
    pixels = _images(8, (16, 16, 1), "float32", 0, 255)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must lie in \[-1, 1\].*0..255.*rescale_images"):
        _fit(model, tf.data.Dataset.from_tensor_slices(pixels).batch(4))
    converted = tf.data.Dataset.from_tensor_slices(pixels).batch(4).map(checks.rescale_images)
    values = np.concatenate(list(converted.as_numpy_iterator()))
    np.testing.assert_allclose(values, pixels / 127.5 - 1.0, atol=1e-6)
    history = _fit(small_model("dcgan"), converted).history
    assert np.isfinite(history["d_loss"][0])
    with pytest.raises(InputError, match="high > low"):
        checks.rescale_images(pixels, source_range=(1.0, 0.0))


def test_nan_in_the_data_is_named():
    model = small_model("vanilla_gan", data_shape=(2,))
    points = np.zeros((8, 2), "float32")
    points[3, 1] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or infinite values"):
        _fit(model, tf.data.Dataset.from_tensor_slices(points).batch(4))


def test_empty_dataset_and_batch_larger_than_the_dataset():
    model = small_model("dcgan")
    empty = tf.data.Dataset.from_tensor_slices(np.zeros((0, 16, 16, 1), "float32")).batch(4)
    with pytest.raises(InputError, match="training dataset yields no batches"):
        _fit(model, empty)
    too_big = tf.data.Dataset.from_tensor_slices(_images(5, (16, 16, 1))).batch(8, drop_remainder=True)
    with pytest.raises(InputError, match="batch size is larger than its number of examples"):
        _fit(small_model("dcgan"), too_big)
    with pytest.raises(
        ganzoo.data.DataError, match="batch_size=4096 is larger than digits split 'train', which has 1617 examples"
    ):
        ganzoo.data.load("digits", batch_size=4096)


def test_bad_generate_arguments():
    model = small_model("dcgan")
    for kwargs, message in [
        ({"n": 0}, "n must be a positive integer"),
        ({"n": 2, "seed": -1}, "seed must be"),
        ({"n": 2, "batch_size": 0}, "batch_size must be a positive integer"),
    ]:
        with pytest.raises(InputError, match=message):
            model.generate(**kwargs)


def test_truncated_or_foreign_weights_files_leave_the_model_unchanged(tmp_path):
    model = small_model("dcgan")
    path = tmp_path / "m.keras"
    model.save(path)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupted"):
        loading.load_model(truncated)
    (tmp_path / "empty.keras").write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty \\(0 bytes\\)"):
        loading.load_model(tmp_path / "empty.keras")
    with pytest.raises(ModelFileError, match="holds a 'ganzoo>DCGAN', not a 'cgan' model"):
        loading.load_model(path, architecture="cgan")

    other = small_model("dcgan", base_filters=4)
    other.save_weights(tmp_path / "other.weights.h5")
    before = _weights(model)
    with pytest.raises(ModelFileError, match="does not hold weights of this dcgan model.*different shapes"):
        loading.load_weights(model, tmp_path / "other.weights.h5")
    (tmp_path / "cut.weights.h5").write_bytes((tmp_path / "other.weights.h5").read_bytes()[:300])
    with pytest.raises(ModelFileError, match="not a readable Keras weights file"):
        loading.load_weights(model, tmp_path / "cut.weights.h5")
    for a, b in zip(before, _weights(model)):
        np.testing.assert_array_equal(a, b)


def test_an_export_of_another_model_is_refused(tmp_path):
    source = small_model("dcgan")
    export(source, tmp_path / "dcgan", formats="onnx")
    other = small_model("dcgan", latent_dim=12)
    with pytest.raises(
        ModelFileError,
        match=r"exported from another model: generator inputs \[\('z', \[None, 8\]\)\] "
        r"\(expected \[\('z', \[None, 12\]\)\]\)",
    ):
        verify_parity(other, tmp_path / "dcgan")
    with pytest.raises(ModelFileError, match="architecture 'dcgan' \\(expected 'cgan'\\)"):
        verify_parity(small_model("cgan"), tmp_path / "dcgan")
    manifest = json.loads((tmp_path / "dcgan" / "manifest.json").read_text())
    assert manifest["model"]["latent_dim"] == 8 and verify_parity(source, tmp_path / "dcgan")["passed"]


def test_zoo_cards_refuse_models_with_lambda_layers(tmp_path):
    model = small_model("vanilla_gan", data_shape=(2,))
    model.generator = keras.Sequential([keras.Input((8,)), keras.layers.Lambda(lambda z: z[:, :2])])
    (tmp_path / "model.keras").write_bytes(b"placeholder")
    with pytest.raises(ValueError, match="must not contain Lambda layers"):
        zoo.write_card(
            tmp_path,
            model=model,
            architecture="vanilla_gan",
            config={"a": 1},
            data={"spec": "ring8"},
            training={"command": "x"},
            metrics={"m": 1},
            license="x",
            intended_use="x",
            limitations="x",
        )
    assert not (tmp_path / "card.json").exists()
