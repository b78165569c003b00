"""Probes of lab 01, Initialization: one per grade cell, named after it (checks in
autograder/checks/lab01_initialization.py).

`init_linear_` and `apply_init` run with stand-ins for the exercises they build on: an
`init_std` whose value encodes its arguments, a `uniform_bound` of 2σ, an `init_linear_` that
writes a mark per (scheme, distribution). They are not the answers; they let the check see
that the student's code passes the right arguments on and uses what it gets back.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from autograder.probes.core import answer, forbidden, probe, with_globals

SHAPES = [(100, 100), (784, 300), (300, 100), (3, 1000), (1000, 3)]
SCHEMES = ("glorot", "he", "lecun")
NN_INIT_FUNCTIONS = ("normal_", "uniform_", "xavier_normal_", "xavier_uniform_", "kaiming_normal_",
                     "kaiming_uniform_", "trunc_normal_", "orthogonal_", "constant_", "zeros_")
SCHEME_SCALE = {"glorot": 1.0, "he": 1.5, "lecun": 2.0}
MARKS = {(scheme, distribution): float(index + 1) for index, (scheme, distribution)
         in enumerate(itertools.product(SCHEMES, ("normal", "uniform")))}


def stand_in_init_std(fan_in: int, fan_out: int, scheme: str) -> float:
    """A σ that tells the arguments apart (swapped fans or the wrong scheme change it)."""
    return SCHEME_SCALE[scheme] * (0.01 + fan_in / 1e5 + fan_out / 1e6)


def stand_in_uniform_bound(std: float) -> float:
    return 2.0 * std


def stand_in_init_linear_(layer: nn.Linear, scheme: str, distribution: str = "normal") -> nn.Linear:
    """Writes the mark of (scheme, distribution) into the weights, zero into the bias."""
    with torch.no_grad():
        for name, parameter in layer.named_parameters():
            parameter.fill_(MARKS[(scheme, distribution)] if name == "weight" else 0.0)
    return layer.requires_grad_(True)


@probe
def test_init_std(see, init_std):
    for fan_in, fan_out in SHAPES:
        for scheme in SCHEMES:
            key = f"init_std({fan_in}, {fan_out}, {scheme!r})"
            see.call(key, init_std, fan_in, fan_out, scheme, what=key)
    see.raises("init_std(10, 10, 'xavier')", init_std, 10, 10, "xavier")


@probe
def test_uniform_bound(see, uniform_bound):
    for std in (1.0, 0.1, 0.05, 2.5e-3, 0.2):
        see.call(f"uniform_bound({std})", uniform_bound, std, what=f"uniform_bound({std})")


INIT_LINEAR_CASES = [((784, 300), "he"), ((300, 100), "glorot"), ((500, 500), "lecun")]


@probe
def test_init_linear(see, init_linear_):
    init_linear_ = with_globals(init_linear_, init_std=stand_in_init_std,
                                uniform_bound=stand_in_uniform_bound)
    torch.manual_seed(1)
    for (fan_in, fan_out), scheme in INIT_LINEAR_CASES:
        for distribution in ("normal", "uniform"):
            layer = nn.Linear(fan_in, fan_out)
            layer.bias.data.uniform_(0.5, 1.0)
            where = f"init_linear_(nn.Linear({fan_in}, {fan_out}), {scheme!r}, {distribution!r})"
            with forbidden(nn.init, NN_INIT_FUNCTIONS,
                           "init_linear_ must not use torch.nn.init: draw the weights yourself "
                           "(for example with layer.weight.normal_ inside torch.no_grad())."):
                returned = see.call(where, init_linear_, layer, scheme, distribution, what=where,
                                    record=False)
            see(f"{where} returns its layer", returned is layer)
            see(f"{where} weight", layer.weight)
            see(f"{where} bias", layer.bias)
    see.call("no bias", init_linear_, nn.Linear(20, 10, bias=False), "he",
             what="init_linear_ on a layer without bias", record=False)


def apply_init_model() -> nn.Sequential:
    """Linear layers nested two deep, a batch norm in between, biases and weights set to 0.3."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(40, 30), nn.ReLU(),
                          nn.Sequential(nn.Linear(30, 30), nn.BatchNorm1d(30), nn.ReLU(),
                                        nn.Sequential(nn.Linear(30, 20))),
                          nn.Linear(20, 10))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(0.3)
    return model


@probe
def test_apply_init(see, apply_init):
    apply_init = with_globals(apply_init, init_linear_=stand_in_init_linear_)
    for scheme, distribution in (("he", "normal"), ("glorot", "uniform")):
        model = apply_init_model()
        where = f"apply_init(model, {scheme!r}, {distribution!r})"
        returned = see.call(where, apply_init, model, scheme, distribution, what=where, record=False)
        see(f"{where} returns its model", returned is model)
        see(f"{where} state", model.state_dict())


def stats_model(depth: int = 4) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    sizes = [64] + [48] * depth
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), nn.Tanh()]
    layers.append(nn.Linear(sizes[-1], 5))
    return nn.Sequential(*layers)


@probe
def test_layer_stats(see, layer_stats):
    torch.manual_seed(3)
    model = stats_model()
    X, y = torch.randn(256, 64) * 2 + 0.5, torch.randint(0, 5, (256,))
    see.call("stats", layer_stats, model, X, y, nn.CrossEntropyLoss(),
             what="layer_stats(model, X, y, loss_fn)")
    see("hooks left", any(bool(module._forward_hooks) for module in model.modules()))
    see.call("stats again", layer_stats, model, X, y, nn.CrossEntropyLoss(),
             what="layer_stats called twice")


ORTHOGONAL_SHAPES = [(64, 64), (100, 30), (30, 100)]


@probe
def test_orthogonal_init(see, orthogonal_init_):
    for rows, cols in ORTHOGONAL_SHAPES:
        torch.manual_seed(4)
        layer = nn.Linear(cols, rows)
        where = f"orthogonal_init_(nn.Linear({cols}, {rows}))"
        with forbidden(nn.init, ("orthogonal_",),
                       "orthogonal_init_ must build Q itself from torch.linalg.qr, "
                       "not call torch.nn.init.orthogonal_."):
            returned = see.call(where, orthogonal_init_, layer, what=where, record=False)
        see(f"{where} returns its layer", returned is layer)
        see(f"{where} weight", layer.weight)
        see(f"{where} bias", layer.bias)
    torch.manual_seed(5)
    for call in ("first", "second"):
        layer = see.call(call, orthogonal_init_, nn.Linear(32, 32), record=False)
        see(f"{call} weight", layer.weight)


test_q1_same_value = answer("test_q1_same_value")
test_q2_zero_bias = answer("test_q2_zero_bias")
test_q3_he_std = answer("test_q3_he_std")
test_q4_default_ratio = answer("test_q4_default_ratio")
test_q5_selu_init = answer("test_q5_selu_init")
test_q6_relu_default_factor = answer("test_q6_relu_default_factor")
