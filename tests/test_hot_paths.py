"""The hot-path properties layernet's speed rests on (``docs/performance.md``).

No parameter-sized temporaries in an optimiser step, the integer-label cross-entropy
equal to the one-hot form, batches converted without touching the stored data,
forward outputs a caller may keep, the preprocessing range read from the samples'
extremes equal to the full computation, and the fast layer paths equal
to their plain formulas.
"""

from __future__ import annotations

import tracemalloc
from typing import Any
import warnings

import numpy as np
import pytest

import layernet as ln
from layernet import ops
from layernet.data import Dataset
from layernet.losses import one_hot
from layernet.model import Preprocessing
from layernet import optimizers
from layernet.optimizers import get_optimizer
from layernet.training import trainer as trainer_module
from layernet.training.trainer import fitted_preprocessing


# -- hot-path properties --------------------------------------------------------------------------

def _model(dtype: Any = np.float32) -> ln.Sequential:
    return ln.Sequential([ln.Dense(256), ln.ReLU(), ln.Dense(10), ln.Softmax()],
                         input_shape=(784,), seed=0, dtype=dtype)


@pytest.mark.parametrize("spec", [{"type": "Adam"}, {"type": "Adam", "weight_decay": 0.1},
                                  {"type": "AdamW"}, {"type": "SGD", "lr": 0.1}])
def test_optimizer_steps_allocate_no_parameter_sized_temporaries(spec: dict[str, Any]) -> None:
    model = _model()
    optimizer = get_optimizer(spec, model.parameters())
    for p in model.parameters():
        p.grad[...] = 0.01
    optimizer.step()  # creates the state and the scratch buffers
    parameter_bytes = sum(p.value.nbytes for p in model.parameters())
    tracemalloc.start()
    try:
        optimizer.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < parameter_bytes / 20


def test_integer_labels_give_the_one_hot_loss_and_the_same_gradient() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 784)).astype(np.float32)
    labels = rng.integers(0, 10, 32)
    outputs = _model().forward(x)
    by_label, by_one_hot = ln.CrossEntropy(), ln.CrossEntropy()
    assert by_label(outputs, labels) == pytest.approx(by_one_hot(outputs, one_hot(labels, 10)), rel=1e-6)
    np.testing.assert_array_equal(by_label.backward(), by_one_hot.backward())
    logits = rng.standard_normal((32, 10))
    assert ln.CrossEntropy(from_logits=True)(logits, labels) == pytest.approx(
        ln.CrossEntropy(from_logits=True)(logits, one_hot(labels, 10, np.float64)), rel=1e-12)


@pytest.mark.parametrize("index", [slice(None), slice(2, 5), np.array([4, 0, 2])])
def test_batches_are_converted_without_touching_the_stored_rows(index: Any) -> None:
    stored = np.arange(24, dtype=np.float32).reshape(6, 4)
    before = stored.copy()
    data = Dataset(stored, None, scale=0.5, shift=1.0)
    np.testing.assert_array_equal(data.batch(index), (before[index] - 1) * np.float32(0.5))
    data.batch(index)
    np.testing.assert_array_equal(stored, before)


def test_uint8_batches_equal_the_convert_then_scale_formula() -> None:
    pixels = np.random.default_rng(2).integers(0, 256, (10, 784), dtype=np.uint8)
    order = np.array([3, 9, 0])
    batch = Dataset(pixels, None, scale=1 / 255).batch(order)
    assert batch.dtype == np.float32
    np.testing.assert_array_equal(batch, pixels[order].astype(np.float32) * np.float32(1 / 255))


def test_forward_outputs_stay_valid_after_the_next_forward() -> None:
    model = _model()
    rng = np.random.default_rng(3)
    first_input, second_input = rng.random((8, 784)), rng.random((8, 784))
    first = model.forward(first_input, training=True)
    kept = np.array(first)
    model.forward(second_input, training=True)
    np.testing.assert_array_equal(first, kept)


@pytest.mark.parametrize("kind", ["uint8", "uint8 bounds in the last row", "uint8 inside its bounds",
                                  "int16", "bool", "float32", "float32 with NaN", "float64 all NaN"])
@pytest.mark.parametrize("shift, scale", [(0.0, 1 / 255), (3.0, -0.7), (0.0, 1.0), ("mean", "std")])
def test_preprocessing_range_from_extremes_equals_the_full_computation(
        monkeypatch: pytest.MonkeyPatch, kind: str, shift: Any, scale: Any) -> None:
    monkeypatch.setattr(trainer_module, "EXTREMES_CHUNK_ROWS", 64)      # 8 chunks of 500 rows
    rng = np.random.default_rng(4)
    samples: Any = rng.integers(0, 256, (500, 12), dtype=np.uint8)
    if kind == "uint8 bounds in the last row":
        samples = rng.integers(1, 255, (500, 12), dtype=np.uint8)
        samples[-1, 3], samples[-1, 9] = 0, 255
    elif kind == "uint8 inside its bounds":
        samples = rng.integers(7, 200, (500, 12), dtype=np.uint8)
    elif kind == "bool":
        samples = samples > 128
    elif kind == "int16":
        samples = rng.integers(-3000, 4000, (500, 12), dtype=np.int16)
    elif kind.startswith("float"):
        samples = rng.standard_normal((500, 12)).astype(kind.split()[0])
        if kind.endswith("NaN"):
            samples[3, 4] = samples[:, 7] = np.nan
        if kind.endswith("all NaN"):
            samples[...] = np.nan
    if shift == "mean":
        finite = np.nan_to_num(samples.astype(np.float64))
        shift, scale = finite.mean(axis=0), 1 / (finite.std(axis=0) + 1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)        # all NaN: nanmin warns, both paths
        fast = fitted_preprocessing(Dataset(samples, None, scale=scale, shift=shift))
        with np.errstate(invalid="ignore"):
            full = Preprocessing.fitted(samples, shift, scale)
    np.testing.assert_equal((fast.low, fast.high, fast.kind, fast.dtype),
                            (full.low, full.high, full.kind, full.dtype))       # NaN equals NaN


@pytest.mark.parametrize("layout", ["rows", "batch-innermost"])
def test_relu_fast_paths_equal_the_formulas(layout: str) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 3, 5, 4))
    if layout == "batch-innermost":
        x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    relu = ln.ReLU()
    for _ in range(2):      # the second pass reuses the layer's buffers
        y = relu.forward(x)
        np.testing.assert_array_equal(y, np.maximum(x, 0))
        assert y.strides == x.strides
        dY = rng.standard_normal(x.shape)
        np.testing.assert_array_equal(relu.backward(dY), dY * (x > 0))


def test_dense_input_gradient_is_row_major_and_exact() -> None:
    layer = ln.Dense(7)
    layer.build((5,), rng=np.random.default_rng(6), dtype=np.float64)
    rng = np.random.default_rng(7)
    layer.forward(rng.standard_normal((3, 5)))
    dY = rng.standard_normal((3, 7))
    dX = layer.backward(dY)
    assert dX.flags.c_contiguous
    np.testing.assert_allclose(dX, dY @ layer.weight.value.T, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("rows, inner, columns, blocks", [
    (128, 784, 10, 2),       # a minibatch of the 784-10-10 network: two blocks of 64 rows
    (1000, 784, 10, 8),      # an inference batch: eight blocks of 125 rows
    (6000, 784, 10, 48),     # a tenth of the seeds' full batch: 48 blocks of 125 rows
    (100, 784, 10, 1),       # small enough for one product
    (128, 784, 256, 1),      # too wide for blocks of 32 rows
])
def test_row_blocked_products_equal_one_product(monkeypatch: pytest.MonkeyPatch, rows: int,
                                                inner: int, columns: int, blocks: int) -> None:
    calls: list[int] = []
    plain = np.matmul

    def counting(a: Any, b: Any, **kwargs: Any) -> Any:
        calls.append(len(a))
        return plain(a, b, **kwargs)

    rng = np.random.default_rng(8)
    x = rng.standard_normal((rows, inner)).astype(np.float32)
    w = rng.standard_normal((inner, columns)).astype(np.float32)
    monkeypatch.setattr(np, "matmul", counting)
    product = ops.matmul(x, w)
    monkeypatch.undo()
    assert len(calls) == (blocks if blocks > 1 else 0)
    assert product.shape == (rows, columns) and product.dtype == np.float32
    assert product.flags.c_contiguous
    np.testing.assert_allclose(product, x.astype(np.float64) @ w, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("add", [True, False])
@pytest.mark.parametrize("rows, inner, columns", [(512, 784, 10), (128, 784, 10), (32, 128, 10),
                                                  (128, 784, 256)])
def test_weight_gradient_products_add_or_write_xT_dy(rows: int, inner: int, columns: int,
                                                     add: bool) -> None:
    rng = np.random.default_rng(9)
    x, dy = rng.standard_normal((rows, inner)), rng.standard_normal((rows, columns))
    start = rng.standard_normal((inner, columns))
    out = start.copy()
    ops.matmul_tn(out, x, dy, add=add)
    np.testing.assert_allclose(out, (start if add else 0) + x.T @ dy, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("classes", [1, 10, ops.FEW_CLASSES, ops.FEW_CLASSES + 1, 300])
def test_softmax_terms_equal_the_formula_in_either_layout(classes: int) -> None:
    rng = np.random.default_rng(10)
    x = rng.standard_normal((37, classes)) * 30
    probs, shift, total = ops.softmax_terms(x)
    exact = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probs, exact / exact.sum(axis=1, keepdims=True), rtol=1e-14, atol=1e-300)
    np.testing.assert_array_equal(shift, x.max(axis=1))
    np.testing.assert_allclose(np.log(total) + shift, np.log(np.exp(x).sum(axis=1)), rtol=1e-13)
    assert probs.flags.f_contiguous if classes <= ops.FEW_CLASSES else probs.flags.c_contiguous
    softmax = ops.softmax(x)
    assert softmax.flags.c_contiguous and np.array_equal(softmax, probs)
    loss = ln.CrossEntropy(from_logits=True)
    loss.forward(x, rng.integers(0, classes, 37))
    assert loss.backward().flags.c_contiguous      # the gradient stays row-major


def test_adam_in_chunks_equals_adam_in_one_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    # The update is element-wise, so chunking it (CHUNK elements at a time) changes no bit.
    def trained(chunk: int) -> dict[str, np.ndarray]:
        monkeypatch.setattr(optimizers, "CHUNK", chunk)
        model = _model()
        optimizer = get_optimizer({"type": "Adam", "amsgrad": True}, model.parameters())
        rng = np.random.default_rng(11)
        for _ in range(3):
            for p in model.parameters():
                p.grad[...] = rng.standard_normal(p.grad.shape)
            optimizer.step()
        return model.get_weights()

    chunked, whole = trained(1000), trained(1 << 30)
    assert all(np.array_equal(chunked[name], value) for name, value in whole.items())
