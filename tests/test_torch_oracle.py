"""PyTorch as an oracle: layers, losses and optimisers agree in float64 to 1e-6 relative.

Skipped when torch is not installed. layernet's Dense weight is ``(in, out)``,
torch's Linear weight is ``(out, in)``: the weights are copied transposed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet.optimizers import get_optimizer

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = pytest.mark.torch

RTOL = 1e-6


def assert_close(actual: Any, expected: Any) -> None:
    """Element-wise relative agreement to 1e-6 (absolute 1e-12 for values near zero)."""
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=RTOL, atol=1e-12)


def torch_twin(model: ln.Sequential) -> torch.nn.Sequential:
    """The same network in torch, float64, with layernet's weights."""
    modules: list[torch.nn.Module] = []
    for layer in model:
        if isinstance(layer, ln.Dense):
            linear = torch.nn.Linear(*layer.weight.shape, bias=layer.bias is not None,
                                     dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(layer.weight.value.T.copy()))
                if layer.bias is not None:
                    linear.bias.copy_(torch.from_numpy(layer.bias.value.copy()))
            modules.append(linear)
        elif isinstance(layer, ln.LeakyReLU):
            modules.append(torch.nn.LeakyReLU(layer.alpha))
        else:
            modules.append({ln.ReLU: torch.nn.ReLU(), ln.Sigmoid: torch.nn.Sigmoid(),
                            ln.Tanh: torch.nn.Tanh(), ln.Softmax: torch.nn.Softmax(dim=1)}
                           [type(layer)])
    return torch.nn.Sequential(*modules)


def torch_grads(twin: torch.nn.Sequential) -> list[np.ndarray]:
    """Parameter gradients in layernet's layout (Linear weights transposed back)."""
    return [p.grad.numpy().T if p.ndim == 2 else p.grad.numpy() for p in twin.parameters()]


STACKS = {
    "relu": lambda: [ln.Dense(7), ln.ReLU(), ln.Dense(3)],
    "leaky_sigmoid": lambda: [ln.Dense(6), ln.LeakyReLU(0.1), ln.Dense(4), ln.Sigmoid()],
    "tanh_softmax": lambda: [ln.Dense(5), ln.Tanh(), ln.Dense(4, use_bias=False), ln.Softmax()],
    "deep": lambda: [ln.Dense(8), ln.Sigmoid(), ln.Dense(6), ln.ReLU(), ln.Dense(5), ln.Tanh(),
                     ln.Dense(4), ln.LeakyReLU(0.3), ln.Dense(3), ln.Softmax()],
}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_layer_stacks_match_torch(stack: str) -> None:
    model = ln.Sequential(STACKS[stack](), input_shape=(5,), seed=1, dtype=np.float64)
    twin = torch_twin(model)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 5))
    projection = rng.standard_normal((6, *model.output_shape))

    y = model.forward(x)
    dx = model.backward(projection)
    xt = torch.from_numpy(x.copy()).requires_grad_()
    yt = twin(xt)
    (yt * torch.from_numpy(projection)).sum().backward()

    assert_close(y, yt)
    assert_close(dx, xt.grad)
    for mine, theirs in zip((p.grad for p in model.parameters()), torch_grads(twin), strict=True):
        assert_close(mine, theirs)


def test_softmax_cross_entropy_model_matches_torch_cross_entropy() -> None:
    model = ln.Sequential([ln.Dense(6), ln.ReLU(), ln.Dense(4), ln.Softmax()],
                          input_shape=(5,), seed=3, dtype=np.float64)
    twin = torch_twin(model)[:-1]                    # torch takes logits
    rng = np.random.default_rng(3)
    x, labels = rng.standard_normal((7, 5)), rng.integers(0, 4, 7)
    loss = ln.CrossEntropy()
    value = loss(model.forward(x), labels)
    dx = model.backward(loss.backward())
    xt = torch.from_numpy(x.copy()).requires_grad_()
    expected = F.cross_entropy(twin(xt), torch.from_numpy(labels))
    expected.backward()
    assert_close(value, expected)
    assert_close(dx, xt.grad)
    for mine, theirs in zip((p.grad for p in model.parameters()), torch_grads(twin), strict=True):
        assert_close(mine, theirs)


# -- losses ------------------------------------------------------------------------------------------

def _probs(z: Any) -> Any:
    return torch.softmax(z, dim=1)


rng = np.random.default_rng(5)
LABELS = rng.integers(0, 4, 6)
ONE_HOT = np.eye(4)[LABELS]
SOFT = rng.dirichlet(np.ones(4), 6)
BINARY = (rng.random((6, 4)) > 0.5).astype(float)

#: (layernet loss, how its input is made from z, torch loss of z, targets)
LOSS_CASES = {
    "ce_logits_labels": (ln.CrossEntropy(from_logits=True), lambda z: z,
                         lambda z: F.cross_entropy(z, torch.from_numpy(LABELS)), LABELS),
    "ce_logits_onehot": (ln.CrossEntropy(from_logits=True), lambda z: z,
                         lambda z: F.cross_entropy(z, torch.from_numpy(ONE_HOT)), ONE_HOT),
    "ce_logits_soft": (ln.CrossEntropy(from_logits=True), lambda z: z,
                       lambda z: F.cross_entropy(z, torch.from_numpy(SOFT)), SOFT),
    "ce_probabilities": (ln.CrossEntropy(), _probs,
                         lambda p: F.nll_loss(torch.log(p), torch.from_numpy(LABELS)), LABELS),
    "mse": (ln.MSE(), lambda z: z, lambda z: F.mse_loss(z, torch.from_numpy(SOFT)), SOFT),
    "mse_labels": (ln.MSE(), lambda z: z, lambda z: F.mse_loss(z, torch.from_numpy(ONE_HOT)), LABELS),
    "bce": (ln.BinaryCrossEntropy(), torch.sigmoid,
            lambda p: F.binary_cross_entropy(p, torch.from_numpy(BINARY)), BINARY),
    "bce_logits": (ln.BinaryCrossEntropy(from_logits=True), lambda z: z,
                   lambda z: F.binary_cross_entropy_with_logits(z, torch.from_numpy(SOFT)), SOFT),
}


@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_losses_match_torch(case: str) -> None:
    loss, make_input, torch_loss, targets = LOSS_CASES[case]
    z = torch.from_numpy(np.random.default_rng(6).standard_normal((6, 4)) * 2)
    y_pred = make_input(z).detach().requires_grad_()
    expected = torch_loss(y_pred)
    expected.backward()
    assert_close(loss(y_pred.detach().numpy().copy(), targets), expected)
    assert_close(loss.backward(), y_pred.grad)


def test_every_loss_is_compared_with_torch() -> None:
    compared = {type(loss).__name__ for loss, *_ in LOSS_CASES.values()}
    assert compared == {n for n, c in ln.LOSSES.items() if c.__module__.startswith("layernet.")}


# -- optimisers ------------------------------------------------------------------------------------------

OPTIMIZERS = {
    "sgd": ({"type": "SGD", "lr": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1)),
    "sgd_momentum": ({"type": "SGD", "lr": 0.05, "momentum": 0.9},
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "sgd_nesterov": ({"type": "SGD", "lr": 0.05, "momentum": 0.8, "nesterov": True},
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True)),
    "sgd_weight_decay": ({"type": "SGD", "lr": 0.05, "momentum": 0.5, "weight_decay": 0.1},
                         lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5, weight_decay=0.1)),
    "adam": ({"type": "Adam", "lr": 0.01, "betas": [0.8, 0.95], "eps": 1e-6},
             lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.95), eps=1e-6)),
    "adam_weight_decay": ({"type": "Adam", "lr": 0.01, "weight_decay": 0.05},
                          lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.05)),
    "adamw": ({"type": "AdamW", "lr": 0.01, "weight_decay": 0.1},
              lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
}


def gradient(value: np.ndarray, step: int, index: int) -> np.ndarray:
    """A gradient that depends on the step and on the current parameter value."""
    noise = np.random.default_rng(100 * step + index).standard_normal(value.shape)
    return noise + 0.5 * value ** 2


@pytest.mark.parametrize("resume", [False, True], ids=["straight", "resumed"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_ten_optimizer_steps_match_torch(name: str, resume: bool) -> None:
    spec, make_torch = OPTIMIZERS[name]
    model = ln.Sequential([ln.Dense(4), ln.Tanh(), ln.Dense(3)], input_shape=(5,), seed=7,
                          dtype=np.float64)
    params = model.parameters()
    tensors = [torch.from_numpy(p.value.copy()).requires_grad_() for p in params]
    optimizer, reference = get_optimizer(spec, params), make_torch(tensors)
    for step in range(10):
        if resume and step == 5:
            state = {k: v.copy() for k, v in optimizer.state_dict().items()}
            optimizer = get_optimizer(spec, params)
            optimizer.load_state_dict(state)
        for i, (p, t) in enumerate(zip(params, tensors)):
            p.grad[...] = gradient(p.value, step, i)
            t.grad = torch.from_numpy(gradient(t.detach().numpy(), step, i))
        optimizer.step()
        reference.step()
        optimizer.zero_grad()
        for p, t in zip(params, tensors):
            assert_close(p.value, t)
