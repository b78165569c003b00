"""Checks of lab 09, the CIFAR-10 capstone: one per grade cell, named after it, reading the
records of the probes in autograder/probes/lab09_cifar10_capstone.py (the student's as `got`,
the reference's as `want`).

The exercises are structural and fast: no probe trains a network. The layout build_mlp must
produce is spelled out here from its arguments, the weights' scales come from PyTorch's own
gains (`nn.init.calculate_gain`), the standardized splits are computed here from the probe's
inputs, and the alpha-dropout constants come from Klambauer et al. (2017). Which modules
selu_violations must list, which MC stand-in goes where in to_mc_dropout's result, and what
configure gives come from the reference's record.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from autograder.checks.core import (
    choice_question,
    expect,
    expect_close,
    expect_tensor,
    fail,
    number,
    number_question,
)
from autograder.probes.lab09_cifar10_capstone import (
    ALPHA_RATES,
    BUILD_MLP_CALLS,
    BUILD_MLP_FLOAT64,
    BUILD_MLP_REFUSALS,
    FLAT_CHANNEL_CALL,
    FLOAT64_BATCHES,
    FORWARD_BATCH,
    MC_CASES,
    PARENT_EVAL,
    SELU_CASES,
    SPLITS,
    STANDARDIZE_CALL,
    STANDARDIZE_FLOAT64,
    StandInMcAlphaDropout,
    StandInMcDropout,
    alpha_input,
    alpha_inputs,
    described,
    float64_images,
    qualified,
    situations,
    standardize_inputs,
)

ACTIVATION_CLASSES = {"silu": nn.SiLU, "relu": nn.ReLU, "elu": nn.ELU, "gelu": nn.GELU, "selu": nn.SELU}
PLUMBING = (nn.Flatten, nn.Identity)
# The stand-ins the probe binds for McAlphaDropout and McDropout, by the names students know.
SHOWN_AS = {StandInMcAlphaDropout.__name__: "McAlphaDropout", StandInMcDropout.__name__: "McDropout"}


# --- Modules as the probe recorded them -----------------------------------------------------

def _is(layer: dict[str, Any], cls: type) -> bool:
    """Whether the recorded module is an instance of `cls`."""
    return qualified(cls) in layer["lineage"]


def _describe(layer: dict[str, Any]) -> str:
    name = SHOWN_AS.get(layer["name"], layer["name"])
    return f"{name}({layer['extra_repr']})"


def _short(lineage: list[str]) -> str:
    """The class name of a recorded value, from its lineage."""
    return lineage[0].rsplit(".", 1)[-1] if lineage else "nothing"


def _exceptions(raised: object) -> str:
    return raised[0] if type(raised) is list and raised else "nothing"


# --- Exercise 1: standardize_channels -----------------------------------------------------

def _channel_stats(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    dims = (0, *range(2, X.ndim))
    return X.mean(dim=dims, keepdim=True), X.std(dim=dims, keepdim=True)


def _per_image_answers(train: torch.Tensor) -> dict[str, torch.Tensor]:
    """What standardizing `train` gives with statistics taken per image, by what was done."""
    mean, _ = _channel_stats(train)
    pooled_variance = train.var(dim=(2, 3), keepdim=True).mean(dim=0, keepdim=True)
    mean_of_stds = train.std(dim=(2, 3), keepdim=True).mean(dim=0, keepdim=True)
    own_mean, own_std = train.mean(dim=(2, 3), keepdim=True), train.std(dim=(2, 3), keepdim=True)
    return {"averaged each image's own spread into the std": (train - mean) / pooled_variance.sqrt(),
            "averaged each image's own std into the std": (train - mean) / mean_of_stds,
            "standardized each image with its own mean and std": (train - own_mean) / own_std}


def _diagnose_per_image(train_out: torch.Tensor, train: torch.Tensor, where: str) -> None:
    """Fail with what was done if the training split came out standardized per image."""
    for done, answer in _per_image_answers(train).items():
        if train_out.shape == answer.shape and torch.allclose(train_out.double(), answer.double(),
                                                              rtol=1e-3, atol=1e-3):
            fail(f"{where}: your code {done}, which leaves out how the images' brightness varies "
                 "from one image to the next: compute one mean and one std per channel over all "
                 "training images, rows and columns together (dims 0, 2 and 3).")


def test_standardize_channels(got, want):
    where = STANDARDIZE_CALL
    result = got[where]
    length = f" of length {len(result)}" if type(result) is list else ""
    expect(type(result) is list and len(result) == 3,
           f"{where} should return a tuple of 3 tensors (train first, then the others in order), "
           f"got {_kind(result)}{length}.")
    for name in SPLITS:
        expect(got[f"{where} changed {name}"] is False,
               f"{where} changed its {name} input in place: return new tensors.")
    splits = standardize_inputs()
    train, valid, test = splits
    mean, std = _channel_stats(train)
    for out, split, name in zip(result, splits, SPLITS):
        what = f"{where}: the standardized {name} split"
        expect(expect_tensor(out, what=what).shape == split.shape,
               f"{what}: expected shape {tuple(split.shape)} (the input's), got {tuple(out.shape)}.")
    train_out, valid_out, test_out = result
    flat = got[FLAT_CHANNEL_CALL]
    expect(type(flat) is list and len(flat) == 1,
           f"{FLAT_CHANNEL_CALL} should return a tuple of one tensor, got {_kind(flat)}.")
    flat = expect_tensor(flat[0], what=FLAT_CHANNEL_CALL)[:, 1]
    reference = want[FLAT_CHANNEL_CALL][0][:, 1]
    expect(flat.shape == reference.shape and bool(torch.isfinite(flat).all())
           and torch.equal(torch.sign(flat), torch.sign(reference)) and flat.abs().max() < 1,
           f"{FLAT_CHANNEL_CALL}: that channel came out non-finite, large or with flipped signs; "
           "divide by (std + eps) so that eps bounds the scale of a channel that barely varies.")
    _diagnose_per_image(train_out, train, where)
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
        expect(own_mean.abs().max().item() >= 1e-3,
               f"{where}: the {name} split comes out with mean 0 per channel, so it was "
               "standardized with its own statistics. Every split must use the TRAINING split's "
               "mean and std: the test set stands for data the model has never seen, and its "
               "statistics must not leak into the model.")
        expect_close(out, (split - mean) / std, rtol=1e-3, atol=1e-3,
                     what=f"{where}: the standardized {name} split",
                     hint="Standardize every split with the mean and std of the training split "
                          "only (not of all splits together).")
    alone = got["standardize_channels(train)"]
    expect(type(alone) is list and len(alone) == 1,
           "standardize_channels(train) with no other split should return a tuple of one tensor.")
    check_contracts(got, want, "test_standardize_channels")


# --- Exercise 2: build_mlp ----------------------------------------------------------------

def _spec(kwargs: dict[str, Any]) -> dict[str, Any]:
    """What build_mlp(**kwargs) must build: its arguments with their defaults filled in."""
    selu = kwargs.get("selu", False)
    activation = ACTIVATION_CLASSES["selu" if selu else kwargs.get("activation", "silu")]
    return dict(n_hidden=kwargs.get("n_hidden", 20), n_neurons=kwargs.get("n_neurons", 100),
                activation=activation, batch_norm=kwargs.get("batch_norm", False),
                alpha_dropout=kwargs.get("alpha_dropout", 0.0), n_inputs=kwargs.get("n_inputs", 3072),
                n_outputs=kwargs.get("n_outputs", 10))


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


def _check_biases(linears: list[dict[str, Any]], where: str, batch_norm: bool) -> None:
    """Every Linear keeps its bias, except a hidden one followed by batch norm (where dropping
    it is the book's advice, and keeping it is redundant but accepted)."""
    for position, layer in enumerate(linears, start=1):
        if batch_norm and position < len(linears):
            continue
        expect("bias=True" in str(layer["extra_repr"]),
               f"{where}: Linear layer {position} has no bias. Only a Linear followed by batch norm "
               "may drop it (batch norm's own shift β replaces it).")


def _check_structure(leaves: list[dict[str, Any]], where: str, n_hidden: int, n_neurons: int,
                     activation: type[nn.Module], batch_norm: bool, alpha_dropout: float,
                     n_inputs: int, n_outputs: int) -> list[dict[str, Any]]:
    layout = [layer for layer in leaves if not any(_is(layer, cls) for cls in PLUMBING)]
    linears = [layer for layer in layout if _is(layer, nn.Linear)]
    expect(len(linears) == n_hidden + 1,
           f"{where} has {len(linears)} nn.Linear layers; expected {n_hidden + 1}: {n_hidden} hidden "
           "layers plus the output layer. n_hidden counts the hidden layers only: the input is "
           "not a layer, and the output layer comes on top.")
    expect(bool(layout) and _is(layout[-1], nn.Linear),
           f"{where} ends with {_describe(layout[-1]) if layout else 'nothing'}: nothing may come "
           "after the output layer. Its raw outputs (logits) go to nn.CrossEntropyLoss, which "
           "applies log-softmax itself; an activation there squashes or clips the logits.")
    expected = _expected_layout(n_hidden, n_neurons, activation, batch_norm, alpha_dropout,
                                n_inputs, n_outputs)
    for position, (module, (cls, attributes, what)) in enumerate(zip(layout, expected), start=1):
        matches = _is(module, cls) and all(
            math.isclose(module["attributes"].get(name, math.nan), value)
            for name, value in attributes.items())
        if matches:
            continue
        hint = ""
        if _is(module, nn.modules.batchnorm._BatchNorm) and not batch_norm:
            hint = " With batch_norm=False there is no batch norm at all."
        elif batch_norm and (cls is nn.BatchNorm1d or _is(module, nn.BatchNorm1d)):
            hint = " Batch norm goes right after each hidden Linear, before the activation."
        elif _is(module, nn.Dropout) and cls is nn.AlphaDropout:
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


def _weights(layers: list[dict[str, Any]], where: str) -> torch.Tensor:
    return torch.cat([expect_tensor(layer["weight"], what=f"{where}: a Linear layer's weight")
                      .double().flatten() for layer in layers])


def _check_init(linears: list[dict[str, Any]], where: str, selu: bool) -> None:
    gain = nn.init.calculate_gain("linear" if selu else "relu")
    scheme = "LeCun normal, std √(1/fan_in)" if selu else "He, std √(2/fan_in)"
    groups = [("the first hidden layer", linears[:1]), ("the other hidden layers", linears[1:-1]),
              ("the output layer", linears[-1:])]
    for what, layers in groups:
        if not layers:
            continue
        fan_in = layers[0]["attributes"]["in_features"]
        target = gain / math.sqrt(fan_in)
        weights = _weights(layers, where)
        got = weights.std().item()
        tolerance = 0.05 if weights.numel() >= 5_000 else 0.15
        if math.isclose(got, target, rel_tol=tolerance):
            mean = weights.mean().item()
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


def test_build_mlp(got, want):
    for where, kwargs, image_shape in BUILD_MLP_CALLS:
        spec = _spec(kwargs)
        kind = got[f"{where} type"]
        expect(qualified(nn.Sequential) in kind,
               f"{where} must return an nn.Sequential, got {_short(kind)}.")
        linears = _check_structure(got[f"{where} layers"], where, **spec)
        _check_biases(linears, where, spec["batch_norm"])
        _check_init(linears, where, selu=kwargs.get("selu", False))
        outputs = got[f"{where} forward"]
        shape = (FORWARD_BATCH, *image_shape)
        expect(type(outputs) is torch.Tensor and tuple(outputs.shape) == (FORWARD_BATCH, spec["n_outputs"]),
               f"{where} should map a batch of images {shape} to logits of shape "
               f"({FORWARD_BATCH}, {spec['n_outputs']}), got "
               f"{tuple(outputs.shape) if type(outputs) is torch.Tensor else _kind(outputs)}. "
               "Start with nn.Flatten().")
    reasons = {"build_mlp(selu=True, batch_norm=True)": "batch norm breaks a SELU net's self-normalization",
               "build_mlp(activation='swoosh')": "an unknown name"}
    for where, _ in BUILD_MLP_REFUSALS:
        raised = got[where]
        expect(type(raised) is list and "ValueError" in raised,
               f"{where} must raise ValueError ({reasons[where]}); it raised {_exceptions(raised)}.")
    check_contracts(got, want, "test_build_mlp")


# --- Exercise 3: selu_violations ----------------------------------------------------------

def _why(layer: dict[str, Any]) -> str:
    if _is(layer, nn.modules.batchnorm._BatchNorm):
        return ("batch norm re-normalizes with batch statistics and adds its own scale and shift; "
                "a SELU net normalizes itself and must not have it")
    if _is(layer, nn.Dropout):
        return ("plain dropout (nn.Dropout or a subclass) zeroes units and rescales the rest, "
                "which shifts the mean and variance; only nn.AlphaDropout keeps them")
    return "only nn.Linear, nn.SELU, nn.AlphaDropout (and nn.Flatten) keep a SELU net self-normalizing"


def test_selu_violations(got, want):
    for what in SELU_CASES:
        where = f"selu_violations({what})"
        modules = want[f"{where} modules"]
        expected = [item["position"] for item in want[f"{where} listed"]]
        kind = got[f"{where} type"]
        listed = got[f"{where} listed"]
        expect(type(listed) is list,
               f"selu_violations should return a list of modules, got {kind}.")
        positions = [item["position"] for item in listed]
        for position in expected:
            expect(position in positions,
                   f"{where} misses {_describe(modules[position])}: {_why(modules[position])}.")
        for item in listed:
            if item["position"] in expected:
                continue
            if item["container"]:
                fail(f"{where} lists the container {item['name']}: only leaf layers count (a module "
                     "with no children), not the Sequentials that hold them.")
            if item["position"] < 0:
                fail(f"{where} lists {_describe(item)}, which is not one of the model's own modules: "
                     "return the layers themselves (from model.modules()), not copies.")
            fail(f"{where} lists {_describe(item)}, which does not break self-normalization.")
        expect(positions == expected,
               f"{where} should list each offending layer once, in model order.")


# --- Exercise 4: McAlphaDropout -------------------------------------------------------------

SELU_ALPHA_PRIME = -1.0507009873554805 * 1.6732632423543772  # -λα, SELU's saturation value


def _alpha_dropped_value(p: float) -> float:
    """The value alpha dropout gives a dropped unit: a·α' + b (Klambauer et al., 2017)."""
    a = ((1 - p) * (1 + p * SELU_ALPHA_PRIME**2)) ** -0.5
    b = -a * SELU_ALPHA_PRIME * p
    return a * SELU_ALPHA_PRIME + b


def test_mc_alpha_dropout(got, want):
    expect(got["subclasses nn.AlphaDropout"] is True,
           "McAlphaDropout must be a class that subclasses nn.AlphaDropout, so that it keeps "
           "nn.AlphaDropout's constructor (p) and is still recognised as alpha dropout.")
    x = alpha_input()
    for p in ALPHA_RATES:
        where = f"McAlphaDropout({p})"
        rate = number(got[f"{where}.p"], what=f"{where}.p")
        expect(math.isclose(rate, p), f"{where}.p should be {p}, got {rate}.")
        got[f"{where}.eval()"]
        first, second = got[f"{where} in eval mode"], got[f"{where} in eval mode, again"]
        for output in (first, second):
            expect(type(output) is torch.Tensor and output.shape == x.shape,
                   f"{where} must return a tensor of the input's shape.")
        expect(not torch.allclose(first, x),
               f"{where} in eval mode returned its input unchanged: Monte Carlo "
               "dropout stays active in eval mode (call F.alpha_dropout with training=True).")
        expect(not torch.allclose(first, second),
               f"{where} gave the same output twice: draw a new mask on every call.")
        dropped = _alpha_dropped_value(p)
        share = (first.double() - dropped).abs().lt(1e-5).double().mean().item()
        expect(abs(share - p) < 0.01,
               f"{where}: {share:.1%} of the units take alpha dropout's dropped value "
               f"{dropped:.4f}, expected about {p:.0%}. Use alpha dropout (F.alpha_dropout), not "
               "plain dropout: it sets dropped units to SELU's saturation value and rescales so "
               "that the mean and variance stay 0 and 1.")
        expect_close(first.double().mean().item(), 0.0, atol=0.02, rtol=0,
                     what=f"mean of {where} applied to N(0, 1) inputs")
        expect_close(first.double().std().item(), 1.0, atol=0.02, rtol=0,
                     what=f"std of {where} applied to N(0, 1) inputs",
                     hint="Alpha dropout keeps the variance at 1; plain dropout inflates it.")
        in_training = got[f"{where} in training mode"]
        expect(type(in_training) is torch.Tensor and in_training.shape == x.shape
               and not torch.allclose(in_training, x),
               f"{where} must drop units in training mode too.")
        expect(got[f"{where} changed its input"] is False,
               f"{where} changed its input in place: return a new tensor (keep inplace=False, "
               "the default).")
    check_contracts(got, want, "test_mc_alpha_dropout")


# --- Exercise 5: to_mc_dropout --------------------------------------------------------------

def test_to_mc_dropout(got, want):
    for what, index in MC_CASES:
        where = f"to_mc_dropout({what})"
        trained = want[f"{where}: the trained model"]
        alpha = _is(trained[index], nn.AlphaDropout)
        kind = "AlphaDropout" if alpha else "Dropout"
        mc_type = got[f"{where} type"]
        expect(qualified(nn.Sequential) in mc_type,
               f"{where} must return an nn.Sequential, got {_short(mc_type)}.")
        after, unchanged = got[f"{where}: the trained model after"], want[f"{where}: the trained model after"]
        expect(after["same layers"] is True and after["classes"] == unchanged["classes"]
               and after["same state"] is True,
               f"{where} changed the trained model: build a NEW Sequential and leave the original "
               "as it is (the results table still evaluates it without dropout).")
        expect_close(got[f"{where}: the trained model's prediction after"], want[f"{where}: its prediction"],
                     rtol=1e-4, atol=1e-5, what=f"the trained model's eval-mode prediction after {where}",
                     hint="The original model no longer gives its usual deterministic predictions "
                          "in eval mode: leave it unchanged.")
        layers = got[f"{where} layers"]
        expected = want[f"{where} layers"]
        expect(type(layers) is list and len(layers) == len(trained),
               f"{where} should have as many layers as the model ({len(trained)}), "
               f"got {len(layers) if type(layers) is list else _kind(layers)}.")
        replacement = layers[index]
        stand_in = expected[index]["lineage"][0]
        wanted = ("McAlphaDropout: plain dropout breaks self-normalization" if alpha else "McDropout")
        hint = ""
        if replacement["lineage"][0] == trained[index]["lineage"][0]:
            hint = (f" It is still a plain {kind}, off in eval mode; switching the model to "
                    "training mode is not the way either (it also puts batch norm in training mode).")
        expect(stand_in in replacement["lineage"],
               f"{where}: the {kind} at position {index} became {_describe(replacement)}; it must "
               f"become an MC version of the same kind ({wanted}), which stays active in eval "
               f"mode.{hint}")
        replaced_rate = replacement["attributes"].get("p")
        trained_rate = trained[index]["attributes"]["p"]
        expect(type(replaced_rate) in (int, float) and math.isclose(replaced_rate, trained_rate),
               f"{where}: the MC dropout layer has p = {replaced_rate}, but the trained layer had "
               f"p = {trained_rate}: keep the rate it was trained with.")
        for position, (mine, theirs) in enumerate(zip(layers, trained)):
            if position == index:
                continue
            expect(mine["lineage"][0] == theirs["lineage"][0] and _same_state(mine["state"], theirs["state"]),
                   f"{where}: layer {position} should be the trained {_describe(theirs)} with its "
                   f"weights (shared or copied), got {_describe(mine)}. No re-initialization, no "
                   "retraining.")
        modes = got[f"{where} modes"]
        expect(not any(module["training"] for module in modes if not module["dropout"]),
               f"{where}: after .eval(), some non-dropout layers of the MC model are still in "
               "training mode.")
        expect_close(got[f"{where} prediction"], want[f"{where} prediction"], rtol=1e-4, atol=1e-5,
                     what=f"{where}: its eval-mode prediction, with MC layers that the hidden tests "
                          "swapped for markers",
                     hint="The MC model must be the trained layers, in order, with only the dropout "
                          "layers swapped, and batch norm using its running statistics in eval mode.")
    check_contracts(got, want, "test_to_mc_dropout")


def _same_state(mine: dict[str, Any], theirs: dict[str, Any]) -> bool:
    return (type(mine) is dict and mine.keys() == theirs.keys()
            and all(type(mine[key]) is torch.Tensor and mine[key].shape == theirs[key].shape
                    and torch.equal(mine[key], theirs[key]) for key in theirs))


# --- Contracts: properties every answer must keep, declared per exercise --------------------
#
# Each judges what the probe's contract of the same exercise recorded (CONTRACTS there).

def standardize_keeps_float64(got, want):
    where = STANDARDIZE_FLOAT64
    result = got[where]
    if type(result) is dict and "error" in result:
        fail(f"{where} raised {result['error']}: work on any number of channels and any image size "
             "(reduce over every dimension but dim 1, keepdim=True), not on CIFAR-10's 3 channels.")
    expect(type(result) is list and len(result) == 2 and all(type(t) is torch.Tensor for t in result),
           f"{where} should return a tuple of 2 tensors, got {_kind(result)}.")
    train, image = float64_images()
    mean, std = _channel_stats(train)
    for out, split, name in zip(result, (train, image), ("training batch", "other image")):
        expect(out.dtype == torch.float64,
               f"{where}: the {name} came back as {out.dtype}: keep the input's dtype (no .float() "
               "or dtype=torch.float32; torch's reductions keep float64 as it is).")
        expect_close(out, (split - mean) / std, rtol=1e-3, atol=1e-3, what=f"{where}: the {name}",
                     hint="Take the number of channels and the image size from the input (dims 0, 2 "
                          "and 3, every dimension but the channels), not from CIFAR-10's 3×32×32.")


def mlp_follows_default_dtype(got, want):
    where = BUILD_MLP_FLOAT64[0]
    got[f"{where} in float64"]
    dtypes = got[f"{where} in float64: dtypes"]
    stray = sorted(f"{name} ({dtype.removeprefix('torch.')})" for name, dtype in dtypes.items()
                   if dtype != "torch.float64")
    expect(not stray,
           f"{where}, called with float64 as the default dtype, built {', '.join(stray)} in another "
           "dtype: build every weight with torch's own factories or nn.init (which follow the "
           "default dtype and device), not from numpy or with dtype=torch.float32.")
    n_outputs = BUILD_MLP_FLOAT64[1]["n_outputs"]
    for batch in FLOAT64_BATCHES:
        output = got[f"{where} in float64: forward {batch}"]
        shown = f"{output.dtype} of shape {tuple(output.shape)}" if type(output) is torch.Tensor \
            else _kind(output)
        expect(type(output) is torch.Tensor and output.dtype == torch.float64
               and tuple(output.shape) == (batch, n_outputs),
               f"{where}, built in float64, should map {batch} float64 images to float64 logits of "
               f"shape ({batch}, {n_outputs}), got {shown}.")


def stays_on_in_eval_parent(got, want):
    first, second = got[PARENT_EVAL], got[f"{PARENT_EVAL}, again"]
    expected = want[PARENT_EVAL]
    expect(type(first) is torch.Tensor and type(second) is torch.Tensor
           and first.shape == second.shape == expected.shape,
           f"{PARENT_EVAL} should return a tensor of the input's shape.")
    expect(not torch.equal(first, second),
           f"{PARENT_EVAL} gave the same output twice, so it stops dropping once the model that "
           "holds it is in eval mode (model.eval() calls each layer's .train(False), not its "
           ".eval()): apply alpha dropout in forward whatever self.training says.")


def alpha_keeps_dtype_and_device(got, want):
    for name in alpha_inputs():
        where = f"McAlphaDropout(0.2) on a {name} input"
        mine, theirs = got[where], want[where]
        if "error" in mine:
            fail(f"{where} raised {mine['error']}: build the mask from the input (torch.rand_like, "
                 "or F.alpha_dropout) so that it follows the input's dtype and device.")
        expect(mine == theirs,
               f"{where} returned {_tensor_kind(mine)}, expected {_tensor_kind(theirs)}: keep the "
               "input's dtype and device (build the mask with torch.rand_like(x), or use "
               "F.alpha_dropout).")


def _tensor_kind(kind: dict[str, Any]) -> str:
    if "dtype" not in kind:
        return str(kind.get("type", "nothing"))
    return f"a {kind['dtype']} tensor on {kind['device']} of shape {tuple(kind['shape'])}"


def mc_leaves_caller_model(got, want):
    for what, _ in MC_CASES:
        where = f"to_mc_dropout({what}, in eval mode, its first Linear frozen)"
        got[where]
        mine, theirs = got[f"{where}: the caller's model after"], want[f"{where}: the caller's model after"]
        switched = sorted(name for name, on in mine["training"].items() if on != theirs["training"].get(name))
        expect(not switched and mine["training"].keys() == theirs["training"].keys(),
               f"{where} switched the caller's model (modules {', '.join(switched) or '?'}) to "
               "training mode: leave the trained model's modes as they are; the MC layers stay "
               "active in eval mode by themselves.")
        flipped = sorted(name for name, on in mine["requires_grad"].items()
                         if on != theirs["requires_grad"].get(name))
        expect(not flipped and mine["requires_grad"].keys() == theirs["requires_grad"].keys(),
               f"{where} changed requires_grad of the caller's parameters {', '.join(flipped) or '?'}: "
               "leave the trained model's parameters as they are (no requires_grad_ on them).")


CONTRACT_CHECKS = {
    "test_standardize_channels": (standardize_keeps_float64,),
    "test_build_mlp": (mlp_follows_default_dtype,),
    "test_mc_alpha_dropout": (stays_on_in_eval_parent, alpha_keeps_dtype_and_device),
    "test_to_mc_dropout": (mc_leaves_caller_model,),
}


def check_contracts(got, want, grade_id: str) -> None:
    """Judge each contract the probe of exercise `grade_id` observed."""
    for check in CONTRACT_CHECKS[grade_id]:
        check(got, want)


# --- Exercise 6: configure ------------------------------------------------------------------

CONFIG_KEYS = {"init", "activation", "normalization", "regularization", "optimizer", "schedule"}
WHY = {
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


def _same(mine: object, theirs: object) -> bool:
    """Equal plain data, types included (a list is not a string, 1 is not True)."""
    if type(mine) is not type(theirs):
        return False
    if type(mine) is list:
        return len(mine) == len(theirs) and all(_same(a, b) for a, b in zip(mine, theirs))
    if type(mine) is dict:
        return mine.keys() == theirs.keys() and all(_same(mine[k], theirs[k]) for k in mine)
    if type(mine) is torch.Tensor:
        return mine.shape == theirs.shape and torch.equal(mine, theirs)
    return mine == theirs


def _show_value(entry: dict[str, Any]) -> str:
    if entry["set"]:
        return "{" + ", ".join(repr(item) for item in entry["value"]) + "}" if entry["value"] else "set()"
    value = entry["value"]
    return repr(value) if type(value) in (str, int, float, bool, list) or value is None \
        else _kind(value)


def _show(config: dict[str, Any]) -> str:
    if config.get("type") != "dict":
        return str(config.get("type"))
    return "{" + ", ".join(f"{key!r}: {_show_value(entry)}" for key, entry in config["entries"].items()) + "}"


def test_configure(got, want):
    for situation in situations():
        where = f"configure({described(situation)})"
        config, expected = got[f"{where} gave"], want[f"{where} gave"]["entries"]
        expect(config.get("type") == "dict" and set(config["entries"]) == CONFIG_KEYS,
               f"{where} should return a dict with exactly the keys {sorted(CONFIG_KEYS)}, "
               f"got {_show(config)}.")
        entries = config["entries"]
        regularization = entries["regularization"]
        expect(regularization["set"] is True,
               f"{where}['regularization'] should be a set, got {regularization['type']}.")
        for key in sorted(CONFIG_KEYS):
            mine, theirs = entries[key], expected[key]
            expect(mine["set"] is theirs["set"] and _same(mine["value"], theirs["value"]),
                   f"{where}[{key!r}] is {_show_value(mine)}: that is not what the guidelines give. "
                   f"{WHY[key]} A sparse or low-latency model cannot be self-normalizing: it uses the "
                   "default configuration.")


# --- Concept questions ----------------------------------------------------------------------

test_q1_test_once = choice_question("Q1")
test_q2_self_normalizing = choice_question("Q2")
test_q3_bn_parameters = number_question("Q3")
test_q4_batch_norm_cost = choice_question("Q4")
test_q5_label_smoothing = number_question("Q5")


def _kind(value: object) -> str:
    if isinstance(value, dict) and set(value) == {"type"}:
        return str(value["type"])
    return type(value).__name__
