"""Probes of lab 01, Initialization: one per grade cell, named after it (checks in
autograder/checks/lab01_initialization.py).

`init_linear_` and `apply_init` run with stand-ins for the exercises they build on: an
`init_std` whose value encodes its arguments, a `uniform_bound` of 2σ, an `init_linear_` that
writes a mark per (scheme, distribution). They are not the answers; they let the check see
that the student's code passes the right arguments on and uses what it gets back.
They are bound in the globals the student's function reads, for the probe's run only
(`_stand_ins`), not in a copy of the function: so a recursive apply_init, a helper, or a
function behind a decorator (functools.wraps) sees them too.

Then the contracts, per exercise (`IN_PLACE_CONTRACTS` says which layers each in-place
initializer gets): `init_linear_` and `orthogonal_init_` on float64 layers and frozen ones
(requires_grad=False), recording whether the layer kept its own parameter objects, their dtype
and requires_grad, and their values; `orthogonal_init_` drawn many times on small layers,
recording the signs of W's diagonal (QR without the sign correction makes W[0, 0] < 0 always);
`apply_init` on a float64 model whose Linear layers sit in custom modules, a ModuleDict and a
ModuleList, and on a bare nn.Linear; `layer_stats` on a model in eval mode whose Linear layers
sit in a custom module, whose parameters hold a stale gradient, recording its mode and
gradients afterwards (and the mode of the first model, in train mode).

The graded conclusion and the graded derivation: `vanishing_depth` on gradient-norm histories
the grader makes (`HISTORIES`: the tricky ones included, lists and tuples, each list recorded
again afterwards), and `variance_gain` for every activation and slope of `GAIN_CASES`, with
the class and message of what it raises for an activation it does not know. The check
computes the exact gains itself and measures them in a forward pass of its own.
"""

from __future__ import annotations

import contextlib
import itertools
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from autograder.probes.core import answer, forbidden, probe

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
    if (scheme, distribution) not in MARKS:
        raise ValueError(f"init_linear_ got scheme={scheme!r}, distribution={distribution!r}: "
                         "apply_init passes its own scheme and distribution on ('normal' by default).")
    with torch.no_grad():
        for name, parameter in layer.named_parameters():
            parameter.fill_(MARKS[(scheme, distribution)] if name == "weight" else 0.0)
    return layer.requires_grad_(True)


@contextlib.contextmanager
def _stand_ins(function: Callable[..., Any], **names: Any) -> Iterator[None]:
    """Bind `names` (stand-ins) in the globals `function` looks names up in while the block runs,
    then put back what was there: the globals of `function` and of what it wraps (a decorator
    made with functools.wraps), so a wrapped or recursive function, and a helper of the same
    notebook, see them too."""
    scopes: dict[int, dict[str, Any]] = {}
    for _ in range(8):
        scope = getattr(function, "__globals__", None)
        if isinstance(function, types.FunctionType) and isinstance(scope, dict):
            scopes[id(scope)] = scope
        function = getattr(function, "__wrapped__", None)
        if function is None:
            break
    missing = object()
    saved = [(scope, name, scope.get(name, missing)) for scope in scopes.values() for name in names]
    try:
        for scope in scopes.values():
            scope.update(names)
        yield
    finally:
        for scope, name, value in reversed(saved):
            if value is missing:
                scope.pop(name, None)
            else:
                scope[name] = value


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
UNKNOWN_DISTRIBUTION = "init_linear_(nn.Linear(20, 10), 'he', 'laplace')"
NO_BIAS_SHAPE = (400, 50)  # nn.Linear(400, 50, bias=False)


# --- Contracts of the in-place initializers: the caller's layer stays the caller's ------------

# Per exercise: (kind of layer, in_features, out_features, further arguments). "float64": a
# float64 layer; "frozen": requires_grad=False on weight and bias. (Not the meta device: the
# first meta-device operation of a process, normal_ or a product, loads PyTorch's meta kernels,
# 2 to 4 s that a correct answer drawing on the layer's device would pay.)
IN_PLACE_CONTRACTS: dict[str, tuple[tuple[str, int, int, tuple], ...]] = {
    "init_linear_": (("float64", 120, 100, ("he", "normal")), ("float64", 100, 120, ("glorot", "uniform")),
                     ("frozen", 60, 40, ("lecun", "normal")), ("frozen", 60, 40, ("he", "uniform"))),
    "orthogonal_init_": (("float64", 30, 50, ()), ("float64", 50, 30, ()), ("frozen", 40, 40, ())),
}
LAYER_KINDS = {"float64": "a float64", "frozen": "a frozen (requires_grad=False)"}


def in_place_what(name: str, kind: str, fan_in: int, fan_out: int, arguments: tuple) -> str:
    shown = "".join(f", {argument!r}" for argument in arguments)
    return f"{name}(nn.Linear({fan_in}, {fan_out}){shown}) on {LAYER_KINDS[kind]} layer"


def contract_layer(kind: str, fan_in: int, fan_out: int) -> nn.Linear:
    layer = nn.Linear(fan_in, fan_out)
    with torch.no_grad():
        layer.bias.uniform_(0.5, 1.0)
    return layer.double() if kind == "float64" else layer.requires_grad_(False)


def _parameter_facts(layer: nn.Module) -> dict[str, dict[str, Any]]:
    return {name: {"dtype": str(p.dtype), "requires_grad": bool(p.requires_grad)}
            for name, p in layer.named_parameters()}


def _in_place(function: Callable[..., Any], layer: nn.Linear, *arguments: Any) -> dict[str, Any]:
    """Call `function(layer, *arguments)`; what it left of the layer: its own parameter objects or
    new ones, their dtype and requires_grad (their values are recorded apart)."""
    weight, bias = layer.weight, layer.bias
    function(layer, *arguments)
    return {"same weight": layer.weight is weight, "same bias": layer.bias is bias,
            "parameters": _parameter_facts(layer)}


def _probe_in_place(see, name: str, function: Callable[..., Any],
                    ban: Callable[[Callable[..., Any]], contextlib.AbstractContextManager]) -> None:
    """Each layer of `IN_PLACE_CONTRACTS[name]` (built before `ban`, PyTorch's own init of a new
    layer uses torch.nn.init) through the student's `function`."""
    torch.manual_seed(8)
    for kind, fan_in, fan_out, arguments in IN_PLACE_CONTRACTS[name]:
        layer = contract_layer(kind, fan_in, fan_out)
        what = in_place_what(name, kind, fan_in, fan_out, arguments)
        with ban(function):
            see.call(what, _in_place, function, layer, *arguments, what=what)
        see(f"{what} weight", layer.weight)
        see(f"{what} bias", layer.bias)


def _no_nn_init(init_linear_: Callable[..., Any]) -> contextlib.AbstractContextManager:
    return forbidden(nn.init, NN_INIT_FUNCTIONS,
                     "init_linear_ must not use torch.nn.init: draw the weights yourself "
                     "(for example with layer.weight.normal_ inside torch.no_grad()).", within=init_linear_)


@probe
def test_init_linear(see, init_linear_):
    with _stand_ins(init_linear_, init_std=stand_in_init_std, uniform_bound=stand_in_uniform_bound):
        _probe_init_linear(see, init_linear_)


def _probe_init_linear(see, init_linear_: Callable[..., Any]) -> None:
    torch.manual_seed(1)
    for (fan_in, fan_out), scheme in INIT_LINEAR_CASES:
        for distribution in ("normal", "uniform"):
            layer = nn.Linear(fan_in, fan_out)
            layer.bias.data.uniform_(0.5, 1.0)
            where = f"init_linear_(nn.Linear({fan_in}, {fan_out}), {scheme!r}, {distribution!r})"
            with _no_nn_init(init_linear_):
                returned = see.call(where, init_linear_, layer, scheme, distribution, what=where,
                                    record=False)
            see(f"{where} returns its layer", returned is layer)
            see(f"{where} weight", layer.weight)
            see(f"{where} bias", layer.bias)
    torch.manual_seed(2)
    layer = nn.Linear(*NO_BIAS_SHAPE, bias=False)
    with _no_nn_init(init_linear_):
        see.call("no bias", init_linear_, layer, "he", what="init_linear_ on a layer without bias",
                 record=False)
    see("no bias weight", layer.weight)
    layer = nn.Linear(20, 10)  # built before the ban: nn.Linear's own init uses torch.nn.init
    with _no_nn_init(init_linear_):
        see.raises(UNKNOWN_DISTRIBUTION, init_linear_, layer, "he", "laplace")
    _probe_in_place(see, "init_linear_", init_linear_, _no_nn_init)


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


class Residual(nn.Module):
    """A custom block: its nn.Linear is an attribute, not in a Sequential."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.inner = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)


class Tower(nn.Module):
    """Linear layers in a ModuleDict, in custom blocks inside a ModuleList, and directly."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.ModuleDict({"proj": nn.Linear(12, 10), "norm": nn.LayerNorm(10)})
        self.blocks = nn.ModuleList([Residual(10), nn.Sequential(Residual(10), nn.ReLU())])
        self.head = nn.Linear(10, 4, bias=False)


def _filled(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(0.3)
    return model


# (key, model builder, what the message calls it): the models apply_init runs on.
APPLY_INIT_MODELS = (
    ("sequential", apply_init_model, "model"),
    ("custom", lambda: _filled(Tower().double()),
     "a float64 model with Linear layers in custom modules, a ModuleDict and a ModuleList"),
    ("bare", lambda: _filled(nn.Linear(7, 3).double()), "a bare float64 nn.Linear"),
)
# (model key, scheme, distribution): each run of apply_init (None: distribution left out).
APPLY_INIT_RUNS = (("sequential", "he", "normal"), ("sequential", "glorot", "uniform"),
                   ("custom", "he", "normal"), ("bare", "glorot", "uniform"), ("custom", "lecun", None))


def apply_init_what(key: str, scheme: str, distribution: str) -> str:
    model = next(what for name, _, what in APPLY_INIT_MODELS if name == key)
    shown = "" if distribution is None else f", {distribution!r}"
    where = f"apply_init(model, {scheme!r}{shown})"
    return where if key == "sequential" else f"{where} on {model}"


@probe
def test_apply_init(see, apply_init):
    with _stand_ins(apply_init, init_linear_=stand_in_init_linear_):
        _probe_apply_init(see, apply_init)


def _probe_apply_init(see, apply_init: Callable[..., Any]) -> None:
    builders = {key: build for key, build, _ in APPLY_INIT_MODELS}
    for key, scheme, distribution in APPLY_INIT_RUNS:
        model = builders[key]()
        before = dict(model.named_parameters())
        where = apply_init_what(key, scheme, distribution)
        arguments = (scheme,) if distribution is None else (scheme, distribution)
        returned = see.call(where, apply_init, model, *arguments, what=where, record=False)
        see(f"{where} returns its model", returned is model)
        see(f"{where} state", model.state_dict())
        see(f"{where} same parameters", {name: parameter is before.get(name)
                                         for name, parameter in model.named_parameters()})


# (activation, alpha or None for the default): alpha only matters for "leaky_relu".
GAIN_CASES: tuple[tuple[str, float | None], ...] = (
    ("relu", None), ("relu", 0.2), ("leaky_relu", 0.2), ("leaky_relu", 0.0), ("leaky_relu", 0.01),
    ("leaky_relu", 1.0), ("leaky_relu", -0.5), ("leaky_relu", 3.0), ("leaky_relu", None),
    ("tanh", None), ("tanh", 0.2), ("linear", None), ("linear", 0.2),
)
UNKNOWN_ACTIVATIONS = ("sigmoid", "elu")


def gain_what(activation: str, alpha: float | None) -> str:
    return f"variance_gain({activation!r})" if alpha is None else f"variance_gain({activation!r}, {alpha})"


def _refusal(function: Callable[..., Any], *arguments: Any) -> dict[str, Any] | None:
    """How `function(*arguments)` refused: its exception's class names and message; None if it
    returned."""
    try:
        function(*arguments)
    except NotImplementedError:
        raise
    except Exception as error:
        return {"raised": [cls.__name__ for cls in type(error).__mro__], "message": str(error)}
    return None


@probe
def test_variance_gain(see, variance_gain):
    for activation, alpha in GAIN_CASES:
        what = gain_what(activation, alpha)
        arguments = (activation,) if alpha is None else (activation, alpha)
        see.call(what, variance_gain, *arguments, what=what)
    for activation in UNKNOWN_ACTIVATIONS:
        what = gain_what(activation, None)
        see.call(what, _refusal, variance_gain, activation, what=what)


def stats_model(depth: int = 4) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    sizes = [64] + [48] * depth
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), nn.Tanh()]
    layers.append(nn.Linear(sizes[-1], 5))
    return nn.Sequential(*layers)


class StatsBlock(nn.Module):
    """A custom block: a LayerNorm, then Linear layers in a ModuleList, then dropout."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.layers = nn.ModuleList([nn.Linear(width, width), nn.Linear(width, width)])
        self.drop = nn.Dropout(0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return self.drop(x)


NESTED_STATS_WHAT = ("layer_stats on a model in eval mode with Linear layers in a custom module "
                     "and a gradient left from an earlier backward")


def nested_stats_model() -> nn.Module:
    """Five nn.Linear layers, three of them nested (children() sees two), in eval mode, every
    parameter holding a stale gradient."""
    model = nn.Sequential(nn.Linear(16, 24), nn.Tanh(),
                          nn.Sequential(StatsBlock(24), nn.Linear(24, 24), nn.Tanh()),
                          nn.Linear(24, 5)).eval()
    for parameter in model.parameters():
        parameter.grad = torch.full_like(parameter, 0.25)
    return model


def modes(model: nn.Module) -> dict[str, bool]:
    return {name or ".": bool(module.training) for name, module in model.named_modules()}


@probe
def test_layer_stats(see, layer_stats):
    torch.manual_seed(3)
    model = stats_model()
    X, y = torch.randn(256, 64) * 2 + 0.5, torch.randint(0, 5, (256,))
    see.call("stats", layer_stats, model, X, y, nn.CrossEntropyLoss(),
             what="layer_stats(model, X, y, loss_fn)")
    see("hooks left", any(bool(module._forward_hooks) for module in model.modules()))
    see("modes after", modes(model))
    see.call("stats again", layer_stats, model, X, y, nn.CrossEntropyLoss(),
             what="layer_stats called twice")
    model = nested_stats_model()
    see("nested before", model)
    X, y = torch.randn(128, 16), torch.randint(0, 5, (128,))
    see.call("nested stats", layer_stats, model, X, y, nn.CrossEntropyLoss(), what=NESTED_STATS_WHAT)
    see("nested after", model)
    see("nested hooks left", any(bool(module._forward_hooks) for module in model.modules()))


# (key, grad_norms input side first, threshold or None for the default): histories the grader
# makes, each telling a known mistake apart (counted from the input side, 0-based, the last
# crossing, <= for <, relative to the largest norm or absolute, the threshold ignored, ...).
HISTORIES: tuple[tuple[str, Sequence[float], float | None], ...] = (
    ("monotone decay", [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0], None),
    ("slow decay", [0.7**k for k in range(14, -1, -1)], None),
    ("below, above again, below", [3.0, 2e-3, 4.0, 5e-4, 0.8, 2.0], None),
    ("never below", [0.5, 0.9, 0.03, 1.5], None),
    ("small norms, never below", [2e-4, 5e-4, 1e-3, 4e-3], None),
    ("lower layers larger than the output layer", [40.0, 9.0, 0.05, 1.0], None),
    ("tiny output layer", [5.0, 4.0, 1e-9], None),
    ("exactly the threshold", [0.25, 3.0, 1.0, 4.0], 0.25),
    ("another threshold", [0.09, 0.3, 0.2, 1.0], 0.1),
    ("another threshold, as a tuple", (0.6, 0.01, 0.4, 2.0), 1e-3),
    ("a single layer", [0.7], None),
    ("two layers", [1e-3, 1.0], None),
    ("a huge ratio", [1e-30, 1e-12, 3.0, 2e8], None),
    ("a tuple", (1e-4, 0.5, 3e-3, 1.0), None),
    ("integers", [0, 200, 7, 100], None),
)
EMPTY_HISTORY = "vanishing_depth([])"


def history_what(norms: Sequence[float], threshold: float | None) -> str:
    inner = ", ".join(f"{norm:g}" for norm in norms)
    shown = f"({inner})" if isinstance(norms, tuple) else f"[{inner}]"
    return f"vanishing_depth({shown})" if threshold is None else f"vanishing_depth({shown}, {threshold:g})"


@probe
def test_vanishing_depth(see, vanishing_depth):
    for key, norms, threshold in HISTORIES:
        given = list(norms) if isinstance(norms, list) else tuple(norms)
        arguments = (given,) if threshold is None else (given, threshold)
        see.call(key, vanishing_depth, *arguments, what=history_what(norms, threshold))
        see(f"{key}: left", given)
    see.raises(EMPTY_HISTORY, vanishing_depth, [])


ORTHOGONAL_SHAPES = [(64, 64), (100, 30), (30, 100)]
# Small layers, drawn SIGN_DRAWS times each: the signs of W's diagonal. For a uniformly random
# orthogonal W each is positive half the time; QR without the sign correction makes W[0, 0] < 0.
SIGN_SHAPES = [(4, 4), (6, 3), (3, 6)]
SIGN_DRAWS = 200


def sign_what(rows: int, cols: int) -> str:
    return f"orthogonal_init_(nn.Linear({cols}, {rows})) drawn {SIGN_DRAWS} times"


def _no_orthogonal(orthogonal_init_: Callable[..., Any]) -> contextlib.AbstractContextManager:
    return forbidden(nn.init, ("orthogonal_",), "orthogonal_init_ must build Q itself from "
                     "torch.linalg.qr, not call torch.nn.init.orthogonal_.", within=orthogonal_init_)


def _diagonal_signs(orthogonal_init_: Callable[..., Any], rows: int, cols: int) -> torch.Tensor:
    """(SIGN_DRAWS, min(rows, cols)): whether each draw's diagonal entry of W is positive."""
    signs = []
    for _ in range(SIGN_DRAWS):
        layer = nn.Linear(cols, rows)
        with _no_orthogonal(orthogonal_init_):
            orthogonal_init_(layer)
        signs.append(torch.diagonal(layer.weight.detach()) > 0)
    return torch.stack(signs)


@probe
def test_orthogonal_init(see, orthogonal_init_):
    for rows, cols in ORTHOGONAL_SHAPES:
        torch.manual_seed(4)
        layer = nn.Linear(cols, rows)
        where = f"orthogonal_init_(nn.Linear({cols}, {rows}))"
        with _no_orthogonal(orthogonal_init_):
            returned = see.call(where, orthogonal_init_, layer, what=where, record=False)
        see(f"{where} returns its layer", returned is layer)
        see(f"{where} weight", layer.weight)
        see(f"{where} bias", layer.bias)
    torch.manual_seed(5)
    for call in ("first", "second"):
        layer = see.call(call, orthogonal_init_, nn.Linear(32, 32), record=False)
        see(f"{call} weight", layer.weight)
    torch.manual_seed(6)
    for rows, cols in SIGN_SHAPES:
        what = sign_what(rows, cols)
        see.call(what, _diagonal_signs, orthogonal_init_, rows, cols, what=what)
    _probe_in_place(see, "orthogonal_init_", orthogonal_init_, _no_orthogonal)


test_q1_same_value = answer("test_q1_same_value")
test_q2_zero_bias = answer("test_q2_zero_bias")
test_q3_he_std = answer("test_q3_he_std")
test_q4_default_ratio = answer("test_q4_default_ratio")
test_q5_selu_init = answer("test_q5_selu_init")
test_q6_relu_default_factor = answer("test_q6_relu_default_factor")
