"""Hidden tests of lab 01, Initialization: one function per grade cell, named after it.

Expected values come from PyTorch where it has the thing (`torch.nn.init.calculate_gain`,
orthogonality as `torch.nn.init.orthogonal_` guarantees it) and from `solutions` otherwise.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from autograder.checks.core import (
    call,
    expect,
    expect_choice,
    expect_close,
    expect_number,
    expect_raises,
    fail,
    forbidden,
    hidden_test,
    reference,
    with_globals,
)

ref = reference("solutions.lab01_initialization")
SHAPES = [(100, 100), (784, 300), (300, 100), (3, 1000), (1000, 3)]
NN_INIT_FUNCTIONS = ("normal_", "uniform_", "xavier_normal_", "xavier_uniform_", "kaiming_normal_",
                     "kaiming_uniform_", "trunc_normal_", "orthogonal_", "constant_", "zeros_")


def pytorch_std(fan_in: int, fan_out: int, scheme: str) -> float:
    """The std PyTorch's own initializers use for `scheme`, from its gain and fan conventions."""
    if scheme == "glorot":
        return nn.init.calculate_gain("linear") * math.sqrt(2.0 / (fan_in + fan_out))
    if scheme == "he":
        return nn.init.calculate_gain("relu") / math.sqrt(fan_in)
    return nn.init.calculate_gain("linear") / math.sqrt(fan_in)


@hidden_test
def test_init_std(init_std):
    hints = {"glorot": "Glorot: σ² = 1 / fan_avg with fan_avg = (fan_in + fan_out) / 2.",
             "he": "He: σ² = 2 / fan_in (fan_in only, not fan_avg).",
             "lecun": "LeCun: σ² = 1 / fan_in."}
    for fan_in, fan_out in SHAPES:
        for scheme, hint in hints.items():
            got = call(init_std, fan_in, fan_out, scheme,
                       what=f"init_std({fan_in}, {fan_out}, {scheme!r})")
            expect_close(got, pytorch_std(fan_in, fan_out, scheme),
                         what=f"init_std({fan_in}, {fan_out}, {scheme!r})", rtol=1e-6, hint=hint)
    expect_raises(ValueError, init_std, 10, 10, "xavier",
                  message="init_std(10, 10, 'xavier') should raise ValueError for an unknown scheme")


@hidden_test
def test_uniform_bound(uniform_bound):
    for std in (1.0, 0.1, 0.05, 2.5e-3):
        r = call(uniform_bound, std, what=f"uniform_bound({std})")
        expect_close(r, math.sqrt(3) * std, what=f"uniform_bound({std})", rtol=1e-6,
                     hint="U(-r, r) has variance r²/3, so r = √(3σ²).")
    torch.manual_seed(0)
    r = call(uniform_bound, 0.2)
    samples = torch.empty(200_000).uniform_(-float(r), float(r))
    expect_close(samples.std().item(), 0.2, what="std of U(-r, r) samples with r = uniform_bound(0.2)",
                 rtol=0.02)


def _reference_init_std_scope() -> dict:
    return {"init_std": ref.init_std, "uniform_bound": ref.uniform_bound}


@hidden_test
def test_init_linear(init_linear_):
    init_linear_ = with_globals(init_linear_, **_reference_init_std_scope())
    torch.manual_seed(1)
    for (fan_in, fan_out), scheme in zip([(784, 300), (300, 100), (500, 500)], ["he", "glorot", "lecun"]):
        for distribution in ("normal", "uniform"):
            layer = nn.Linear(fan_in, fan_out)
            layer.bias.data.uniform_(0.5, 1.0)
            where = f"init_linear_(nn.Linear({fan_in}, {fan_out}), {scheme!r}, {distribution!r})"
            with forbidden(nn.init, NN_INIT_FUNCTIONS,
                           "init_linear_ must not use torch.nn.init: draw the weights yourself "
                           "(for example with layer.weight.normal_ inside torch.no_grad())."):
                returned = call(init_linear_, layer, scheme, distribution, what=where)
            expect(returned is layer, f"{where} must return the same layer it initialized in place.")
            weight = layer.weight.detach()
            std = pytorch_std(fan_in, fan_out, scheme)
            expect_close(weight.std().item(), std, what=f"{where}: std of the weights", rtol=0.03,
                         hint="Use init_std for σ (and uniform_bound for the uniform case).")
            expect(abs(weight.mean().item()) < 0.05 * std,
                   f"{where}: the weights should have mean 0, got {weight.mean().item():.3g}.")
            expect(bool((layer.bias.detach() == 0).all()),
                   f"{where}: the bias must be zero after initialization (it kept its old values).")
            bound = math.sqrt(3) * std
            beyond = (weight.abs() > bound * (1 + 1e-6)).float().mean().item()
            if distribution == "uniform":
                expect(beyond == 0, f"{where}: a uniform init keeps every weight within ±r = "
                                    f"{bound:.4g}, but {beyond:.1%} lie outside.")
            else:
                expect(beyond > 0.04, f"{where}: these weights look uniform; a normal init puts "
                                      f"about 8% of them beyond ±√3σ, here {beyond:.1%}.")
    no_bias = nn.Linear(20, 10, bias=False)
    call(init_linear_, no_bias, "he", what="init_linear_ on a layer without bias")


@hidden_test
def test_apply_init(apply_init):
    apply_init = with_globals(apply_init, init_linear_=ref.init_linear_,
                              **_reference_init_std_scope())
    torch.manual_seed(2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(400, 300), nn.ReLU(),
                          nn.Sequential(nn.Linear(300, 300), nn.BatchNorm1d(300), nn.ReLU()),
                          nn.Linear(300, 10))
    for module in model.modules():
        if isinstance(module, nn.Linear):
            module.bias.data.fill_(0.3)
    batch_norm = model[3][1]
    batch_norm.weight.data.fill_(0.7)
    returned = call(apply_init, model, "he", "normal", what="apply_init(model, 'he')")
    expect(returned is model, "apply_init must return the model it initialized.")
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    for index, layer in enumerate(linears, start=1):
        std = pytorch_std(layer.in_features, layer.out_features, "he")
        expect_close(layer.weight.std().item(), std, rtol=0.05,
                     what=f"apply_init: std of Linear layer {index} of {len(linears)}",
                     hint="Every nn.Linear, nested ones included, must be initialized.")
        expect(bool((layer.bias == 0).all()), f"apply_init: Linear layer {index} kept a non-zero bias.")
    expect(bool((batch_norm.weight == 0.7).all()),
           "apply_init changed a BatchNorm1d layer: only nn.Linear layers should be touched.")
    returned = call(apply_init, nn.Sequential(nn.Linear(50, 50)), "glorot", "uniform",
                    what="apply_init(model, 'glorot', 'uniform')")
    bound = math.sqrt(3) * pytorch_std(50, 50, "glorot")
    expect(returned[0].weight.abs().max().item() <= bound * (1 + 1e-6),
           "apply_init must pass `distribution` on to init_linear_ (uniform weights stay within ±r).")


def _stats_model(depth: int = 4) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    sizes = [64] + [48] * depth
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), nn.Tanh()]
    layers.append(nn.Linear(sizes[-1], 5))
    return nn.Sequential(*layers)


@hidden_test
def test_layer_stats(layer_stats):
    torch.manual_seed(3)
    model = _stats_model()
    X, y = torch.randn(256, 64) * 2 + 0.5, torch.randint(0, 5, (256,))
    expected = ref.layer_stats(model, X, y, nn.CrossEntropyLoss())
    got = call(layer_stats, model, X, y, nn.CrossEntropyLoss(), what="layer_stats(model, X, y, loss_fn)")
    expect(isinstance(got, list) and len(got) == len(expected),
           f"layer_stats should return a list with one dict per nn.Linear ({len(expected)} here), "
           f"got {type(got).__name__} of length {len(got) if hasattr(got, '__len__') else '?'}.")
    for index, (mine, theirs) in enumerate(zip(got, expected), start=1):
        expect(isinstance(mine, dict) and {"mean", "std", "grad_norm"} <= set(mine),
               f"layer {index}: each entry must be a dict with keys 'mean', 'std' and 'grad_norm'.")
        expect_close(mine["mean"], theirs["mean"], what=f"layer {index} output mean", rtol=1e-3,
                     atol=1e-4, hint="Record each nn.Linear's output with a forward hook.")
        expect_close(mine["std"], theirs["std"], what=f"layer {index} output std", rtol=1e-2,
                     hint="The std of the layer's output (what the hook's `output` is), "
                          "not of its input.")
        expect_close(mine["grad_norm"], theirs["grad_norm"], what=f"layer {index} weight-gradient norm",
                     rtol=1e-3, hint="One backward pass of loss_fn(model(X), y); the norm of "
                                     "layer.weight.grad.")
    for module in model.modules():
        if module._forward_hooks:
            fail("layer_stats left forward hooks on the model: remove them (handle.remove()) "
                 "when you are done, or every later forward pass will run them.")
    again = call(layer_stats, model, X, y, nn.CrossEntropyLoss(), what="layer_stats called twice")
    expect_close(again[0]["grad_norm"], expected[0]["grad_norm"], rtol=1e-3,
                 what="layer 1 weight-gradient norm on a second call",
                 hint="Gradients accumulate: zero them (model.zero_grad()) before backward().")


@hidden_test
def test_orthogonal_init(orthogonal_init_):
    for rows, cols in [(64, 64), (100, 30), (30, 100)]:
        torch.manual_seed(4)
        layer = nn.Linear(cols, rows)
        where = f"orthogonal_init_(nn.Linear({cols}, {rows}))"
        with forbidden(nn.init, ("orthogonal_",),
                       "orthogonal_init_ must build Q itself from torch.linalg.qr, "
                       "not call torch.nn.init.orthogonal_."):
            returned = call(orthogonal_init_, layer, what=where)
        expect(returned is layer, f"{where} must return the layer it initialized in place.")
        W = layer.weight.detach().double()
        gram = W @ W.T if rows <= cols else W.T @ W
        expect_close(gram, torch.eye(min(rows, cols), dtype=torch.float64), rtol=0, atol=1e-5,
                     what=f"{where}: W Wᵀ (or Wᵀ W for tall W) against the identity",
                     hint="Orthonormal rows (or columns), as torch.nn.init.orthogonal_ gives.")
        expect(bool((layer.bias == 0).all()), f"{where}: the bias must be zero.")
    torch.manual_seed(5)
    first = call(orthogonal_init_, nn.Linear(32, 32)).weight.detach().clone()
    second = call(orthogonal_init_, nn.Linear(32, 32)).weight.detach()
    expect(not torch.allclose(first, second),
           "orthogonal_init_ gave the same matrix twice: start from a random matrix each call.")
    x = torch.randn(32, 10)
    expect_close((second @ x).norm(dim=0), x.norm(dim=0), rtol=1e-4,
                 what="‖Wx‖ against ‖x‖ for a square orthogonal W")


@hidden_test
def test_q1_same_value(Q1):
    expect_choice(Q1, ref.Q1, question="Q1")


@hidden_test
def test_q2_zero_bias(Q2):
    expect_choice(Q2, ref.Q2, question="Q2")


@hidden_test
def test_q3_he_std(Q3):
    expect_number(Q3, ref.Q3, question="Q3")


@hidden_test
def test_q4_default_ratio(Q4):
    expect_number(Q4, ref.Q4, question="Q4")


@hidden_test
def test_q5_selu_init(Q5):
    expect_choice(Q5, ref.Q5, question="Q5")


@hidden_test
def test_q6_relu_default_factor(Q6):
    expect_number(Q6, ref.Q6, question="Q6")
