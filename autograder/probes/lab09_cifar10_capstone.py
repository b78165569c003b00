"""Probes of lab 09, the CIFAR-10 capstone: one per grade cell, named after it (the judge's
checks of the same name read what they record).

No probe trains a network. Modules are recorded as plain data (`layer_data`: class and base
classes by qualified name, the hyperparameters the checks read, the Linear weights), and the
modules a function returns are recorded by their position in the model they came from.

`to_mc_dropout` runs with stand-ins for `McAlphaDropout` (exercise 4) and `McDropout` (lab 08):
marker subclasses of nn.AlphaDropout and nn.Dropout that are not Monte Carlo dropout. Each
scales its input by an amount that depends on its rate, in every mode, so the record shows
which MC layer the student's code put where, with which p, and that the rest of the model is
the trained one in eval mode.

After its own observations each probe observes its exercise's contracts (CONTRACTS): float64
images of another shape, a model built with float64 as the default dtype, an MC layer inside a
model switched to .eval(), inputs in bfloat16 and on the meta device, the caller's model's
modes and requires_grad.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from autograder.probes.core import answer, probe, to_data

# --- Modules as data ------------------------------------------------------------------------

LAYER_ATTRIBUTES = ("in_features", "out_features", "num_features", "p")


def qualified(cls: type) -> str:
    """A class's name with its module, e.g. 'torch.nn.modules.linear.Linear'."""
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', '?')}"


def lineage(value: Any) -> list[str]:
    """The qualified names of the classes `value` is an instance of, its own class first."""
    return [qualified(cls) for cls in type(value).__mro__]


def _extra_repr(module: Any) -> str:
    try:
        return str(module.extra_repr())
    except Exception:  # a student's module with a broken extra_repr still gets described
        return "?"


def layer_data(module: Any, *, weight: bool = False) -> dict[str, Any]:
    """One module as data: class, base classes, repr arguments, whether it holds other modules,
    the numeric hyperparameters the checks read, and (with `weight`) an nn.Linear's weight."""
    attributes = {}
    for name in LAYER_ATTRIBUTES:
        value = getattr(module, name, None)
        if type(value) in (int, float, bool):
            attributes[name] = value
    children = module.children() if isinstance(module, nn.Module) else ()
    data = {"name": type(module).__name__, "lineage": lineage(module),
            "extra_repr": _extra_repr(module), "container": bool(list(children)),
            "attributes": attributes}
    if weight:
        held = getattr(module, "weight", None)
        data["weight"] = held if isinstance(module, nn.Linear) and isinstance(held, torch.Tensor) else None
    return data


def leaf_layers(model: nn.Module) -> list[dict[str, Any]]:
    """Every module of `model` without children, in model order, with the Linear weights."""
    return [layer_data(module, weight=True) for module in model.modules()
            if not list(module.children())]


def evaluated(model: nn.Module, X: torch.Tensor) -> Any:
    """`model(X)` in eval mode, without gradients."""
    model.eval()
    with torch.no_grad():
        return model(X)


# --- Exercise 1: standardize_channels -----------------------------------------------------

def standardize_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train, validation and test images (N, 3, 8, 8) with different per-channel statistics, the
    training images each with its own brightness."""
    generator = torch.Generator().manual_seed(0)
    means = torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)
    stds = torch.tensor([0.25, 0.2, 0.3]).view(1, 3, 1, 1)
    pixel_pattern = 0.1 * torch.linspace(-1, 1, 8).view(1, 1, 1, 8)
    # each image has its own brightness, so per-image statistics are far from per-channel ones
    brightness = 0.3 * torch.randn(300, 1, 1, 1, generator=generator)
    train = means + pixel_pattern + brightness + stds * torch.randn(300, 3, 8, 8, generator=generator)
    valid = 0.1 + 0.5 * torch.randn(60, 3, 8, 8, generator=generator)
    test = 0.9 + 0.1 * torch.randn(40, 3, 8, 8, generator=generator)
    return train, valid, test


SPLITS = ("train", "valid", "test")
STANDARDIZE_CALL = "standardize_channels(train, valid, test)"


@probe
def test_standardize_channels(see, standardize_channels):
    splits = standardize_inputs()
    originals = [split.clone() for split in splits]
    see.call(STANDARDIZE_CALL, standardize_channels, *splits, what=STANDARDIZE_CALL)
    for name, split, original in zip(SPLITS, splits, originals):
        see(f"{STANDARDIZE_CALL} changed {name}", not torch.equal(split, original))
    see.call("standardize_channels(train)", standardize_channels, splits[0],
             what="standardize_channels(train)")
    flat = flat_channel_images()
    see.call(FLAT_CHANNEL_CALL, standardize_channels, flat, what=FLAT_CHANNEL_CALL)
    see_contracts(see, "test_standardize_channels", standardize_channels)


FLAT_CHANNEL_CALL = "standardize_channels(train) with a channel whose std (1e-9) is below eps"


def flat_channel_images() -> torch.Tensor:
    """Images (8, 2, 4, 4) whose second channel barely varies: eps, not the std, sets its scale."""
    generator = torch.Generator().manual_seed(3)
    images = torch.rand(8, 2, 4, 4, generator=generator, dtype=torch.float64)
    images[:, 1] = 0.5 + 1e-9 * torch.randn(8, 4, 4, generator=generator, dtype=torch.float64)
    return images


# --- Exercise 2: build_mlp ----------------------------------------------------------------

# (call as the student reads it, keyword arguments, the image shape of a forward pass)
BUILD_MLP_CALLS = [
    ("build_mlp()", {}, (3, 32, 32)),
    ("build_mlp(n_hidden=3, n_neurons=50, activation='relu', batch_norm=True)",
     dict(n_hidden=3, n_neurons=50, activation="relu", batch_norm=True), (3, 32, 32)),
    ("build_mlp(n_hidden=5, n_neurons=64, selu=True, alpha_dropout=0.2)",
     dict(n_hidden=5, n_neurons=64, selu=True, alpha_dropout=0.2), (3, 32, 32)),
    ("build_mlp(n_hidden=4, n_neurons=80, activation='elu', n_inputs=784, n_outputs=5)",
     dict(n_hidden=4, n_neurons=80, activation="elu", n_inputs=784, n_outputs=5), (1, 28, 28)),
    ("build_mlp(n_hidden=2, n_neurons=100, activation='gelu', selu=True)",
     dict(n_hidden=2, n_neurons=100, activation="gelu", selu=True), (3, 32, 32)),
]
BUILD_MLP_REFUSALS = [
    ("build_mlp(selu=True, batch_norm=True)", dict(selu=True, batch_norm=True)),
    ("build_mlp(activation='swoosh')", dict(activation="swoosh")),
]
FORWARD_BATCH = 4


@probe
def test_build_mlp(see, build_mlp):
    for where, kwargs, image_shape in BUILD_MLP_CALLS:
        torch.manual_seed(0)
        model = see.call(where, build_mlp, what=where, record=False, **kwargs)
        see(f"{where} type", lineage(model))
        see.call(f"{where} layers", leaf_layers, model, what=f"listing the layers of {where}")
        X = torch.rand(FORWARD_BATCH, *image_shape)
        see.call(f"{where} forward", evaluated, model, X,
                 what=f"{where} applied to a batch of images {tuple(X.shape)}")
    for where, kwargs in BUILD_MLP_REFUSALS:
        see.raises(where, build_mlp, **kwargs)
    see_contracts(see, "test_build_mlp", build_mlp)


# --- Exercise 3: selu_violations ----------------------------------------------------------

class AlwaysOnDropout(nn.Dropout):
    """A subclass of plain dropout (as MC dropout is): still plain dropout."""


class AlwaysOnAlphaDropout(nn.AlphaDropout):
    """A subclass of alpha dropout: still fine in a SELU net."""


SELU_CASES = ("a clean SELU net", "a clean SELU net made of nested Sequentials",
              "a SELU net with batch norm", "a SELU net with plain dropout",
              "a net of nested Sequentials with ReLU, MC-style dropout, LayerNorm and batch norm",
              "a SELU net with a convolution")


def selu_models() -> list[nn.Module]:
    """The nets selu_violations is asked about, one per SELU_CASES entry."""
    torch.manual_seed(0)
    clean = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.SELU(), nn.Linear(8, 8), nn.SELU(),
                          nn.AlphaDropout(0.1), nn.Linear(8, 3))
    nested_clean = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(12, 8), nn.SELU()),
                                 nn.Sequential(nn.Linear(8, 8), nn.SELU(), AlwaysOnAlphaDropout(0.1)),
                                 nn.Linear(8, 3))
    with_bn = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.BatchNorm1d(8), nn.SELU(),
                            nn.Linear(8, 3))
    with_dropout = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.SELU(), nn.Dropout(0.2),
                                 nn.Linear(8, 3))
    mixed = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(12, 8), nn.ReLU()),
                          nn.Sequential(nn.Linear(8, 8), nn.SELU(), AlwaysOnDropout(0.1)),
                          nn.LayerNorm(8), nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.SELU()),
                          nn.Linear(8, 3))
    convolutional = nn.Sequential(nn.Conv2d(3, 4, 3), nn.SELU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    return [clean, nested_clean, with_bn, with_dropout, mixed, convolutional]


def listed(model: nn.Module, returned: Any) -> list[dict[str, Any]] | None:
    """What a function listed of `model`'s modules: each item as data, with its position in
    `model.modules()` (-1: not a module of `model`); None if it is not a list or tuple."""
    if not isinstance(returned, (list, tuple)):
        return None
    modules = list(model.modules())
    return [dict(layer_data(item), position=next((i for i, m in enumerate(modules) if m is item), -1))
            for item in returned]


@probe
def test_selu_violations(see, selu_violations):
    for what, model in zip(SELU_CASES, selu_models()):
        where = f"selu_violations({what})"
        see(f"{where} modules", [layer_data(module) for module in model.modules()])
        returned = see.call(where, selu_violations, model, what=where, record=False)
        see(f"{where} type", type(returned).__name__)
        see(f"{where} listed", listed(model, returned))


# --- Exercise 4: McAlphaDropout ------------------------------------------------------------

ALPHA_RATES = (0.1, 0.25)


def alpha_input() -> torch.Tensor:
    """The N(0, 1) batch McAlphaDropout is applied to."""
    return torch.randn(400, 500, generator=torch.Generator().manual_seed(1))


def rate(layer: Any) -> Any:
    return getattr(layer, "p", None)


def set_mode(layer: nn.Module, training: bool) -> None:
    """`layer.train()` or `layer.eval()`, as the visible tests call them (a parent model's .eval()
    calls .train(False) instead: the contract `stays_on_in_eval_parent` covers that way)."""
    if training:
        layer.train()
    else:
        layer.eval()


@probe
def test_mc_alpha_dropout(see, McAlphaDropout):
    see("subclasses nn.AlphaDropout",
        isinstance(McAlphaDropout, type) and issubclass(McAlphaDropout, nn.AlphaDropout))
    for p in ALPHA_RATES:
        where = f"McAlphaDropout({p})"
        layer = see.call(where, McAlphaDropout, p, what=where, record=False)
        see.call(f"{where}.p", rate, layer, what=f"{where}.p")
        see.call(f"{where}.eval()", set_mode, layer, False, what=f"{where}.eval()", record=False)
        x = alpha_input()
        torch.manual_seed(11)  # not the input's seed: a mask drawn with torch.rand would follow it
        see.call(f"{where} in eval mode", layer, x, what=f"{where} in eval mode")
        see.call(f"{where} in eval mode, again", layer, x, what=f"{where} in eval mode, called again")
        see.call(f"{where}.train()", set_mode, layer, True, what=f"{where}.train()", record=False)
        see.call(f"{where} in training mode", layer, x, what=f"{where} in training mode")
        see(f"{where} changed its input", not torch.equal(x, alpha_input()))
    see_contracts(see, "test_mc_alpha_dropout", McAlphaDropout)


# --- Exercise 5: to_mc_dropout --------------------------------------------------------------

class StandInMcDropout(nn.Dropout):
    """Stands in for McDropout: not dropout at all, it scales by 1 + p in every mode."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return input * (1.0 + self.p)


class StandInMcAlphaDropout(nn.AlphaDropout):
    """Stands in for McAlphaDropout: not dropout at all, it maps x to (1 - p)·x + p in every mode."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return input * (1.0 - self.p) + self.p


MC_STAND_INS = {"McAlphaDropout": StandInMcAlphaDropout, "McDropout": StandInMcDropout}


@contextlib.contextmanager
def names_bound(function: Any, **names: Any) -> Iterator[None]:
    """Bind `names` in the globals `function` reads (its own cell's helpers included) while the
    block runs, then put back what was there."""
    scope = function.__globals__ if isinstance(function, types.FunctionType) else {}
    missing = object()
    saved = {name: scope.get(name, missing) for name in names}
    scope.update(names)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                scope.pop(name, None)
            else:
                scope[name] = value


# (what the trained model is, the index of its dropout layer)
MC_CASES = (("a SELU net with alpha dropout", 5), ("a ReLU net with batch norm and dropout", 3))


def mc_models() -> tuple[torch.Tensor, list[nn.Sequential]]:
    """The input batch and the trained models of MC_CASES, in eval mode."""
    torch.manual_seed(2)
    selu_net = nn.Sequential(nn.Flatten(), nn.Linear(20, 30), nn.SELU(), nn.Linear(30, 30), nn.SELU(),
                             nn.AlphaDropout(0.15), nn.Linear(30, 5))
    relu_net = nn.Sequential(nn.Linear(20, 30), nn.BatchNorm1d(30), nn.ReLU(), nn.Dropout(0.3),
                             nn.Linear(30, 5))
    with torch.no_grad():
        relu_net[1].running_mean.uniform_(-0.5, 0.5)
        relu_net[1].running_var.uniform_(0.5, 2.0)
    X = torch.randn(64, 20)
    for model in (selu_net, relu_net):
        model.eval()
    return X, [selu_net, relu_net]


def sequence_layers(model: Any) -> list[dict[str, Any]]:
    """Each item of a Sequential as data, with its state."""
    return [dict(layer_data(layer), state=layer.state_dict()) for layer in model]


def modes_after_eval(model: nn.Module) -> list[dict[str, Any]]:
    """Each module's training flag after `model.eval()`, and whether it is a dropout layer."""
    model.eval()
    return [{"name": name or ".", "dropout": isinstance(module, nn.modules.dropout._DropoutNd),
             "training": bool(module.training)} for name, module in model.named_modules()]


def trained_model_after(model: nn.Sequential, layers: list[nn.Module],
                        state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Whether `model` still holds the same layer objects and state, and its layers' classes."""
    after = model.state_dict()
    return {"same layers": len(model) == len(layers) and all(a is b for a, b in zip(model, layers)),
            "classes": [qualified(type(layer)) for layer in model],
            "same state": after.keys() == state.keys()
                          and all(torch.equal(after[key], value) for key, value in state.items())}


@probe
def test_to_mc_dropout(see, to_mc_dropout):
    X, models = mc_models()
    for (what, _), model in zip(MC_CASES, models):
        where = f"to_mc_dropout({what})"
        layers, state = list(model), {k: v.clone() for k, v in model.state_dict().items()}
        see(f"{where}: the trained model", sequence_layers(model))
        see(f"{where}: its prediction", evaluated(model, X))
        with names_bound(to_mc_dropout, **MC_STAND_INS):
            mc = see.call(where, to_mc_dropout, model, what=where, record=False)
        see(f"{where} type", lineage(mc))
        see.call(f"{where}: the trained model after", trained_model_after, model, layers, state,
                 what=f"the trained model after {where}")
        see.call(f"{where}: the trained model's prediction after", evaluated, model, X,
                 what=f"the trained model after {where}")
        see.call(f"{where} layers", sequence_layers, mc, what=f"the layers of {where}")
        see.call(f"{where} modes", modes_after_eval, mc, what=f"{where}.eval()")
        see.call(f"{where} prediction", evaluated, mc, X, what=f"{where} applied in eval mode")
    see_contracts(see, "test_to_mc_dropout", to_mc_dropout)


# --- Contracts: properties every answer must keep, declared per exercise --------------------
#
# Each contract observes one property on inputs built here, after the exercise's own probe; the
# check module judges each under the same key (CONTRACT_CHECKS there).

def returned(function: Any, *args: Any) -> Any:
    """What `function(*args)` returned, or {"error": what it raised}: a contract's check turns an
    error into a sentence about the contract, where `see.call` would report the bare error."""
    try:
        return function(*args)
    except Exception as error:
        return {"error": f"{type(error).__name__}: {error}"[:300]}


STANDARDIZE_FLOAT64 = "standardize_channels(train, image) on float64 images of 4 channels (batches 60 and 1)"


def float64_images() -> tuple[torch.Tensor, torch.Tensor]:
    """A float64 training batch (60, 4, 3, 5), each channel at its own scale, and one more image."""
    generator = torch.Generator().manual_seed(3)
    scales = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64).view(1, 4, 1, 1)
    train = scales * torch.rand(60, 4, 3, 5, generator=generator, dtype=torch.float64)
    return train, torch.rand(1, 4, 3, 5, generator=generator, dtype=torch.float64)


def standardize_keeps_float64(see, standardize_channels):
    see(STANDARDIZE_FLOAT64, returned(standardize_channels, *float64_images()))


BUILD_MLP_FLOAT64 = ("build_mlp(n_hidden=2, n_neurons=16, batch_norm=True, n_inputs=12, n_outputs=3)",
                     dict(n_hidden=2, n_neurons=16, batch_norm=True, n_inputs=12, n_outputs=3), (3, 2, 2))
FLOAT64_BATCHES = (3, 1)


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    saved = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(saved)


def floating_dtypes(model: nn.Module) -> dict[str, str]:
    """The dtype of each floating-point parameter and buffer of `model`, by name."""
    tensors = [*model.named_parameters(), *model.named_buffers()]
    return {name: str(t.dtype) for name, t in tensors if t.is_floating_point()}


def mlp_follows_default_dtype(see, build_mlp):
    where, kwargs, image_shape = BUILD_MLP_FLOAT64
    with default_dtype(torch.float64):
        torch.manual_seed(0)
        model = see.call(f"{where} in float64", build_mlp, what=f"{where} with float64 as the default dtype",
                         record=False, **kwargs)
    see.call(f"{where} in float64: dtypes", floating_dtypes, model, what=f"listing the tensors of {where}")
    for batch in FLOAT64_BATCHES:
        X = torch.rand(batch, *image_shape, dtype=torch.float64)
        see.call(f"{where} in float64: forward {batch}", evaluated, model, X,
                 what=f"{where}, built in float64, applied to {batch} float64 images")


PARENT_EVAL = "McAlphaDropout(0.2) inside a model switched to .eval()"


def stays_on_in_eval_parent(see, McAlphaDropout):
    """Two passes through a model holding the layer in a nested Sequential, after model.eval()."""
    model = nn.Sequential(nn.Identity(), nn.Sequential(McAlphaDropout(0.2), nn.Identity()))
    model.eval()
    x = torch.randn(40, 50, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(14)
    for attempt in ("", ", again"):
        see.call(f"{PARENT_EVAL}{attempt}", model, x, what=f"{PARENT_EVAL}{attempt}")


def tensor_kind(function: Any, *args: Any) -> dict[str, Any]:
    """What `function(*args)` returned (dtype, device, shape) or the error it raised, as data."""
    result = returned(function, *args)
    if isinstance(result, dict) and "error" in result:
        return result
    if not isinstance(result, torch.Tensor):
        return {"type": type(result).__name__}
    return {"dtype": str(result.dtype), "device": str(result.device), "shape": list(result.shape)}


def alpha_inputs() -> dict[str, torch.Tensor]:
    """Inputs McAlphaDropout must return in kind: dtypes other than float32, the meta device."""
    x = torch.randn(30, 20, generator=torch.Generator().manual_seed(5))
    return {"bfloat16": x.bfloat16(), "float64": x.double(), "meta": torch.empty(30, 20, device="meta")}


def alpha_keeps_dtype_and_device(see, McAlphaDropout):
    layer = McAlphaDropout(0.2).eval()
    for name, x in alpha_inputs().items():
        see(f"McAlphaDropout(0.2) on a {name} input", tensor_kind(layer, x))


def caller_flags(model: nn.Module) -> dict[str, dict[str, bool]]:
    """Each module's training flag and each parameter's requires_grad, by name."""
    return {"training": {name or ".": bool(m.training) for name, m in model.named_modules()},
            "requires_grad": {name: bool(p.requires_grad) for name, p in model.named_parameters()}}


def mc_leaves_caller_model(see, to_mc_dropout):
    """The caller's model, in eval mode with its first Linear frozen, after to_mc_dropout."""
    _, models = mc_models()
    for (what, _), model in zip(MC_CASES, models):
        next(m for m in model if isinstance(m, nn.Linear)).requires_grad_(False)
        where = f"to_mc_dropout({what}, in eval mode, its first Linear frozen)"
        with names_bound(to_mc_dropout, **MC_STAND_INS):
            see.call(where, to_mc_dropout, model, what=where, record=False)
        see(f"{where}: the caller's model after", caller_flags(model))


CONTRACTS = {
    "test_standardize_channels": (standardize_keeps_float64,),
    "test_build_mlp": (mlp_follows_default_dtype,),
    "test_mc_alpha_dropout": (stays_on_in_eval_parent, alpha_keeps_dtype_and_device),
    "test_to_mc_dropout": (mc_leaves_caller_model,),
}


def see_contracts(see, grade_id: str, subject: Any) -> None:
    """Observe each contract of exercise `grade_id` on the student's `subject`."""
    for observe in CONTRACTS[grade_id]:
        observe(see, subject)


# --- Exercise 6: configure ------------------------------------------------------------------

FLAGS = ("deep", "self_normalizing", "sparse", "low_latency", "risk_sensitive")


def situations() -> list[dict[str, bool]]:
    """Every combination of the flags, then `deep` alone: the other flags' defaults are False."""
    every = [{flag: bool(bits >> i & 1) for i, flag in enumerate(FLAGS)} for bits in range(2 ** len(FLAGS))]
    return [*every, {"deep": False}, {"deep": True}]


def described(situation: dict[str, bool]) -> str:
    return ", ".join(f"{key}={value}" for key, value in situation.items())


def config_data(config: Any) -> Any:
    """A configuration as data: for a dict, each value as its class name, whether it is a set,
    and its data (a set's items sorted); anything else as its type."""
    if not isinstance(config, dict):
        return {"type": type(config).__name__}
    entries = {}
    for key, value in config.items():
        is_set = isinstance(value, (set, frozenset))
        data = sorted((_plain(item) for item in value), key=repr) if is_set else _plain(value)
        entries[str(key)] = {"type": type(value).__name__, "set": is_set, "value": data}
    return {"type": "dict", "entries": entries}


def _plain(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return {"type": type(value).__name__}
    return to_data(value)


@probe
def test_configure(see, configure):
    for situation in situations():
        where = f"configure({described(situation)})"
        config = see.call(where, configure, what=where, record=False, **situation)
        see(f"{where} gave", config_data(config))


# --- Concept questions ------------------------------------------------------------------------

test_q1_test_once = answer("test_q1_test_once")
test_q2_self_normalizing = answer("test_q2_self_normalizing")
test_q3_bn_parameters = answer("test_q3_bn_parameters")
test_q4_batch_norm_cost = answer("test_q4_batch_norm_cost")
test_q5_label_smoothing = answer("test_q5_label_smoothing")
