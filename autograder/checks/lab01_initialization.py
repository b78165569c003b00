"""Checks of lab 01, Initialization: one per grade cell, named after it, reading the records of
the probes in autograder/probes/lab01_initialization.py (the student's as `got`, the
reference's as `want`).

Statistics of random weights are computed here from the weights the probe recorded, and
compared with the σ PyTorch's own conventions give (`torch.nn.init.calculate_gain`) or with
what the stand-ins the probe passed in ask for.
"""

from __future__ import annotations

import math

import torch

from autograder.checks.core import (
    choice_question,
    expect,
    expect_close,
    expect_tensor,
    number_question,
)
from autograder.probes.lab01_initialization import (
    INIT_LINEAR_CASES,
    ORTHOGONAL_SHAPES,
    SHAPES,
    stand_in_init_std,
    stand_in_uniform_bound,
)

HINTS = {"glorot": "Glorot: σ² = 1 / fan_avg with fan_avg = (fan_in + fan_out) / 2.",
         "he": "He: σ² = 2 / fan_in (fan_in only, not fan_avg).",
         "lecun": "LeCun: σ² = 1 / fan_in."}


def test_init_std(got, want):
    for fan_in, fan_out in SHAPES:
        for scheme, hint in HINTS.items():
            key = f"init_std({fan_in}, {fan_out}, {scheme!r})"
            expect_close(got[key], want[key], what=key, rtol=1e-6, hint=hint)
    raised = got["init_std(10, 10, 'xavier')"]
    expect(type(raised) is list and "ValueError" in raised,
           "init_std(10, 10, 'xavier') should raise ValueError for an unknown scheme.")


def test_uniform_bound(got, want):
    for key in want.keys("uniform_bound("):
        expect_close(got[key], want[key], what=key, rtol=1e-6,
                     hint="U(-r, r) has variance r²/3, so r = √(3σ²).")


def test_init_linear(got, want):
    for (fan_in, fan_out), scheme in INIT_LINEAR_CASES:
        for distribution in ("normal", "uniform"):
            where = f"init_linear_(nn.Linear({fan_in}, {fan_out}), {scheme!r}, {distribution!r})"
            expect(got[f"{where} returns its layer"] is True,
                   f"{where} must return the same layer it initialized in place.")
            weight = expect_tensor(got[f"{where} weight"], what=f"{where}: the weight",
                                   like=want[f"{where} weight"])
            std = stand_in_init_std(fan_in, fan_out, scheme)
            bound = stand_in_uniform_bound(std)
            expected_std = std if distribution == "normal" else bound / math.sqrt(3)
            expect_close(weight.double().std().item(), expected_std, what=f"{where}: std of the weights",
                         rtol=0.03, hint="Use σ = init_std(layer.in_features, layer.out_features, "
                                         "scheme), and r = uniform_bound(σ) for the uniform case.")
            mean = weight.double().mean().item()
            expect(abs(mean) < 0.05 * std, f"{where}: the weights should have mean 0, got {mean:.3g}.")
            bias = expect_tensor(got[f"{where} bias"], what=f"{where}: the bias")
            expect(bool((bias == 0).all()),
                   f"{where}: the bias must be zero after initialization (it kept its old values).")
            beyond = (weight.abs() > bound * (1 + 1e-6)).double().mean().item()
            if distribution == "uniform":
                expect(beyond == 0, f"{where}: a uniform init keeps every weight within ±r = "
                                    f"uniform_bound(σ), but {beyond:.1%} lie outside.")
            else:
                wide = (weight.abs() > math.sqrt(3) * std).double().mean().item()
                expect(wide > 0.04, f"{where}: these weights look uniform; a normal init puts "
                                    f"about 8% of them beyond ±√3σ, here {wide:.1%}.")
    got["no bias"]


def test_apply_init(got, want):
    for scheme, distribution in (("he", "normal"), ("glorot", "uniform")):
        where = f"apply_init(model, {scheme!r}, {distribution!r})"
        expect(got[f"{where} returns its model"] is True, "apply_init must return the model it initialized.")
        mine, theirs = got[f"{where} state"], want[f"{where} state"]
        expect(type(mine) is dict and set(mine) == set(theirs),
               f"{where}: the model's parameters changed names or number.")
        linears = [name for name in theirs if name.endswith("weight") and theirs[name].dim() == 2]
        for index, name in enumerate(linears, start=1):
            expect(torch.equal(mine[name], theirs[name]),
                   f"{where}: Linear layer {index} of {len(linears)} ({name}) was not initialized by "
                   f"init_linear_(layer, {scheme!r}, {distribution!r}). Every nn.Linear, nested "
                   "ones included, must be: walk model.modules() or use model.apply.")
        for name, value in theirs.items():
            expect(torch.equal(mine[name], value),
                   f"{where} left {name} different from what init_linear_ on every nn.Linear gives: "
                   "only nn.Linear layers are initialized, each with init_linear_, and nothing else.")


def test_layer_stats(got, want):
    stats, expected = got["stats"], want["stats"]
    expect(type(stats) is list and len(stats) == len(expected),
           f"layer_stats should return a list with one dict per nn.Linear ({len(expected)} here), "
           f"got {type(stats).__name__} of length {len(stats) if type(stats) is list else '?'}.")
    for index, (mine, theirs) in enumerate(zip(stats, expected), start=1):
        expect(type(mine) is dict and {"mean", "std", "grad_norm"} <= set(mine),
               f"layer {index}: each entry must be a dict with keys 'mean', 'std' and 'grad_norm'.")
        expect_close(mine["mean"], theirs["mean"], what=f"layer {index} output mean", rtol=1e-3,
                     atol=1e-4, hint="Record each nn.Linear's output with a forward hook.")
        expect_close(mine["std"], theirs["std"], what=f"layer {index} output std", rtol=1e-2,
                     hint="The std of the layer's output (what the hook's `output` is), "
                          "not of its input.")
        expect_close(mine["grad_norm"], theirs["grad_norm"], what=f"layer {index} weight-gradient norm",
                     rtol=1e-3, hint="One backward pass of loss_fn(model(X), y); the norm of "
                                     "layer.weight.grad.")
    expect(got["hooks left"] is False,
           "layer_stats left forward hooks on the model: remove them (handle.remove()) "
           "when you are done, or every later forward pass will run them.")
    again = got["stats again"]
    expect(type(again) is list and again and type(again[0]) is dict and "grad_norm" in again[0],
           "layer_stats called a second time should return the same kind of list.")
    expect_close(again[0]["grad_norm"], want["stats again"][0]["grad_norm"], rtol=1e-3,
                 what="layer 1 weight-gradient norm on a second call",
                 hint="Gradients accumulate: zero them (model.zero_grad()) before backward().")


def test_orthogonal_init(got, want):
    for rows, cols in ORTHOGONAL_SHAPES:
        where = f"orthogonal_init_(nn.Linear({cols}, {rows}))"
        expect(got[f"{where} returns its layer"] is True,
               f"{where} must return the layer it initialized in place.")
        W = expect_tensor(got[f"{where} weight"], what=f"{where}: the weight",
                          like=want[f"{where} weight"]).double()
        gram = W @ W.T if rows <= cols else W.T @ W
        expect_close(gram, torch.eye(min(rows, cols), dtype=torch.float64), rtol=0, atol=1e-5,
                     what=f"{where}: W Wᵀ (or Wᵀ W for tall W) against the identity",
                     hint="Orthonormal rows (or columns), as torch.nn.init.orthogonal_ gives.")
        bias = expect_tensor(got[f"{where} bias"], what=f"{where}: the bias")
        expect(bool((bias == 0).all()), f"{where}: the bias must be zero.")
    first, second = (expect_tensor(got[f"{call} weight"], what="orthogonal_init_: the weight",
                                   like=want[f"{call} weight"]) for call in ("first", "second"))
    expect(not torch.allclose(first, second),
           "orthogonal_init_ gave the same matrix twice: start from a random matrix each call.")
    x = torch.randn(32, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expect_close((second.double() @ x).norm(dim=0), x.norm(dim=0), rtol=1e-4,
                 what="‖Wx‖ against ‖x‖ for a square orthogonal W")


test_q1_same_value = choice_question("Q1")
test_q2_zero_bias = choice_question("Q2")
test_q3_he_std = number_question("Q3")
test_q4_default_ratio = number_question("Q4")
test_q5_selu_init = choice_question("Q5")
test_q6_relu_default_factor = number_question("Q6")
