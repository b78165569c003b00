"""Hidden tests of lab 09, the CIFAR-10 capstone: one function per grade cell, named after it.

The exercises are structural and fast: no test trains a network. Expected values come from
PyTorch where it has the thing (`nn.init.calculate_gain` for He and LeCun scales,
`F.alpha_dropout` for the alpha-dropout constants) and from `solutions` otherwise.
"""

from __future__ import annotations

import copy
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
    hidden_test,
    reference,
    with_globals,
)

ref = reference("solutions.lab09_cifar10_capstone")
ACTIVATION_CLASSES = {"silu": nn.SiLU, "relu": nn.ReLU, "elu": nn.ELU, "gelu": nn.GELU, "selu": nn.SELU}
PLUMBING = (nn.Flatten, nn.Identity)


# --- Exercise 1: build_mlp ----------------------------------------------------------------

def _layout(model: nn.Module) -> list[nn.Module]:
    """The model's leaf modules in execution order, without Flatten and Identity plumbing."""
    return [m for m in model.modules() if not list(m.children()) and not isinstance(m, PLUMBING)]


def _describe(module: nn.Module) -> str:
    return f"{type(module).__name__}({module.extra_repr()})"


def _expected_layout(n_hidden: int, n_neurons: int, activation: type[nn.Module], batch_norm: bool,
                     alpha_dropout: float, n_inputs: int, n_outputs: int) -> list[tuple]:
    """(class, attributes, what it is) for each layer build_mlp must produce, in order."""
    layers = []
    fan_in = n_inputs
    for index in range(1, n_hidden + 1):
        layers.append((nn.Linear, {"in_features": fan_in, "out_features": n_neurons},
                       f"hidden layer {index}'s nn.Linear({fan_in}, {n_neurons})"))
        if batch_norm:
            layers.append((nn.BatchNorm1d, {"num_features": n_neurons},
                           f"nn.BatchNorm1d({n_neurons}) between hidden layer {index}'s Linear and "
                           "its activation (Linear → BatchNorm1d → activation)"))
        layers.append((activation, {}, f"hidden layer {index}'s activation {activation.__name__}()"))
        fan_in = n_neurons
    if alpha_dropout > 0:
        layers.append((nn.AlphaDropout, {"p": alpha_dropout},
                       f"one nn.AlphaDropout(p={alpha_dropout}) just before the output layer"))
    layers.append((nn.Linear, {"in_features": fan_in, "out_features": n_outputs},
                   f"the output layer nn.Linear({fan_in}, {n_outputs})"))
    return layers


def _check_structure(model: object, where: str, n_hidden: int, n_neurons: int,
                     activation: type[nn.Module], batch_norm: bool, alpha_dropout: float,
                     n_inputs: int, n_outputs: int) -> list[nn.Module]:
    expect(isinstance(model, nn.Sequential),
           f"{where} must return an nn.Sequential, got {type(model).__name__}.")
    layout = _layout(model)
    linears = [m for m in layout if isinstance(m, nn.Linear)]
    expect(len(linears) == n_hidden + 1,
           f"{where} has {len(linears)} nn.Linear layers; expected {n_hidden + 1}: {n_hidden} hidden "
           "layers plus the output layer. n_hidden counts the hidden layers only: the input is "
           "not a layer, and the output layer comes on top.")
    expect(bool(layout) and isinstance(layout[-1], nn.Linear),
           f"{where} ends with {_describe(layout[-1]) if layout else 'nothing'}: nothing may come "
           "after the output layer. Its raw outputs (logits) go to nn.CrossEntropyLoss, which "
           "applies log-softmax itself; an activation there squashes or clips the logits.")
    expected = _expected_layout(n_hidden, n_neurons, activation, batch_norm, alpha_dropout,
                                n_inputs, n_outputs)
    for position, (module, (cls, attributes, what)) in enumerate(zip(layout, expected), start=1):
        matches = isinstance(module, cls) and all(
            math.isclose(getattr(module, name, math.nan), value) for name, value in attributes.items())
        if matches:
            continue
        hint = ""
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not batch_norm:
            hint = " With batch_norm=False there is no batch norm at all."
        elif batch_norm and (cls is nn.BatchNorm1d or isinstance(module, nn.BatchNorm1d)):
            hint = " Batch norm goes right after each hidden Linear, before the activation."
        elif isinstance(module, nn.Dropout) and cls is nn.AlphaDropout:
            hint = (" A SELU net needs nn.AlphaDropout: plain dropout breaks its self-normalization "
                    "(it changes the mean and variance of the activations).")
        elif cls is nn.SELU:
            hint = " With selu=True every hidden activation is nn.SELU, whatever `activation` says."
        elif cls is not nn.Linear and cls is not nn.AlphaDropout:
            hint = " Look the activation up by name in ACTIVATIONS."
        fail(f"{where}: layer {position} (not counting Flatten) should be {what}, "
             f"got {_describe(module)}.{hint}")
    expect(len(layout) == len(expected),
           f"{where} has {len(layout)} layers (not counting Flatten), expected {len(expected)}: "
           f"{', '.join(what for _, _, what in expected[len(layout):]) or 'fewer layers'}.")
    return linears


def _pooled_std(linears: list[nn.Linear]) -> float:
    return torch.cat([layer.weight.detach().flatten() for layer in linears]).std().item()


def _check_init(linears: list[nn.Linear], where: str, selu: bool) -> None:
    gain = nn.init.calculate_gain("linear" if selu else "relu")
    scheme = "LeCun normal, std √(1/fan_in)" if selu else "He, std √(2/fan_in)"
    groups = [("the first hidden layer", linears[:1]), ("the other hidden layers", linears[1:-1]),
              ("the output layer", linears[-1:])]
    for what, layers in groups:
        if not layers:
            continue
        fan_in = layers[0].in_features
        target = gain / math.sqrt(fan_in)
        got = _pooled_std(layers)
        n_weights = sum(layer.weight.numel() for layer in layers)
        tolerance = 0.05 if n_weights >= 5_000 else 0.15
        if math.isclose(got, target, rel_tol=tolerance):
            mean = torch.cat([layer.weight.detach().flatten() for layer in layers]).mean().item()
            expect(abs(mean) < 0.1 * target, f"{where}: the weights of {what} should have mean 0, "
                                             f"got {mean:.3g}.")
            continue
        default = 1 / math.sqrt(3 * fan_in)
        if math.isclose(got, default, rel_tol=tolerance):
            hint = ("That is PyTorch's default nn.Linear init, σ = 1/√(3·fan_in): re-initialize "
                    f"every nn.Linear ({scheme}), e.g. with nn.init.kaiming_normal_.")
        elif selu and math.isclose(got, 0.75 / math.sqrt(fan_in), rel_tol=tolerance):
            hint = ("nonlinearity='selu' gives the gain 3/4, which is not LeCun init: PyTorch's "
                    "docs ask for nonlinearity='linear' (gain 1) for self-normalizing nets.")
        elif selu and math.isclose(got, math.sqrt(2 / fan_in), rel_tol=tolerance):
            hint = "That is He init; a SELU net needs LeCun normal init, σ = √(1/fan_in)."
        elif not selu and math.isclose(got, math.sqrt(1 / fan_in), rel_tol=tolerance):
            hint = "That is LeCun init; SiLU and ReLU nets need He init, σ = √(2/fan_in)."
        else:
            hint = f"Use {scheme} for every nn.Linear, the output layer included."
        fail(f"{where}: the weights of {what} have std {got:.4g}, expected {target:.4g} "
             f"({scheme} with fan_in = {fan_in}, within {tolerance:.0%}). {hint}")


def _check_forward(model: nn.Module, where: str, image_shape: tuple[int, ...], n_outputs: int) -> None:
    X = torch.rand(4, *image_shape)
    model.eval()
    with torch.no_grad():
        outputs = call(model, X, what=f"{where} applied to a batch of images {tuple(X.shape)}")
    expect(isinstance(outputs, torch.Tensor) and tuple(outputs.shape) == (4, n_outputs),
           f"{where} should map a batch of images {tuple(X.shape)} to logits of shape "
           f"(4, {n_outputs}), got {tuple(getattr(outputs, 'shape', ()))}. Start with nn.Flatten().")


@hidden_test
def test_build_mlp(build_mlp):
    configurations = [
        ("build_mlp()", {}, dict(n_hidden=20, n_neurons=100, activation=nn.SiLU, batch_norm=False,
                                 alpha_dropout=0.0, n_inputs=3072, n_outputs=10), False),
        ("build_mlp(n_hidden=3, n_neurons=50, activation='relu', batch_norm=True)",
         dict(n_hidden=3, n_neurons=50, activation="relu", batch_norm=True),
         dict(n_hidden=3, n_neurons=50, activation=nn.ReLU, batch_norm=True, alpha_dropout=0.0,
              n_inputs=3072, n_outputs=10), False),
        ("build_mlp(n_hidden=5, n_neurons=64, selu=True, alpha_dropout=0.2)",
         dict(n_hidden=5, n_neurons=64, selu=True, alpha_dropout=0.2),
         dict(n_hidden=5, n_neurons=64, activation=nn.SELU, batch_norm=False, alpha_dropout=0.2,
              n_inputs=3072, n_outputs=10), True),
        ("build_mlp(n_hidden=4, n_neurons=80, activation='elu', n_inputs=784, n_outputs=5)",
         dict(n_hidden=4, n_neurons=80, activation="elu", n_inputs=784, n_outputs=5),
         dict(n_hidden=4, n_neurons=80, activation=nn.ELU, batch_norm=False, alpha_dropout=0.0,
              n_inputs=784, n_outputs=5), False),
        ("build_mlp(n_hidden=2, n_neurons=100, activation='gelu', selu=True)",
         dict(n_hidden=2, n_neurons=100, activation="gelu", selu=True),
         dict(n_hidden=2, n_neurons=100, activation=nn.SELU, batch_norm=False, alpha_dropout=0.0,
              n_inputs=3072, n_outputs=10), True),
    ]
    for where, kwargs, spec, selu in configurations:
        torch.manual_seed(0)
        model = call(build_mlp, what=where, **kwargs)
        linears = _check_structure(model, where, **spec)
        _check_init(linears, where, selu)
        image_shape = (3, 32, 32) if spec["n_inputs"] == 3072 else (1, 28, 28)
        _check_forward(model, where, image_shape, spec["n_outputs"])
    expect_raises(ValueError, build_mlp, selu=True, batch_norm=True,
                  message="build_mlp(selu=True, batch_norm=True) must raise ValueError: batch norm "
                          "breaks a SELU net's self-normalization")
    expect_raises(ValueError, build_mlp, activation="swoosh",
                  message="build_mlp(activation='swoosh') must raise ValueError (an unknown name)")


# --- Exercise 2: standardize_channels -----------------------------------------------------

def _channel_stats(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    dims = (0, *range(2, X.ndim))
    return X.mean(dim=dims, keepdim=True), X.std(dim=dims, keepdim=True)


@hidden_test
def test_standardize_channels(standardize_channels):
    torch.manual_seed(0)
    means = torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)
    stds = torch.tensor([0.25, 0.2, 0.3]).view(1, 3, 1, 1)
    pixel_pattern = 0.1 * torch.linspace(-1, 1, 8).view(1, 1, 1, 8)
    train = means + pixel_pattern + stds * torch.randn(300, 3, 8, 8)
    valid = 0.1 + 0.5 * torch.randn(60, 3, 8, 8)
    test = 0.9 + 0.1 * torch.randn(40, 3, 8, 8)
    originals = [split.clone() for split in (train, valid, test)]
    where = "standardize_channels(train, valid, test)"
    result = call(standardize_channels, train, valid, test, what=where)
    length = f" of length {len(result)}" if hasattr(result, "__len__") else ""
    expect(isinstance(result, (tuple, list)) and len(result) == 3,
           f"{where} should return a tuple of 3 tensors (train first, then the others in order), "
           f"got {type(result).__name__}{length}.")
    for split, original, name in zip((train, valid, test), originals, ("train", "valid", "test")):
        expect(torch.equal(split, original),
               f"{where} changed its {name} input in place: return new tensors.")
    mean, std = _channel_stats(train)
    train_out, valid_out, test_out = result
    out_mean, out_std = _channel_stats(train_out)
    expect(out_mean.abs().max().item() < 1e-2 and (out_std - 1).abs().max().item() < 1e-2,
           f"{where}: each channel of the standardized training split should have mean 0 and std 1 "
           f"(got means {[round(v, 3) for v in out_mean.flatten().tolist()]}, stds "
           f"{[round(v, 3) for v in out_std.flatten().tolist()]}). Compute one mean and one std per "
           "channel, over images, rows and columns (dims 0, 2 and 3), from the training split only.")
    expect_close(train_out, (train - mean) / std, rtol=1e-3, atol=1e-3,
                 what=f"{where}: the standardized training split",
                 hint="One mean and one std per channel, over images, rows and columns: not one "
                      "per pixel, not one for the whole tensor.")
    for out, split, name in ((valid_out, valid, "validation"), (test_out, test, "test")):
        own_mean, _ = _channel_stats(out)
        if own_mean.abs().max().item() < 1e-3:
            fail(f"{where}: the {name} split comes out with mean 0 per channel, so it was "
                 "standardized with its own statistics. Every split must use the TRAINING split's "
                 "mean and std: the test set stands for data the model has never seen, and its "
                 "statistics must not leak into the model.")
        expect_close(out, (split - mean) / std, rtol=1e-3, atol=1e-3,
                     what=f"{where}: the standardized {name} split",
                     hint="Standardize every split with the mean and std of the training split "
                          "only (not of all splits together).")
    alone = call(standardize_channels, train, what="standardize_channels(train)")
    expect(isinstance(alone, (tuple, list)) and len(alone) == 1,
           "standardize_channels(train) with no other split should return a tuple of one tensor.")


# --- Exercise 3: selu_violations ----------------------------------------------------------

class _AlwaysOnDropout(nn.Dropout):
    """A subclass of plain dropout: still plain dropout."""


class _AlwaysOnAlphaDropout(nn.AlphaDropout):
    """A subclass of alpha dropout: still fine in a SELU net."""


def _why(module: nn.Module) -> str:
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return ("batch norm re-normalizes with batch statistics and adds its own scale and shift; "
                "a SELU net normalizes itself and must not have it")
    if isinstance(module, nn.Dropout):
        return ("plain dropout (nn.Dropout or a subclass) zeroes units and rescales the rest, "
                "which shifts the mean and variance; only nn.AlphaDropout keeps them")
    return "only nn.Linear, nn.SELU, nn.AlphaDropout (and nn.Flatten) keep a SELU net self-normalizing"


@hidden_test
def test_selu_violations(selu_violations):
    torch.manual_seed(0)
    cases = []
    clean = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.SELU(), nn.Linear(8, 8), nn.SELU(),
                          nn.AlphaDropout(0.1), nn.Linear(8, 3))
    cases.append(("a clean SELU net", clean, []))
    nested_clean = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(12, 8), nn.SELU()),
                                 nn.Sequential(nn.Linear(8, 8), nn.SELU(), _AlwaysOnAlphaDropout(0.1)),
                                 nn.Linear(8, 3))
    cases.append(("a clean SELU net made of nested Sequentials", nested_clean, []))
    with_bn = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.BatchNorm1d(8), nn.SELU(),
                            nn.Linear(8, 3))
    cases.append(("a SELU net with batch norm", with_bn, [with_bn[2]]))
    with_dropout = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.SELU(), nn.Dropout(0.2),
                                 nn.Linear(8, 3))
    cases.append(("a SELU net with plain dropout", with_dropout, [with_dropout[3]]))
    mixed = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(12, 8), nn.ReLU()),
                          nn.Sequential(nn.Linear(8, 8), nn.SELU(), _AlwaysOnDropout(0.1)),
                          nn.LayerNorm(8), nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.SELU()),
                          nn.Linear(8, 3))
    cases.append(("a net of nested Sequentials with ReLU, MC-style dropout, LayerNorm and batch norm",
                  mixed, [mixed[1][1], mixed[2][2], mixed[3], mixed[4][1]]))
    convolutional = nn.Sequential(nn.Conv2d(3, 4, 3), nn.SELU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    cases.append(("a SELU net with a convolution", convolutional, [convolutional[0]]))
    for what, model, expected in cases:
        got = call(selu_violations, model, what=f"selu_violations({what})")
        expect(isinstance(got, (list, tuple)),
               f"selu_violations should return a list of modules, got {type(got).__name__}.")
        got = list(got)
        got_ids, expected_ids = [id(m) for m in got], [id(m) for m in expected]
        for module in expected:
            expect(id(module) in got_ids,
                   f"selu_violations({what}) misses {_describe(module)}: {_why(module)}.")
        for module in got:
            if id(module) in expected_ids:
                continue
            if list(module.children()):
                fail(f"selu_violations({what}) lists the container {type(module).__name__}: "
                     "only leaf layers count (a module with no children), not the Sequentials "
                     "that hold them.")
            fail(f"selu_violations({what}) lists {_describe(module)}, which does not break "
                 "self-normalization.")
        expect(got_ids == expected_ids,
               f"selu_violations({what}) should list each offending layer once, in model order.")


# --- Exercises 4 and 5: MC alpha dropout ---------------------------------------------------

SELU_ALPHA_PRIME = -1.0507009873554805 * 1.6732632423543772  # -λα, SELU's saturation value


def _alpha_dropped_value(p: float) -> float:
    """The value alpha dropout gives a dropped unit: a·α' + b (Klambauer et al., 2017)."""
    a = ((1 - p) * (1 + p * SELU_ALPHA_PRIME**2)) ** -0.5
    b = -a * SELU_ALPHA_PRIME * p
    return a * SELU_ALPHA_PRIME + b


@hidden_test
def test_mc_alpha_dropout(McAlphaDropout):
    expect(isinstance(McAlphaDropout, type) and issubclass(McAlphaDropout, nn.AlphaDropout),
           "McAlphaDropout must be a class that subclasses nn.AlphaDropout, so that it keeps "
           "nn.AlphaDropout's constructor (p) and is still recognised as alpha dropout.")
    for p in (0.1, 0.25):
        layer = call(McAlphaDropout, p, what=f"McAlphaDropout({p})")
        expect(math.isclose(layer.p, p), f"McAlphaDropout({p}).p should be {p}, got {layer.p}.")
        layer.eval()
        torch.manual_seed(1)
        x = torch.randn(400, 500)
        first = call(layer, x, what=f"McAlphaDropout({p}) in eval mode")
        second = call(layer, x, what=f"McAlphaDropout({p}) in eval mode, called again")
        expect(isinstance(first, torch.Tensor) and first.shape == x.shape,
               f"McAlphaDropout({p}) must return a tensor of the input's shape.")
        expect(not torch.allclose(first, x),
               f"McAlphaDropout({p}) in eval mode returned its input unchanged: Monte Carlo "
               "dropout stays active in eval mode (call F.alpha_dropout with training=True).")
        expect(not torch.allclose(first, second),
               f"McAlphaDropout({p}) gave the same output twice: draw a new mask on every call.")
        dropped = _alpha_dropped_value(p)
        share = (first - dropped).abs().lt(1e-5).float().mean().item()
        expect(abs(share - p) < 0.01,
               f"McAlphaDropout({p}): {share:.1%} of the units take alpha dropout's dropped value "
               f"{dropped:.4f}, expected about {p:.0%}. Use alpha dropout (F.alpha_dropout), not "
               "plain dropout: it sets dropped units to SELU's saturation value and rescales so "
               "that the mean and variance stay 0 and 1.")
        expect_close(first.mean().item(), 0.0, atol=0.02, rtol=0,
                     what=f"mean of McAlphaDropout({p}) applied to N(0, 1) inputs")
        expect_close(first.std().item(), 1.0, atol=0.02, rtol=0,
                     what=f"std of McAlphaDropout({p}) applied to N(0, 1) inputs",
                     hint="Alpha dropout keeps the variance at 1; plain dropout inflates it.")
        layer.train()
        in_training = call(layer, x, what=f"McAlphaDropout({p}) in training mode")
        expect(not torch.allclose(in_training, x),
               f"McAlphaDropout({p}) must drop units in training mode too.")


def _mc_scope() -> dict:
    return {"McAlphaDropout": ref.McAlphaDropout, "McDropout": ref.McDropout}


def _is_active(model: nn.Module, X: torch.Tensor) -> bool:
    with torch.no_grad():
        return not torch.allclose(model(X), model(X))


@hidden_test
def test_to_mc_dropout(to_mc_dropout):
    to_mc_dropout = with_globals(to_mc_dropout, **_mc_scope())
    torch.manual_seed(2)
    selu_net = nn.Sequential(nn.Flatten(), nn.Linear(20, 30), nn.SELU(), nn.Linear(30, 30), nn.SELU(),
                             nn.AlphaDropout(0.15), nn.Linear(30, 5))
    relu_net = nn.Sequential(nn.Linear(20, 30), nn.BatchNorm1d(30), nn.ReLU(), nn.Dropout(0.3),
                             nn.Linear(30, 5))
    with torch.no_grad():
        relu_net[1].running_mean.uniform_(-0.5, 0.5)
        relu_net[1].running_var.uniform_(0.5, 2.0)
    X = torch.randn(64, 20)
    cases = (("a SELU net with alpha dropout", selu_net, 5, nn.AlphaDropout),
             ("a ReLU net with batch norm and dropout", relu_net, 3, nn.Dropout))
    for what, model, dropout_index, kind in cases:
        model.eval()
        state = copy.deepcopy(model.state_dict())
        layers = list(model)
        with torch.no_grad():
            deterministic = model(X)
        where = f"to_mc_dropout({what})"
        mc = call(to_mc_dropout, model, what=where)
        expect(isinstance(mc, nn.Sequential), f"{where} must return an nn.Sequential, got "
                                              f"{type(mc).__name__}.")
        expect(list(model) == layers and type(model[dropout_index]) is kind
               and all(torch.equal(value, state[key]) for key, value in model.state_dict().items()),
               f"{where} changed the trained model: build a NEW Sequential and leave the original "
               "as it is (the results table still evaluates it without dropout).")
        model.eval()
        with torch.no_grad():
            expect(torch.allclose(model(X), deterministic),
                   f"after {where}, the original model no longer gives its usual deterministic "
                   "predictions in eval mode: leave it unchanged.")
        expect(len(mc) == len(model), f"{where} should have as many layers as the model "
                                      f"({len(model)}), got {len(mc)}.")
        replacement = mc[dropout_index]
        wanted = ("McAlphaDropout: plain dropout breaks self-normalization" if kind is nn.AlphaDropout
                  else "McDropout")
        expect(isinstance(replacement, kind) and (kind is not nn.Dropout
                                                   or not isinstance(replacement, nn.AlphaDropout)),
               f"{where}: the {kind.__name__} at position {dropout_index} became "
               f"{_describe(replacement)}; it must become an MC version of the same kind "
               f"({wanted}).")
        expect(math.isclose(replacement.p, model[dropout_index].p),
               f"{where}: the MC dropout layer has p = {replacement.p}, but the trained layer had "
               f"p = {model[dropout_index].p}: keep the rate it was trained with.")
        for index, (mine, theirs) in enumerate(zip(mc, model)):
            if index == dropout_index:
                continue
            expect(type(mine) is type(theirs) and all(
                torch.equal(a, b) for a, b in zip(mine.state_dict().values(), theirs.state_dict().values())),
                f"{where}: layer {index} should be the trained {_describe(theirs)} with its weights "
                f"(shared or copied), got {_describe(mine)}. No re-initialization, no retraining.")
        mc.eval()
        expect(_is_active(mc, X),
               f"{where}: after .eval() the MC model gives the same output twice, so its dropout "
               "is off. Swap the dropout layers for MC versions that stay active in eval mode; "
               "model.train() is not the way (it also puts batch norm in training mode).")
        expect(not any(module.training for module in mc.modules()
                       if not isinstance(module, nn.modules.dropout._DropoutNd)),
               f"{where}: after .eval(), some non-dropout layers of the MC model are still in "
               "training mode.")
        if kind is nn.Dropout:
            samples = 3000  # each row repeated: one batched pass draws 3000 masks per image
            with torch.no_grad():
                average = mc(X.repeat(samples, 1)).view(samples, *deterministic.shape).mean(dim=0)
            expect_close(average, deterministic, rtol=0, atol=0.08,
                         what=f"{where}: the average of {samples} MC predictions against the "
                              "eval-mode prediction",
                         hint="With inverted dropout the average prediction matches the eval-mode "
                              "one when batch norm uses its running statistics (eval mode).")


# --- Guidelines ------------------------------------------------------------------------------

_CONFIG_KEYS = {"init", "activation", "normalization", "regularization", "optimizer", "schedule"}
_WHY = {
    "init": "LeCun init goes with SELU (Table 11-4); He init with everything else (Table 11-3).",
    "activation": "ReLU if shallow, Swish if deep, SELU for a self-normalizing net; a low-latency "
                  "model uses ReLU.",
    "normalization": "Batch norm only for a deep net of the default configuration (folded after "
                     "training when latency matters); none for a shallow or a self-normalizing net.",
    "regularization": "Early stopping and weight decay by default, alpha dropout for a self-normalizing "
                      "net; a sparse model adds 'l1', a risk-sensitive one 'mc_dropout'.",
    "optimizer": "NAG or AdamW by default; NAG alone for a self-normalizing net.",
    "schedule": "Performance scheduling or 1cycle, in every configuration.",
}


@hidden_test
def test_configure(configure):
    flags = ("deep", "self_normalizing", "sparse", "low_latency", "risk_sensitive")
    for bits in range(2 ** len(flags)):
        situation = {flag: bool(bits >> i & 1) for i, flag in enumerate(flags)}
        described = ", ".join(f"{k}={v}" for k, v in situation.items())
        got = call(configure, **situation, what=f"configure({described})")
        expected = ref.configure(**situation)
        expect(isinstance(got, dict) and set(got) == _CONFIG_KEYS,
               f"configure({described}) should return a dict with exactly the keys {sorted(_CONFIG_KEYS)}, "
               f"got {got!r}.")
        regularization = got["regularization"]
        expect(isinstance(regularization, (set, frozenset)),
               f"configure({described})['regularization'] should be a set, "
               f"got {type(regularization).__name__}.")
        for key in sorted(_CONFIG_KEYS):
            value = set(got[key]) if key == "regularization" else got[key]
            expect(value == expected[key],
                   f"configure({described})[{key!r}] is {got[key]!r}: that is not what the guidelines give. "
                   f"{_WHY[key]} A sparse or low-latency model cannot be self-normalizing: it uses the "
                   "default configuration.")


# --- Concept questions ---------------------------------------------------------------------

@hidden_test
def test_q1_test_once(Q1):
    expect_choice(Q1, ref.Q1, question="Q1")


@hidden_test
def test_q2_self_normalizing(Q2):
    expect_choice(Q2, ref.Q2, question="Q2")


@hidden_test
def test_q3_bn_parameters(Q3):
    expect_number(Q3, ref.Q3, question="Q3")


@hidden_test
def test_q4_batch_norm_cost(Q4):
    expect_choice(Q4, ref.Q4, question="Q4")


@hidden_test
def test_q5_label_smoothing(Q5):
    expect_number(Q5, ref.Q5, question="Q5")
