"""Losses: values against their formulas, label handling, edge cases and configs.

Gradients of every loss are checked by finite differences in ``test_contract.py``
and against PyTorch in ``test_torch_oracle.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet.losses import as_targets, get_loss, loss_config, one_hot

rng = np.random.default_rng(0)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# -- one-hot helpers --------------------------------------------------------------------------------

def test_one_hot_places_a_single_one_per_row() -> None:
    labels = np.array([2, 0, 3, 3])
    encoded = one_hot(labels, 4)
    assert encoded.shape == (4, 4) and encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded.sum(axis=1), 1)
    np.testing.assert_array_equal(encoded.argmax(axis=1), labels)
    assert one_hot(labels, 5, np.float64).dtype == np.float64


def test_one_hot_of_no_labels_is_empty() -> None:
    assert one_hot(np.array([], dtype=int), 3).shape == (0, 3)


@pytest.mark.parametrize("labels", [[0, 4], [-1, 2], [10]])
def test_one_hot_rejects_labels_out_of_range(labels: list[int]) -> None:
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\]"):
        one_hot(np.array(labels), 4)


def test_as_targets_encodes_integer_labels_and_keeps_dtype() -> None:
    like = np.zeros((3, 4), dtype=np.float64)
    targets = as_targets(np.array([1, 3, 0]), like)
    np.testing.assert_array_equal(targets, np.eye(4)[[1, 3, 0]])
    assert targets.dtype == np.float64
    dense = as_targets(np.eye(4, dtype=np.float32)[[1, 3, 0]], like)
    assert dense.dtype == np.float64


def test_as_targets_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"targets of shape \(3, 5\) do not match .* \(3, 4\)"):
        as_targets(np.zeros((3, 5)), np.zeros((3, 4)))


@pytest.mark.parametrize("loss", [ln.CrossEntropy(), ln.CrossEntropy(from_logits=True), ln.MSE()])
def test_losses_reject_labels_out_of_range(loss: ln.Loss) -> None:
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\]"):
        loss.forward(np.full((2, 3), 1 / 3), np.array([0, 3]))


# -- values -------------------------------------------------------------------------------------------

def test_cross_entropy_forms_agree_with_the_formula() -> None:
    z = rng.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    expected = -np.mean(np.log(_softmax(z)[np.arange(5), labels]))
    assert ln.CrossEntropy(from_logits=True)(z, labels) == pytest.approx(expected, rel=1e-12)
    assert ln.CrossEntropy()(_softmax(z), labels) == pytest.approx(expected, rel=1e-12)
    assert ln.CrossEntropy()(_softmax(z), np.eye(4)[labels]) == pytest.approx(expected, rel=1e-12)


def test_fused_cross_entropy_uses_the_softmax_logits() -> None:
    """Paired with a model ending in Softmax, CrossEntropy is computed on the Softmax's input."""
    model = ln.Sequential([ln.Dense(4), ln.Softmax()], input_shape=(3,), dtype=np.float64)
    x, labels = rng.standard_normal((5, 3)), np.array([0, 3, 1, 1, 2])
    objective = ln.pair(model, ln.CrossEntropy())
    assert objective.fused and objective.computed.from_logits
    assert "fused with the final Softmax" in objective.describe()
    value, z = objective.forward(x, labels, training=True)
    np.testing.assert_array_equal(z, model.forward(x, until=-1))
    expected = -np.mean(np.log(_softmax(z)[np.arange(5), labels]))
    assert value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(objective.computed.backward(), (_softmax(z) - np.eye(4)[labels]) / 5,
                               rtol=1e-12)


def test_a_probability_loss_after_logits_is_refused() -> None:
    logits_model = ln.Sequential([ln.Dense(4)], input_shape=(3,))
    with pytest.raises(ln.PairingError, match="CrossEntropy expects probabilities but the model ends "
                       "in Dense.*add Softmax as the last layer or use .*from_logits: true"):
        ln.pair(logits_model, ln.CrossEntropy())
    assert not ln.pair(logits_model, ln.CrossEntropy(from_logits=True)).fused
    softmax_model = ln.Sequential([ln.Dense(4), ln.Softmax()], input_shape=(3,))
    with pytest.raises(ln.PairingError, match="already ends in Softmax, which would be applied twice"):
        ln.pair(softmax_model, ln.CrossEntropy(from_logits=True))
    with pytest.raises(ln.PairingError, match="BinaryCrossEntropy expects probabilities.*add Sigmoid"):
        ln.pair(logits_model, ln.BinaryCrossEntropy())
    assert not ln.pair(logits_model, ln.MSE()).fused


def test_cross_entropy_on_probabilities_with_exact_zeros_stays_finite() -> None:
    probs = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    loss = ln.CrossEntropy()
    value = loss(probs, np.array([1, 2]))
    grad = loss.backward()
    assert np.isfinite(value) and value > 0
    assert np.all(np.isfinite(grad))
    assert value == pytest.approx(-np.log(1e-7) / 2)
    assert loss(probs, np.array([0, 2])) == pytest.approx(0.0, abs=1e-6)


def test_mse_is_the_mean_over_every_element() -> None:
    y_pred, y_true = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss = ln.MSE()
    assert loss(y_pred, y_true) == pytest.approx(np.mean((y_pred - y_true) ** 2), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), 2 * (y_pred - y_true) / 12, rtol=1e-12)


def test_mse_versus_the_seeds_half_sum_form() -> None:
    """The seeds' ``1/(2m) Σ (ŷ − y)²`` is layernet's mean times ``n/2`` (n outputs)."""
    y_pred, labels = rng.random((6, 10)), rng.integers(0, 10, 6)
    seeds = np.sum((y_pred - np.eye(10)[labels]) ** 2) / (2 * 6)
    assert seeds == pytest.approx(ln.MSE()(y_pred, labels) * 10 / 2, rel=1e-12)


def test_binary_cross_entropy_forms_agree() -> None:
    z = rng.standard_normal((4, 2)) * 3
    y = (rng.random((4, 2)) > 0.5).astype(float)
    p = 1 / (1 + np.exp(-z))
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert ln.BinaryCrossEntropy(from_logits=True)(z, y) == pytest.approx(expected, rel=1e-10)
    assert ln.BinaryCrossEntropy()(p, y) == pytest.approx(expected, rel=1e-10)


def test_binary_cross_entropy_accepts_a_label_vector_for_one_output() -> None:
    p = np.array([[0.2], [0.9], [0.6]])
    y = np.array([0, 1, 1])
    assert ln.BinaryCrossEntropy()(p, y) == pytest.approx(-np.mean(np.log([0.8, 0.9, 0.6])))


def test_binary_cross_entropy_is_finite_at_extremes() -> None:
    for loss, y_pred in [(ln.BinaryCrossEntropy(), np.array([[0.0, 1.0]])),
                         (ln.BinaryCrossEntropy(from_logits=True), np.array([[-1e4, 1e4]]))]:
        value = loss(y_pred, np.array([[1.0, 0.0]]))
        assert np.isfinite(value) and value > 10
        assert np.all(np.isfinite(loss.backward()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", [ln.CrossEntropy(), ln.CrossEntropy(from_logits=True), ln.MSE(),
                                  ln.BinaryCrossEntropy(), ln.BinaryCrossEntropy(from_logits=True)])
def test_loss_gradients_keep_the_prediction_dtype(loss: ln.Loss, dtype: Any) -> None:
    y_pred = rng.uniform(0.1, 0.9, (3, 2)).astype(dtype)
    loss(y_pred, np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]))
    grad = loss.backward()
    assert grad.dtype == dtype and grad.shape == y_pred.shape


@pytest.mark.parametrize("name", ["CrossEntropy", "MSE", "BinaryCrossEntropy"])
def test_backward_before_forward_is_an_error(name: str) -> None:
    with pytest.raises(RuntimeError, match="before forward"):
        ln.LOSSES.get(name)().backward()


# -- configs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["MSE", {"type": "CrossEntropy", "from_logits": True},
                                  {"type": "BinaryCrossEntropy", "from_logits": False}])
def test_loss_config_round_trip(spec: str | dict[str, Any]) -> None:
    loss = get_loss(spec)
    again = get_loss(loss_config(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    assert repr(again) == repr(loss)
    assert get_loss(loss) is loss


def test_unknown_loss_suggests_a_name() -> None:
    with pytest.raises(KeyError, match="did you mean 'CrossEntropy'"):
        get_loss("CrossEntropie")


def test_probabilities_map_logits_only_when_the_loss_takes_them() -> None:
    logits = np.array([[-2.0, 0.0, 3.0], [1.0, 1.0, 1.0]])
    softmaxed = ln.CrossEntropy(from_logits=True).probabilities(logits)
    assert np.allclose(softmaxed.sum(axis=1), 1) and softmaxed.argmax(axis=1)[0] == 2
    assert ln.CrossEntropy().probabilities(logits) is logits
    sigmoided = ln.BinaryCrossEntropy(from_logits=True).probabilities(np.array([[-1.0], [0.5]]))
    assert np.allclose(sigmoided[:, 0], 1 / (1 + np.exp([1.0, -0.5])))
    assert (sigmoided[:, 0] >= 0.5).tolist() == [False, True]
