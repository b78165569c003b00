"""Hidden tests of lab 08, Regularization: one function per grade cell, named after it.

Expected values come from PyTorch where it has the thing (`torch.renorm` for max-norm,
`torch.optim.AdamW` accepting the parameter groups, `nn.Dropout` statistics, `state_dict`
round trips) and from `solutions` otherwise. Every random draw is seeded inside the check.
"""

from __future__ import annotations

import copy
import types

import torch
import torch.nn.functional as F
from torch import nn

import labs
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

ref = reference("solutions.lab08_regularization")

F_DROPOUTS = ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
              "feature_alpha_dropout")
TORCH_DROPOUTS = ("dropout", "dropout_", "native_dropout", "alpha_dropout", "feature_dropout",
                  "feature_alpha_dropout")
NN_DROPOUTS = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
               "FeatureAlphaDropout")
NO_LIBRARY_DROPOUT = ("dropout must be written from scratch: draw the mask yourself (torch.rand_like "
                      "or torch.bernoulli), without F.dropout, torch.dropout or nn.Dropout.")


def with_reference_methods(cls: type, **names: object) -> type:
    """A subclass of a student's class whose methods see `names` (reference helpers) as globals."""
    if not isinstance(cls, type):
        return cls
    methods = {key: with_globals(value, **names) for key, value in vars(cls).items()
               if isinstance(value, types.FunctionType)}
    return type(cls.__name__, (cls,), methods)


# --- ℓ1 and ℓ2 penalties ---------------------------------------------------------------------

class _TwoBranches(nn.Module):
    """Conv, Linear and normalization layers, nested, with biases and affine norm parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 8), nn.LayerNorm(8),
                                  nn.Linear(8, 4, bias=False))
        self.side = nn.Conv1d(2, 2, 3)


def _penalty_model() -> nn.Module:
    torch.manual_seed(10)
    model = _TwoBranches()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.copy_(torch.randn_like(parameter) * (0.5 if "weight" in name else 1.5)
                            + (1.0 if parameter.ndim == 1 else 0.0))
    return model


def _weights(model: nn.Module) -> list[nn.Parameter]:
    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
    return [m.weight for m in model.modules() if isinstance(m, kinds)]


def _check_penalty(penalty, name: str, term, formula: str) -> None:
    model = _penalty_model()
    weights = _weights(model)
    weight_ids = {id(w) for w in weights}
    expected = sum(term(w).sum() for w in weights).item()
    with_biases = sum(term(p).sum() for n, p in model.named_parameters()
                      if id(p) in weight_ids or n.endswith("bias")).item()
    every = sum(term(p).sum() for p in model.parameters()).item()
    named_weight = sum(term(p).sum() for n, p in model.named_parameters()
                       if n.endswith("weight")).item()
    got = call(penalty, model, what=f"{name}(model)")
    expect(isinstance(got, torch.Tensor),
           f"{name} must return a tensor (so the penalty can be added to the loss and "
           f"differentiated), got {type(got).__name__}.")
    expect(got.numel() == 1, f"{name} must return a single number (a 0-dim tensor), "
                             f"got shape {tuple(got.shape)}.")
    value = got.detach().double().sum().item()
    hints = {with_biases: "it includes the biases: penalize weights only.",
             every: "it includes every parameter: biases and normalization parameters "
                    "must not be penalized.",
             named_weight: "it includes the weights of the BatchNorm/LayerNorm layers: only "
                           "nn.Linear and nn.Conv1d/2d/3d weights count (choose by module type)."}
    if name == "l2_penalty":
        hints[expected / 2] = "it has a factor ½: this lab's ℓ2 penalty is Σw², without ½."
        hints[expected ** 0.5] = "it is the norm ‖w‖; the penalty is the sum of squares Σw²."
    for wrong_value, hint in hints.items():
        if abs(value - expected) > 1e-4 * abs(expected) and \
                abs(value - wrong_value) <= 1e-4 * abs(wrong_value):
            fail(f"{name}(model) = {value:.6g}, expected {expected:.6g} = {formula}: {hint}")
    expect_close(value, expected, what=f"{name}(model)", rtol=1e-5,
                 hint=f"Sum {formula} over the `weight` of every nn.Linear and nn.Conv1d/2d/3d, "
                      "nested layers included; no biases, no normalization parameters.")
    expect(got.requires_grad, f"{name}(model) does not require grad: build it from the weights "
                              "with tensor operations (no .item(), no .detach(), no torch.no_grad()), "
                              "so the penalty's gradient reaches the weights.")
    model.zero_grad()
    got.sum().backward()
    for weight in weights:
        expect(weight.grad is not None, f"the gradient of {name} does not reach every weight.")
    derivative = {"l1_penalty": torch.sign, "l2_penalty": lambda w: 2 * w}[name]
    expect_close(weights[0].grad, derivative(weights[0].detach()), rtol=1e-5, atol=1e-6,
                 what=f"gradient of {name} with respect to a weight",
                 hint=f"d({formula})/dw = {'sign(w)' if name == 'l1_penalty' else '2w'}.")
    for parameter_name, parameter in model.named_parameters():
        if id(parameter) not in weight_ids and parameter.grad is not None:
            expect(bool((parameter.grad == 0).all()),
                   f"the penalty has a gradient for {parameter_name}: only weights are penalized.")


@hidden_test
def test_l1_penalty(l1_penalty):
    _check_penalty(l1_penalty, "l1_penalty", torch.abs, "Σ|w|")


@hidden_test
def test_l2_penalty(l2_penalty):
    _check_penalty(l2_penalty, "l2_penalty", torch.square, "Σw²")


# --- parameter groups for weight decay -------------------------------------------------------

class _OddlyNamed(nn.Module):
    """Names that mislead a name-based rule: a BatchNorm called `bn_out`, a Linear `norm_proj`."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.bn_out = nn.BatchNorm2d(4)
        self.norm_proj = nn.Linear(4, 16)
        self.group_norm = nn.GroupNorm(2, 16)
        self.head = nn.Sequential(nn.Linear(16, 8), nn.LayerNorm(8), nn.ReLU(),
                                  nn.Linear(8, 3, bias=False))
        self.layers = nn.ModuleList([nn.Linear(3, 3), nn.BatchNorm1d(3)])


def _expected_decay(model: nn.Module) -> dict[int, tuple[bool, str]]:
    """For each parameter: whether it gets weight decay, and the type of the module holding it."""
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)
    decays = {}
    for module in model.modules():
        for name, parameter in module.named_parameters(recurse=False):
            decays[id(parameter)] = (not (isinstance(module, norms) or name == "bias"),
                                     type(module).__name__)
    return decays


@hidden_test
def test_decay_param_groups(decay_param_groups):
    model = _OddlyNamed()
    names = {id(p): n for n, p in model.named_parameters()}
    weight_decay = 0.05
    groups = call(decay_param_groups, model, weight_decay, what="decay_param_groups(model, 0.05)")
    expect(isinstance(groups, (list, tuple)) and all(isinstance(g, dict) for g in groups),
           "decay_param_groups must return a list of dicts (optimizer parameter groups), "
           f"got {type(groups).__name__}.")
    expect(all("params" in g for g in groups), "each group needs a 'params' entry.")
    expect(all("weight_decay" in g for g in groups),
           "give every group its own 'weight_decay' entry (weight_decay or 0.0), so it does not "
           "depend on the optimizer's default.")
    groups = [dict(g, params=list(g["params"])) for g in groups]
    seen: dict[int, float] = {}
    for group in groups:
        for parameter in group["params"]:
            expect(id(parameter) in names, "a group holds a tensor that is not a parameter of the model.")
            expect(id(parameter) not in seen,
                   f"{names[id(parameter)]} is in two groups: every parameter must be in exactly one.")
            seen[id(parameter)] = float(group["weight_decay"])
    missing = [names[i] for i in names if i not in seen]
    expect(not missing, f"these parameters are in no group: {', '.join(missing)}. Every parameter "
                        "must be in exactly one group (the optimizer would not train the others).")
    for parameter_id, (decays, kind) in _expected_decay(model).items():
        name, got = names[parameter_id], seen[parameter_id]
        if decays and got != weight_decay:
            fail(f"{name} (the weight of an nn.{kind} named {name.rsplit('.', 1)[0]!r}) should get "
                 f"weight_decay={weight_decay}, got {got}. Decide by module type "
                 "(isinstance), not by the parameter's name.")
        if not decays and got != 0.0:
            if kind != "Linear" and kind != "Conv2d":
                fail(f"{name} belongs to an nn.{kind} (named {name.rsplit('.', 1)[0]!r}) and "
                     f"should get weight_decay=0.0, got {got}. Normalization parameters get no "
                     "decay: decide by module type (isinstance(module, (nn.BatchNorm1d, ...))), "
                     "not by the parameter's name.")
            fail(f"{name} is a bias and should get weight_decay=0.0, got {got}: biases get no decay.")
    plain = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    groups = call(decay_param_groups, plain, 0.1, what="decay_param_groups on a plain MLP")
    total = sum(len(list(g["params"])) for g in groups)
    expect(total == 4, f"a 2-layer MLP has 4 parameters (2 weights, 2 biases); the groups hold {total}.")


# --- dropout ---------------------------------------------------------------------------------

def _run_dropout(dropout, x: torch.Tensor, p: float, training: bool, what: str) -> torch.Tensor:
    with forbidden(F, F_DROPOUTS, NO_LIBRARY_DROPOUT), \
            forbidden(torch, TORCH_DROPOUTS, NO_LIBRARY_DROPOUT), \
            forbidden(nn, NN_DROPOUTS, NO_LIBRARY_DROPOUT):
        out = call(dropout, x, p, training, what=what)
    expect(isinstance(out, torch.Tensor), f"{what} must return a tensor, got {type(out).__name__}.")
    expect(out.shape == x.shape, f"{what} changed the shape: {tuple(x.shape)} → {tuple(out.shape)}.")
    return out


@hidden_test
def test_dropout(dropout):
    torch.manual_seed(20)
    x = torch.rand(200, 500) + 0.5
    original = x.clone()
    for p in (0.2, 0.5, 0.7):
        what = f"dropout(x, p={p}, training=True)"
        out = _run_dropout(dropout, x, p, True, what)
        expect(torch.equal(x, original), f"{what} changed x in place: return a new tensor.")
        dropped = out == 0
        fraction = dropped.float().mean().item()
        expect(abs(fraction - p) < 0.01,
               f"{what} zeroed {fraction:.1%} of the entries, expected about {p:.0%} "
               "(each entry dropped with probability p, kept with probability 1 - p).")
        kept = ~dropped
        if torch.allclose(out[kept], x[kept], rtol=1e-5):
            fail(f"{what} leaves the kept entries unscaled: divide them by (1 - p) = {1 - p:g} "
                 "(inverted dropout), or the next layer sees smaller inputs in training than "
                 "in eval mode.")
        expect_close(out[kept], x[kept] / (1 - p), rtol=1e-5, atol=1e-6,
                     what=f"{what}: the kept entries", hint="Kept entries are x / (1 - p).")
        expect_close(out.mean().item(), x.mean().item(), rtol=0.02,
                     what=f"{what}: the mean of the output against the mean of x",
                     hint="Inverted dropout preserves the expected value of each entry.")
        same_mask_rows = (dropped[0] == dropped[1:]).all(dim=1).float().mean().item()
        expect(same_mask_rows < 0.5, f"{what} drops the same units in every row: draw an "
                                     "independent mask for every entry.")
    first = _run_dropout(dropout, x, 0.5, True, "dropout(x, 0.5, True)")
    second = _run_dropout(dropout, x, 0.5, True, "dropout(x, 0.5, True) called again")
    expect(not torch.equal(first, second), "two calls of dropout gave the same mask: draw a new "
                                           "random mask on every call.")
    for p in (0.0, 0.3, 1.0):
        out = _run_dropout(dropout, x, p, False, f"dropout(x, {p}, training=False)")
        expect(torch.equal(out, x), f"dropout(x, {p}, training=False) must return x unchanged: "
                                    "dropout is only active during training (eval mode is the "
                                    "identity, no mask and no scaling).")
    out = _run_dropout(dropout, x, 0.0, True, "dropout(x, 0.0, training=True)")
    expect(torch.equal(out, x), "dropout with p = 0 must return x unchanged.")
    out = _run_dropout(dropout, x, 1.0, True, "dropout(x, 1.0, training=True)")
    expect(not torch.isnan(out).any(), "dropout(x, 1.0, True) returned NaN: with p = 1 every "
                                       "entry is dropped, return zeros (do not divide by 1 - p = 0).")
    expect(bool((out == 0).all()), "dropout(x, 1.0, True) must return all zeros.")
    for p in (-0.1, 1.5):
        expect_raises(ValueError, dropout, x, p, True,
                      message=f"dropout(x, {p}, True) should raise a ValueError: p must lie in [0, 1]")
    images = torch.rand(8, 3, 6, 6, dtype=torch.float64) + 0.5
    out = _run_dropout(dropout, images, 0.25, True, "dropout on a float64 batch of images")
    expect(out.dtype == torch.float64, f"dropout changed the dtype to {out.dtype}: keep x's dtype.")
    leaf = (torch.rand(50, 40) + 0.5).requires_grad_()
    out = _run_dropout(dropout, leaf, 0.4, True, "dropout on a tensor that requires grad")
    expect(out.requires_grad, "dropout's output must stay in the autograd graph (no .detach(), "
                              "no torch.no_grad()): gradients flow through the kept units.")
    out.sum().backward()
    expect_close(leaf.grad, (out != 0).float() / 0.6, rtol=1e-5, atol=1e-6,
                 what="gradient of dropout(x, 0.4, True).sum() with respect to x",
                 hint="The gradient is the mask divided by (1 - p).")


@hidden_test
def test_mc_dropout(McDropout):
    expect(isinstance(McDropout, type) and issubclass(McDropout, nn.Dropout),
           "McDropout must be a class that subclasses nn.Dropout.")
    McDropout = with_reference_methods(McDropout, dropout=ref.dropout)
    torch.manual_seed(30)
    x = torch.rand(300, 400) + 0.5
    for p in (0.2, 0.5):
        layer = call(McDropout, p, what=f"McDropout({p})")
        expect(layer.p == p, f"McDropout({p}).p should be {p}: keep nn.Dropout's constructor.")
        for mode in ("eval", "train"):
            getattr(layer, mode)()
            out = call(layer, x, what=f"McDropout({p}) in {mode} mode")
            expect(isinstance(out, torch.Tensor) and out.shape == x.shape,
                   "McDropout must return a tensor shaped like its input.")
            fraction = (out == 0).float().mean().item()
            if mode == "eval" and fraction == 0:
                fail("McDropout does nothing in eval mode: it must stay active whatever the "
                     "mode (call dropout with training=True).")
            expect(abs(fraction - p) < 0.015,
                   f"McDropout({p}) in {mode} mode zeroed {fraction:.1%} of the entries, "
                   f"expected about {p:.0%}.")
            kept = out != 0
            expect_close(out[kept], x[kept] / (1 - p), rtol=1e-5, atol=1e-6,
                         what=f"McDropout({p}) in {mode} mode: the kept entries",
                         hint="Scale the kept entries by 1 / (1 - p), as nn.Dropout does.")
    model = nn.Sequential(nn.Linear(10, 10), McDropout(0.5), nn.Linear(10, 3)).eval()
    inputs = torch.randn(20, 10)
    with torch.no_grad():
        first, second = call(model, inputs), call(model, inputs)
    expect(not torch.equal(first, second),
           "a model in eval mode with McDropout gave the same output twice: it must stay random.")
    identity = call(McDropout, 0.0, what="McDropout(0.0)").eval()
    expect(torch.equal(call(identity, x), x), "McDropout(0.0) must return its input unchanged.")


# --- MC dropout predictions ------------------------------------------------------------------

def _count_rows(model: nn.Module) -> list[int]:
    rows: list[int] = []
    model.register_forward_hook(lambda module, inputs, output: rows.append(len(inputs[0])))
    return rows


def _mc_call(mc_predict, model: nn.Module, X: torch.Tensor, n_samples: int, what: str):
    result = call(mc_predict, model, X, n_samples, what=what)
    expect(isinstance(result, tuple) and len(result) == 2,
           f"{what} must return a tuple (mean, std), got {type(result).__name__}.")
    mean, std = result
    expect(isinstance(mean, torch.Tensor) and isinstance(std, torch.Tensor),
           f"{what}: mean and std must be tensors.")
    return mean, std


@hidden_test
def test_mc_predict(mc_predict):
    # 1. Batch norm in eval mode, no dropout noise (p = 0): exact.
    torch.manual_seed(40)
    bn_model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.0),
                             nn.Linear(16, 4))
    batch_norm = bn_model[1]
    batch_norm.running_mean.normal_(0, 2)
    batch_norm.running_var.uniform_(0.5, 3)
    X = torch.randn(32, 6) * 3 + 1
    with torch.no_grad():
        expected = torch.softmax(bn_model.eval()(X), dim=-1)
    bn_model.train()
    stats_before = copy.deepcopy(batch_norm.state_dict())
    rows = _count_rows(bn_model)
    mean, std = _mc_call(mc_predict, bn_model, X, 7, "mc_predict(model, X, n_samples=7)")
    expect(mean.shape == (32, 4) and std.shape == (32, 4),
           f"mean and std must have shape (n_images, n_classes) = (32, 4), got "
           f"{tuple(mean.shape)} and {tuple(std.shape)}.")
    for key, value in stats_before.items():
        if not torch.equal(batch_norm.state_dict()[key], value):
            fail(f"mc_predict changed the batch-norm layer's {key}: batch norm ran in training "
                 "mode. Put the model in eval mode, then switch only the dropout layers to "
                 "training mode.")
    expect_close(mean, expected, rtol=1e-4, atol=1e-5,
                 what="mean probabilities of a model with batch norm and Dropout(p=0)",
                 hint="Batch norm must use its running statistics (eval mode) while sampling, "
                      "and the mean is over softmax probabilities.")
    expect_close(std, torch.zeros_like(std), atol=1e-5, what="std with Dropout(p=0)")
    expect(7 * len(X) <= sum(rows) <= 8 * len(X),
           f"mc_predict(model, X, n_samples=7) pushed {sum(rows)} rows through the model, "
           f"expected 7 × {len(X)}: one stochastic pass per sample, n_samples of them.")
    expect(all(m.training for m in bn_model.modules()),
           "mc_predict must restore every module's mode: this model was in training mode.")
    expect(not mean.requires_grad and not std.requires_grad and
           all(p.grad is None for p in bn_model.parameters()),
           "mc_predict must not track gradients: wrap the sampling in torch.no_grad().")

    # 2. Average the probabilities, not the logits.
    torch.manual_seed(41)
    two_point = nn.Sequential(nn.Linear(1, 1), nn.Dropout(0.5), nn.Linear(1, 2))
    with torch.no_grad():
        two_point[0].weight.fill_(1.0)
        two_point[0].bias.zero_()
        two_point[2].weight.copy_(torch.tensor([[10.0], [0.0]]))
        two_point[2].bias.zero_()
    two_point.eval()
    ones = torch.ones(200, 1)
    mean, std = _mc_call(mc_predict, two_point, ones, 100, "mc_predict(model, X)")
    expect(float(std.max()) > 0, "std is 0 everywhere: the dropout layers must be active while "
                                 "sampling (the model was in eval mode).")
    average = float(mean[:, 0].mean())
    if average > 0.95:
        fail("mc_predict averages the logits before the softmax: apply the softmax to each "
             "sample's logits, then average the probabilities (here: ≈ 0.75, not ≈ 1).")
    expect(abs(average - 0.75) < 0.02,
           f"mean probability of class 0 is {average:.3f} on average, expected ≈ 0.75: each "
           "sample gives p = 0.5 (unit dropped) or p ≈ 1 (unit kept, doubled), half the time each.")
    expect_close(mean.sum(dim=1), torch.ones(200), rtol=1e-5, atol=1e-5,
                 what="sum of the mean probabilities of each image")
    spread = float(std[:, 0].mean())
    expect(abs(spread - 0.25) < 0.02,
           f"the std of the probability of class 0 is {spread:.3f} on average, expected ≈ 0.25: "
           "the standard deviation over the samples of the softmax probabilities.")
    expect(not any(m.training for m in two_point.modules()),
           "mc_predict must restore every module's mode: this model was in eval mode, and its "
           "dropout layer was left in training mode.")

    # 3. Every kind of dropout layer counts; a model in training mode stays in training mode.
    torch.manual_seed(42)
    selu_net = nn.Sequential(nn.Linear(5, 32), nn.SELU(), nn.AlphaDropout(0.3), nn.Linear(32, 3))
    selu_net.eval()
    mean, std = _mc_call(mc_predict, selu_net, torch.randn(16, 5), 20, "mc_predict on a SELU net")
    expect(float(std.max()) > 1e-3, "no spread with nn.AlphaDropout: every dropout layer counts "
                                    "(nn.Dropout, nn.AlphaDropout, ...: their common base class "
                                    "is nn.modules.dropout._DropoutNd).")
    expect(not any(m.training for m in selu_net.modules()),
           "mc_predict must leave a model that was in eval mode in eval mode.")
    net = nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.2), nn.BatchNorm1d(8), nn.Linear(8, 3)).train()
    rows = _count_rows(net)
    _mc_call(mc_predict, net, torch.randn(16, 5), 30, "mc_predict(model, X, n_samples=30)")
    expect(30 * 16 <= sum(rows) <= 31 * 16,
           f"mc_predict(..., n_samples=30) pushed {sum(rows)} rows through the model, expected 30 × 16.")
    expect(all(m.training for m in net.modules()),
           "mc_predict must put a model that was in training mode back in training mode "
           "(model.train(was_training)).")


# --- max-norm --------------------------------------------------------------------------------

def _max_norm_model() -> nn.Sequential:
    torch.manual_seed(50)
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 12), nn.BatchNorm1d(12),
                          nn.Unflatten(1, (3, 2, 2)), nn.Conv2d(3, 4, 1))
    with torch.no_grad():
        model[0].weight.normal_(0, 0.5)  # row norms near √20·0.5 ≈ 2.2, column norms near 2.7
        model[2].weight.normal_(0, 0.4)
        model[0].bias.fill_(3.0)
        model[3].weight.fill_(5.0)
        model[5].weight.fill_(4.0)
    return model


@hidden_test
def test_apply_max_norm(apply_max_norm_):
    for max_norm, dim in ((2.0, 1), (1.0, 1), (2.0, 0)):
        model = _max_norm_model()
        before = copy.deepcopy(model.state_dict())
        parameters = list(model.parameters())
        what = f"apply_max_norm_(model, max_norm={max_norm}, dim={dim})"
        call(apply_max_norm_, model, max_norm=max_norm, dim=dim, what=what)
        expect(all(a is b for a, b in zip(parameters, model.parameters())),
               f"{what} replaced parameters: rescale the existing weights in place (the "
               "optimizer holds references to them).")
        for index in (0, 2):
            weight = model[index].weight
            expect(weight.is_leaf and weight.requires_grad and weight.grad_fn is None,
                   f"{what}: the weight must stay a trainable leaf; change it inside "
                   "torch.no_grad().")
            original = before[f"{index}.weight"]
            expected = torch.renorm(original, p=2, dim=1 - dim, maxnorm=max_norm)
            got = weight.detach()
            if not torch.allclose(got, expected, rtol=1e-5, atol=1e-6):
                other = torch.renorm(original, p=2, dim=dim, maxnorm=max_norm)
                if torch.allclose(got, other, rtol=1e-5, atol=1e-6):
                    fail(f"{what} constrained the norms over the wrong dimension: with dim={dim} "
                         f"compute weight.norm(dim={dim}) (with dim=1, one norm per row: the "
                         "weights coming into each unit of an nn.Linear).")
                norms = got.norm(dim=dim)
                small = original.norm(dim=dim) <= max_norm
                if small.any() and not torch.allclose(norms[small], original.norm(dim=dim)[small],
                                                      rtol=1e-5):
                    fail(f"{what} changed rows whose norm was already within max_norm: "
                         "rescale only those whose norm exceeds it.")
                expect_close(got, expected, rtol=1e-5, atol=1e-6, what=f"{what}: Linear weight",
                             hint="Each row (dim=1) whose norm exceeds max_norm is multiplied "
                                  "by max_norm / norm; the others are unchanged "
                                  "(torch.renorm gives the same result).")
        for key in ("0.bias", "2.bias", "3.weight", "3.bias", "5.weight", "5.bias"):
            expect(torch.equal(model.state_dict()[key], before[key]),
                   f"{what} changed {key}: only nn.Linear weights are constrained (no biases, "
                   "no normalization or convolution layers).")


# --- early stopping --------------------------------------------------------------------------

class _PlainSGD:
    """Just enough of an optimizer for labs.fit, without torch.optim's start-up cost."""

    def __init__(self, parameters, lr: float) -> None:
        self.parameters = list(parameters)
        self.param_groups = [{"params": self.parameters, "lr": lr}]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for parameter in self.parameters:
            if parameter.grad is not None:
                parameter.sub_(self.param_groups[0]["lr"] * parameter.grad)


def _stepper(EarlyStopping, *args, **kwargs):
    shown = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
    return call(EarlyStopping, *args, what=f"EarlyStopping({shown})", **kwargs)


def _decisions(stopper, metrics: list[float], model: nn.Module) -> list[bool]:
    return [bool(call(stopper.step, metric, model, what=f"step({metric}, model)"))
            for metric in metrics]


def _check_decisions(EarlyStopping, args: tuple, kwargs: dict, metrics: list[float],
                     expected: list[bool], rule: str) -> None:
    stopper = _stepper(EarlyStopping, *args, **kwargs)
    got = _decisions(stopper, metrics, nn.Linear(2, 2))
    if got != expected:
        call_text = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
        fail(f"EarlyStopping({call_text}) on the metrics {metrics}: step returned {got}, "
             f"expected {expected}. {rule}")


@hidden_test
def test_early_stopping(EarlyStopping):
    expect(isinstance(EarlyStopping, type), "EarlyStopping must be a class.")
    rule = ("step returns True once `patience` epochs in a row brought no improvement; an "
            "improvement resets the count.")
    _check_decisions(EarlyStopping, (3,), {}, [1.0, 0.8, 0.85, 0.9, 0.79, 0.95, 0.96, 0.97],
                     [False] * 7 + [True], rule)
    _check_decisions(EarlyStopping, (1,), {}, [0.5, 0.4, 0.4], [False, False, True],
                     "A metric equal to the best is not an improvement.")
    _check_decisions(EarlyStopping, (2,), {"min_delta": 0.1}, [1.0, 0.95, 0.85, 0.8, 0.78],
                     [False, False, False, False, True],
                     "With mode='min', an improvement means metric < best - min_delta (0.95 is "
                     "not one after 1.0; 0.85 is, and becomes the best).")
    _check_decisions(EarlyStopping, (2,), {"mode": "max"}, [0.5, 0.6, 0.55, 0.58, 0.7],
                     [False, False, False, True, False],
                     "With mode='max' higher is better: an improvement means metric > best + "
                     "min_delta.")
    expect_raises(ValueError, EarlyStopping, 3, 0.0, "median",
                  message="EarlyStopping(3, mode='median') should raise a ValueError: mode is "
                          "'min' or 'max'")

    torch.manual_seed(60)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Linear(6, 2))
    stopper = _stepper(EarlyStopping, 2)
    snapshots = []
    for epoch, metric in enumerate([0.9, 0.5, 0.7, 0.8]):
        with torch.no_grad():  # "training": every parameter and buffer changes in place
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter))
            model[1].running_mean.add_(1.0)
            model[1].running_var.mul_(1.5)
        snapshots.append(copy.deepcopy(model.state_dict()))
        call(stopper.step, metric, model, what=f"step({metric}, model) at epoch {epoch + 1}")
    call(stopper.restore, model, what="restore(model)")
    restored = model.state_dict()
    if all(torch.equal(restored[k], snapshots[-1][k]) for k in restored):
        fail("restore(model) gave back the last weights, not the best: step must save a deep "
             "copy (copy.deepcopy(model.state_dict())). state_dict() holds references to the "
             "live tensors, which training keeps changing in place.")
    for key, value in snapshots[1].items():
        if not torch.equal(restored[key], value):
            what = ("a batch-norm buffer" if "running" in key or "batches" in key else "a parameter")
            fail(f"after restore(model), {key} ({what}) differs from its value at the best "
                 "epoch (epoch 2, metric 0.5): save and load the whole state_dict, buffers "
                 "included.")

    torch.manual_seed(61)
    X_train, y_train = torch.randn(32, 5), torch.randint(0, 2, (32,))
    X_valid, y_valid = torch.randn(64, 5), torch.randint(0, 2, (64,))  # random labels: it over-fits
    net = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 2))
    stopper = _stepper(EarlyStopping, 2)
    try:
        history = labs.fit(net, _PlainSGD(net.parameters(), lr=0.5), (X_train, y_train),
                           (X_valid, y_valid), epochs=20, batch_size=8, early_stopping=stopper,
                           progress=False)
    except Exception as error:
        fail(f"labs.fit(..., early_stopping=EarlyStopping(2)) raised {type(error).__name__}: {error}")
    losses = history["valid_loss"]
    best = losses.index(min(losses))
    expect(len(losses) == best + 3,
           f"labs.fit stopped after epoch {len(losses)}, but the best validation loss was at "
           f"epoch {best + 1}: with patience 2 it should stop at epoch {best + 3}.")
    final_loss = labs.evaluate(net, X_valid, y_valid)[0]
    expect(abs(final_loss - min(losses)) < 1e-4 * max(1.0, abs(min(losses))),
           f"after labs.fit with your EarlyStopping the model's validation loss is {final_loss:.4f}, "
           f"but the best epoch had {min(losses):.4f}: restore(model) must load the best weights.")


# --- concept questions -----------------------------------------------------------------------

@hidden_test
def test_q1_dropout_inference(Q1):
    expect_choice(Q1, ref.Q1, question="Q1")


@hidden_test
def test_q2_sparse_model(Q2):
    expect_choice(Q2, ref.Q2, question="Q2")


@hidden_test
def test_q3_dropout_scale(Q3):
    expect_number(Q3, ref.Q3, question="Q3")


@hidden_test
def test_q4_sgd_weight_decay(Q4):
    expect_number(Q4, ref.Q4, question="Q4")


@hidden_test
def test_q5_adamw(Q5):
    expect_choice(Q5, ref.Q5, question="Q5")
