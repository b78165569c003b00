"""Probes of lab 08, Regularization: one per grade cell, named after it (the checks of the
same names judge what they record).

`McDropout` runs with a stand-in for the `dropout` exercise: PyTorch's own `F.dropout`, so a
mistake in `dropout` does not cost `McDropout` too, and a `McDropout` that calls `dropout`
with the module's mode instead of `training=True` is still seen doing nothing in eval mode.
Everything a student's object returns is turned into data here (parameter names instead of
parameters, modes and states of the models it was given); the checks judge it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

import labs
from autograder.probes.core import answer, by_hand, forbidden, gradients, probe, with_class_globals

F_DROPOUTS = ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
              "feature_alpha_dropout")
TORCH_DROPOUTS = ("dropout", "dropout_", "native_dropout", "alpha_dropout", "feature_dropout",
                  "feature_alpha_dropout")
NN_DROPOUTS = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
               "FeatureAlphaDropout")
NO_LIBRARY_DROPOUT = ("dropout must be written from scratch: draw the mask yourself (torch.rand_like "
                      "or torch.bernoulli), without F.dropout, torch.dropout or nn.Dropout.")


def stand_in_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """PyTorch's inverted dropout, in place of the student's `dropout` inside McDropout."""
    return F.dropout(x, p, training)


def _backward(value: torch.Tensor) -> None:
    value.sum().backward()


def _grads(model: nn.Module) -> dict[str, torch.Tensor | None]:
    return {name: parameter.grad for name, parameter in model.named_parameters()}


def _requires_grad(value: object) -> bool:
    return isinstance(value, torch.Tensor) and bool(value.requires_grad)


# --- contracts: a nested float64 model, for every exercise that walks a model ----------------

class Block(nn.Module):
    """A custom block: a bias-free Linear and a LayerNorm one level down, a bias-free Conv1d."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(6, 5, bias=False), nn.LayerNorm(5))
        self.conv = nn.Conv1d(1, 2, 3, bias=False)


class Nested(nn.Module):
    """Layers two and three levels down (model.children() sees only `stem`, `blocks`, `head`)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(4, 6)
        self.blocks = nn.ModuleList([Block(), nn.Sequential(Block(), nn.ReLU())])
        self.head = nn.Linear(5, 3, bias=False)


ZERO_ROW = "blocks.1.0.inner.0.weight"


def nested_model() -> Nested:
    """A float64 `Nested` whose parameters hold a gradient from an earlier backward, and whose
    weight ZERO_ROW has a row of zeros."""
    torch.manual_seed(12)
    model = Nested().double()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.8 + (1.0 if parameter.ndim == 1 else 0.0))
            parameter.grad = torch.full_like(parameter, 0.25)
        model.get_parameter(ZERO_ROW)[0] = 0.0
    return model


def _on_nested(see, what: str, function, *args, record: bool = True) -> tuple[Nested, object]:
    """Call `function(model, *args)` on a fresh nested model; record the model before and after."""
    model = nested_model()
    see(f"{what} before", model)
    result = see.call(what, function, model, *args, what=what, record=record)
    see(f"{what} after", model)
    return model, result


# --- ℓ1 and ℓ2 penalties ---------------------------------------------------------------------

class TwoBranches(nn.Module):
    """Conv, Linear and normalization layers, nested, with biases and affine norm parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 8), nn.LayerNorm(8),
                                  nn.Linear(8, 4, bias=False))
        self.side = nn.Conv1d(2, 2, 3)


def penalty_model() -> nn.Module:
    torch.manual_seed(10)
    model = TwoBranches()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.copy_(torch.randn_like(parameter) * (0.5 if "weight" in name else 1.5)
                            + (1.0 if parameter.ndim == 1 else 0.0))
    return model


def _probe_penalty(see, penalty, name: str) -> None:
    model = penalty_model()
    see("parameters", dict(model.named_parameters()))
    result = see.call("penalty", penalty, model, what=f"{name}(model)")
    see("penalty requires grad", _requires_grad(result))
    _on_nested(see, nested_penalty_what(name), penalty)
    see.call("backward", _backward, result, what=f"{name}(model).sum().backward()", record=False)
    see("grads", _grads(model))


def nested_penalty_what(name: str) -> str:
    return f"{name}(model) on a nested float64 model"


@probe
def test_l1_penalty(see, l1_penalty):
    _probe_penalty(see, l1_penalty, "l1_penalty")


@probe
def test_l2_penalty(see, l2_penalty):
    _probe_penalty(see, l2_penalty, "l2_penalty")


# --- parameter groups for weight decay -------------------------------------------------------

class OddlyNamed(nn.Module):
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


def plain_mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def describe_groups(groups: object, model: nn.Module) -> object:
    """Parameter groups as data: each group's keys, its parameters by name (None for a tensor
    that is not one of the model's parameters) and its weight_decay as given."""
    names = {id(parameter): name for name, parameter in model.named_parameters()}
    if not isinstance(groups, (list, tuple)):
        return {"not a list": type(groups).__name__}
    described = []
    for group in groups:
        if not isinstance(group, dict):
            described.append({"not a dict": type(group).__name__})
            continue
        entry = {"keys": [str(key) for key in group]}
        if "params" in group:
            entry["params"] = ["None" if parameter is None else names.get(id(parameter))
                               for parameter in list(group["params"])]
        if "weight_decay" in group:
            entry["weight_decay"] = group["weight_decay"]
        described.append(entry)
    return described


DECAY_WHAT = "decay_param_groups(model, 0.05)"
PLAIN_WHAT = "decay_param_groups on a plain MLP"
NESTED_DECAY_WHAT = "decay_param_groups(model, 0.02) on a nested model"
# (what, the model's class, weight_decay): the groups are judged by the module types of the class.
DECAY_CASES = ((DECAY_WHAT, OddlyNamed, 0.05), (NESTED_DECAY_WHAT, Nested, 0.02))


@probe
def test_decay_param_groups(see, decay_param_groups):
    torch.manual_seed(11)
    for what, model, weight_decay in ((DECAY_WHAT, OddlyNamed(), 0.05), (PLAIN_WHAT, plain_mlp(), 0.1)):
        groups = see.call(what, decay_param_groups, model, weight_decay, what=what, record=False)
        see.call(f"{what} groups", describe_groups, groups, model,
                 what=f"reading the groups {what} returned")
    model, groups = _on_nested(see, NESTED_DECAY_WHAT, decay_param_groups, 0.02, record=False)
    see.call(f"{NESTED_DECAY_WHAT} groups", describe_groups, groups, model,
             what=f"reading the groups {NESTED_DECAY_WHAT} returned")


# --- dropout ---------------------------------------------------------------------------------

DROPOUT_RATES = (0.2, 0.5, 0.7)
EVAL_RATES = (0.0, 0.3, 1.0)
BAD_RATES = (-0.1, 1.5)
GRAD_WHAT = "dropout on a tensor that requires grad"
IMAGES_WHAT = "dropout on a float64 batch of images"
BF16_WHAT = "dropout on a bfloat16 batch"
BF16_RATE = 0.25
UNTOUCHED = " left its input unchanged"


def _run_dropout(see, dropout, key: str, x: torch.Tensor, p: float, training: bool) -> object:
    """Call the student's dropout; record its output, and whether `x` is as it was (every call)."""
    original = x.detach().clone()
    with forbidden(F, F_DROPOUTS, NO_LIBRARY_DROPOUT), \
            forbidden(torch, TORCH_DROPOUTS, NO_LIBRARY_DROPOUT), \
            forbidden(nn, NN_DROPOUTS, NO_LIBRARY_DROPOUT):
        returned = see.call(key, dropout, x, p, training, what=key)
    see(f"{key}{UNTOUCHED}", torch.equal(x.detach(), original))
    return returned


@probe
def test_dropout(see, dropout):
    torch.manual_seed(20)
    x = see("x", torch.rand(200, 500) + 0.5)
    for p in DROPOUT_RATES:
        _run_dropout(see, dropout, f"dropout(x, p={p}, training=True)", x, p, True)
    _run_dropout(see, dropout, "dropout(x, 0.5, True)", x, 0.5, True)
    _run_dropout(see, dropout, "dropout(x, 0.5, True) called again", x, 0.5, True)
    for p in EVAL_RATES:
        _run_dropout(see, dropout, f"dropout(x, {p}, training=False)", x, p, False)
    _run_dropout(see, dropout, "dropout(x, 0.0, training=True)", x, 0.0, True)
    _run_dropout(see, dropout, "dropout(x, 1.0, training=True)", x, 1.0, True)
    for p in BAD_RATES:
        see.raises(f"dropout(x, {p}, True)", dropout, x, p, True)
    images = see("images", torch.rand(8, 3, 6, 6, dtype=torch.float64) + 0.5)
    _run_dropout(see, dropout, IMAGES_WHAT, images, 0.25, True)
    drawn = torch.Generator().manual_seed(21)  # the same batch whatever the dropout drew before
    half = see("bfloat16 batch", (torch.rand(64, 64, generator=drawn) + 0.5).bfloat16())
    _run_dropout(see, dropout, BF16_WHAT, half, BF16_RATE, True)
    leaf = see("leaf", (torch.rand(50, 40) + 0.5).requires_grad_())
    out = _run_dropout(see, dropout, GRAD_WHAT, leaf, 0.4, True)
    see(f"{GRAD_WHAT} requires grad", _requires_grad(out))
    see.call(f"{GRAD_WHAT} backward", _backward, out,
             what="dropout(x, 0.4, True).sum().backward()", record=False)
    see(f"{GRAD_WHAT} grad", leaf.grad)


# --- dropout's backward, by hand ---------------------------------------------------------------

NO_AUTOGRAD_IN_BACKWARD = ("DropoutFunction.backward must compute its gradient by hand, "
                           "grad_out * mask / (1 - p): no torch.autograd.grad, .backward() or "
                           "torch.func inside it.")
NO_LIBRARY_IN_FUNCTION = ("DropoutFunction must draw its mask itself (torch.rand_like or "
                          "torch.bernoulli), without F.dropout, torch.dropout, torch.native_dropout "
                          "or nn.Dropout.")
# (p, dtype) of each case: x has no zeros, so the mask is where the output is not 0.
FUNCTION_CASES = ((0.3, torch.float64), (0.6, torch.float64), (0.0, torch.float64),
                  (1.0, torch.float64), (0.25, torch.bfloat16))
FUNCTION_BAD_RATES = (-0.2, 1.5)
FUNCTION_SHAPE = (40, 50)
RELU_WHAT = "DropoutFunction.apply(x, 0.5) on a float64 ReLU output (half of x is 0)"
AGAIN_WHAT = "DropoutFunction.apply(x, 0.5) called twice, then the backward of each"
TWICE_WHAT = "DropoutFunction.apply(x, 0.4), its backward run twice (retain_graph=True)"
GRADCHECK_WHAT = "gradcheck with a fixed seed"
GRADCHECK_RATE = 0.3
# torch.autograd.grad, bound before any student code runs (the kernel imports the probes first),
# in a dict since a ban swaps the globals bound to it; unlike `gradients` it can keep the graph.
_AUTOGRAD = {"grad": torch.autograd.grad}


def function_what(p: float, dtype: torch.dtype) -> str:
    return f"DropoutFunction.apply(x, {p}) on a {str(dtype).removeprefix('torch.')} x"


def _apply(DropoutFunction: type, x: torch.Tensor, p: float) -> torch.Tensor:
    return DropoutFunction.apply(x, p)


def _twice(output: torch.Tensor, x: torch.Tensor, upstream: torch.Tensor) -> list:
    """The same graph's backward run twice: the first keeps the graph for the second."""
    first = _AUTOGRAD["grad"](output, x, upstream, retain_graph=True, allow_unused=True)
    return [first[0], gradients(output, x, upstream)[0]]


def _leaf(values: torch.Tensor) -> torch.Tensor:
    return values.detach().clone().requires_grad_()


def _function_case(see, DropoutFunction: type, what: str, x: torch.Tensor, p: float,
                   upstream: torch.Tensor, twice: bool = False) -> None:
    """Apply the student's Function, run its backward by hand; record the output, the gradient
    (both of them with `twice`), and whether x and the upstream gradient are as they were."""
    see(f"{what} x", x)
    see(f"{what} grad_out", upstream)
    originals = x.detach().clone(), upstream.clone()
    with _by_hand_only(DropoutFunction):
        output = see.call(what, _apply, DropoutFunction, x, p, what=what)
        backward = _twice if twice else gradients
        see.call(f"{what} gradient", backward, output, x, upstream, what=f"the backward of {what}")
    see(f"{what}{UNTOUCHED}", [torch.equal(x.detach(), originals[0]), torch.equal(upstream, originals[1])])


@contextlib.contextmanager
def _by_hand_only(DropoutFunction: type) -> Iterator[None]:
    """No autograd inside the student's backward, no library dropout inside the Function."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(by_hand(NO_AUTOGRAD_IN_BACKWARD, within=DropoutFunction))
        for module, names in ((F, F_DROPOUTS), (torch, TORCH_DROPOUTS), (nn, NN_DROPOUTS)):
            stack.enter_context(forbidden(module, names, NO_LIBRARY_IN_FUNCTION, within=DropoutFunction))
        yield


def _seeded_gradcheck(DropoutFunction: type, x: torch.Tensor) -> bool:
    """torch.autograd.gradcheck with the same seed before every call, so the same mask."""

    def seeded(values: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(0)
        return DropoutFunction.apply(values, GRADCHECK_RATE)

    return torch.autograd.gradcheck(seeded, (x,), raise_exception=False)


@probe
def test_dropout_function(see, DropoutFunction):
    see("is a Function", isinstance(DropoutFunction, type)
        and issubclass(DropoutFunction, torch.autograd.Function))
    data = torch.Generator().manual_seed(70)  # the same inputs whatever the student's code draws
    for p, dtype in FUNCTION_CASES:
        x = _leaf((torch.rand(FUNCTION_SHAPE, generator=data) + 0.5).to(dtype))
        upstream = torch.randn(FUNCTION_SHAPE, generator=data).to(dtype)
        _function_case(see, DropoutFunction, function_what(p, dtype), x, p, upstream)
    for p in FUNCTION_BAD_RATES:
        with _by_hand_only(DropoutFunction):
            see.raises(f"DropoutFunction.apply(x, {p})", _apply, DropoutFunction,
                       _leaf(torch.rand(3, 4, dtype=torch.float64) + 0.5), p)
    relu = _leaf(torch.relu(torch.randn(FUNCTION_SHAPE, generator=data, dtype=torch.float64)))
    _function_case(see, DropoutFunction, RELU_WHAT, relu, 0.5,
                   torch.randn(FUNCTION_SHAPE, generator=data, dtype=torch.float64))
    _function_case(see, DropoutFunction, TWICE_WHAT,
                   _leaf(torch.rand(FUNCTION_SHAPE, generator=data, dtype=torch.float64) + 0.5), 0.4,
                   torch.randn(FUNCTION_SHAPE, generator=data, dtype=torch.float64), twice=True)
    x = _leaf(torch.rand(FUNCTION_SHAPE, generator=data, dtype=torch.float64) + 0.5)
    upstreams = [torch.randn(FUNCTION_SHAPE, generator=data, dtype=torch.float64) for _ in range(2)]
    see(f"{AGAIN_WHAT} x", x)
    see(f"{AGAIN_WHAT} grad_out", upstreams)
    with _by_hand_only(DropoutFunction):
        outputs = [see.call(f"{AGAIN_WHAT}: call {call}", _apply, DropoutFunction, x, 0.5,
                            what=f"DropoutFunction.apply(x, 0.5), call {call}") for call in (1, 2)]
        for call, output, upstream in zip((1, 2), outputs, upstreams, strict=True):
            see.call(f"{AGAIN_WHAT}: gradient {call}", gradients, output, x, upstream,
                     what=f"the backward of DropoutFunction.apply(x, 0.5), call {call}")
    small = _leaf(torch.rand(4, 5, generator=data, dtype=torch.float64) + 0.5)
    see.call(GRADCHECK_WHAT, _seeded_gradcheck, DropoutFunction, small,
             what="torch.autograd.gradcheck on DropoutFunction.apply(x, 0.3) with a fixed seed")


# --- MC dropout ------------------------------------------------------------------------------

MC_RATES = (0.2, 0.5)


def _set_mode(module: nn.Module, mode: str) -> nn.Module:
    return getattr(module, mode)()


def _mc_model(McDropout: type) -> nn.Module:
    return nn.Sequential(nn.Linear(10, 10), McDropout(0.5), nn.Linear(10, 3)).eval()


def _nested_mc_model(McDropout: type) -> nn.Module:
    inner = nn.Sequential(nn.Linear(10, 10), McDropout(0.5))
    return nn.Sequential(nn.Sequential(inner, nn.ReLU()), nn.Linear(10, 3)).double().eval()


NESTED_MC_WHAT = "a float64 model with McDropout two levels down, switched to .eval()"
MC_BF16_WHAT = "McDropout(0.5) in eval mode on a bfloat16 batch"
MC_BF16_ROWS = 100
# (key, builder, what, input dtype): parent models switched to .eval(), each called twice.
MC_PARENTS = (("model", _mc_model, "nn.Sequential(nn.Linear(10, 10), McDropout(0.5), "
               "nn.Linear(10, 3)).eval()", torch.float32),
              ("nested model", _nested_mc_model, NESTED_MC_WHAT, torch.float64))


@probe
def test_mc_dropout(see, McDropout):
    see("subclasses nn.Dropout", isinstance(McDropout, type) and issubclass(McDropout, nn.Dropout))
    McDropout = with_class_globals(McDropout, dropout=stand_in_dropout)
    torch.manual_seed(30)
    x = see("x", torch.rand(300, 400) + 0.5)
    for p in MC_RATES:
        layer = see.call(f"McDropout({p})", McDropout, p, what=f"McDropout({p})", record=False)
        see.call(f"McDropout({p}).p", getattr, layer, "p", None, what=f"McDropout({p}).p")
        for mode in ("eval", "train"):
            see.call(f"McDropout({p}).{mode}()", _set_mode, layer, mode,
                     what=f"McDropout({p}).{mode}()", record=False)
            see.call(f"McDropout({p}) in {mode} mode", layer, x, what=f"McDropout({p}) in {mode} mode")
    for key, build, what, dtype in MC_PARENTS:
        model = see.call(key, build, McDropout, record=False, what=what)
        inputs = torch.randn(20, 10, dtype=dtype)
        with torch.no_grad():
            for call in ("first", "second"):
                see.call(f"{key} output, {call} call", model, inputs, what=what)
    half = see.call(MC_BF16_WHAT, McDropout, 0.5, what="McDropout(0.5)", record=False)
    see.call(f"{MC_BF16_WHAT}: .eval()", _set_mode, half, "eval", what="McDropout(0.5).eval()",
             record=False)
    see.call(f"{MC_BF16_WHAT} output", half, x[:MC_BF16_ROWS].bfloat16(), what=MC_BF16_WHAT)
    identity = see.call("McDropout(0.0)", McDropout, 0.0, what="McDropout(0.0)", record=False)
    see.call("McDropout(0.0).eval()", _set_mode, identity, "eval", what="McDropout(0.0).eval()",
             record=False)
    see.call("McDropout(0.0) output", identity, x, what="McDropout(0.0) in eval mode")


# --- MC dropout predictions ------------------------------------------------------------------

def _count_rows(model: nn.Module) -> list[int]:
    rows: list[int] = []
    model.register_forward_hook(lambda module, inputs, output: rows.append(len(inputs[0])))
    return rows


def _mc_predict(see, mc_predict, key: str, model: nn.Module, X: torch.Tensor,
                n_samples: int) -> None:
    """Record what mc_predict returned, whether it is a tuple, and what tracks gradients."""
    result = see.call(key, mc_predict, model, X, n_samples, what=key)
    see(f"{key} is a tuple", isinstance(result, tuple))
    see(f"{key} requires grad", [_requires_grad(item) for item in result]
        if isinstance(result, tuple) else [])


BN_WHAT = "mc_predict(model, X, n_samples=7)"
TWO_POINT_WHAT = "mc_predict(model, X)"
SELU_WHAT = "mc_predict on a SELU net"
TRAINING_WHAT = "mc_predict(model, X, n_samples=30)"
NESTED_MC_PREDICT_WHAT = "mc_predict on a float64 model with its dropout two levels down"
DEFAULT_MC_PREDICT_WHAT = "mc_predict(model, X) with its default n_samples"


@probe
def test_mc_predict(see, mc_predict):
    # 1. Batch norm in eval mode, no dropout noise (p = 0): exact.
    torch.manual_seed(40)
    bn_model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.0),
                             nn.Linear(16, 4))
    batch_norm = bn_model[1]
    batch_norm.running_mean.normal_(0, 2)
    batch_norm.running_var.uniform_(0.5, 3)
    X = torch.randn(32, 6) * 3 + 1
    bn_model.train()
    see(f"{BN_WHAT} batch norm before", batch_norm.state_dict())
    rows = _count_rows(bn_model)
    _mc_predict(see, mc_predict, BN_WHAT, bn_model, X, 7)
    see(f"{BN_WHAT} batch norm after", batch_norm.state_dict())
    see(f"{BN_WHAT} rows", rows)
    see(f"{BN_WHAT} model after", bn_model)

    # 2. Average the probabilities, not the logits.
    torch.manual_seed(41)
    two_point = nn.Sequential(nn.Linear(1, 1), nn.Dropout(0.5), nn.Linear(1, 2))
    with torch.no_grad():
        two_point[0].weight.fill_(1.0)
        two_point[0].bias.zero_()
        two_point[2].weight.copy_(torch.tensor([[10.0], [0.0]]))
        two_point[2].bias.zero_()
    two_point.eval()
    _mc_predict(see, mc_predict, TWO_POINT_WHAT, two_point, torch.ones(200, 1), 100)
    see(f"{TWO_POINT_WHAT} model after", two_point)

    # 3. Every kind of dropout layer counts; a model in training mode stays in training mode.
    torch.manual_seed(42)
    selu_net = nn.Sequential(nn.Linear(5, 32), nn.SELU(), nn.AlphaDropout(0.3), nn.Linear(32, 3))
    selu_net.eval()
    _mc_predict(see, mc_predict, SELU_WHAT, selu_net, torch.randn(16, 5), 20)
    see(f"{SELU_WHAT} model after", selu_net)
    torch.manual_seed(43)
    net = nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.2), nn.BatchNorm1d(8), nn.Linear(8, 3)).train()
    rows = _count_rows(net)
    _mc_predict(see, mc_predict, TRAINING_WHAT, net, torch.randn(16, 5), 30)
    see(f"{TRAINING_WHAT} rows", rows)
    see(f"{TRAINING_WHAT} model after", net)

    # 4. A dropout layer nested two levels down (model.children() misses it), in float64.
    torch.manual_seed(44)
    nested = nn.Sequential(nn.Sequential(nn.Linear(5, 16), nn.Sequential(nn.ReLU(), nn.Dropout(0.5))),
                           nn.Linear(16, 3)).double().eval()
    _mc_predict(see, mc_predict, NESTED_MC_PREDICT_WHAT, nested,
                torch.randn(16, 5, dtype=torch.float64), 20)
    see(f"{NESTED_MC_PREDICT_WHAT} model after", nested)

    # 5. The default number of samples.
    torch.manual_seed(45)
    small = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3)).eval()
    rows = _count_rows(small)
    see.call(DEFAULT_MC_PREDICT_WHAT, mc_predict, small, torch.randn(6, 4), what=DEFAULT_MC_PREDICT_WHAT)
    see(f"{DEFAULT_MC_PREDICT_WHAT} rows", rows)


# --- max-norm --------------------------------------------------------------------------------

MAX_NORM_CASES = ((2.0, 1), (1.0, 1), (2.0, 0))
MAX_NORM_LINEARS = (0, 2)


def max_norm_model() -> nn.Sequential:
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


def max_norm_what(max_norm: float, dim: int) -> str:
    return f"apply_max_norm_(model, max_norm={max_norm}, dim={dim})"


def _leaf_facts(module: object) -> dict[str, bool]:
    weight = getattr(module, "weight", None)
    return {"tensor": isinstance(weight, torch.Tensor),
            "is_leaf": bool(getattr(weight, "is_leaf", False)),
            "requires_grad": bool(getattr(weight, "requires_grad", False)),
            "grad_fn": getattr(weight, "grad_fn", None) is not None}


NESTED_MAX_NORM = 1.5
# The defaults (max_norm=2.0, dim=1) on a model with a row of norm about 1e-9, below eps.
DEFAULT_MAX_NORM_WHAT = "apply_max_norm_(model) with its defaults"
TINY_ENTRY = 2e-10
NESTED_MAX_NORM_WHAT = f"apply_max_norm_(model, max_norm={NESTED_MAX_NORM}) on a nested model"


@probe
def test_apply_max_norm(see, apply_max_norm_):
    for max_norm, dim in MAX_NORM_CASES:
        what = max_norm_what(max_norm, dim)
        model = max_norm_model()
        see(f"{what} before", model.state_dict())
        parameters = list(model.parameters())
        see.call(what, apply_max_norm_, model, max_norm=max_norm, dim=dim, what=what, record=False)
        see(f"{what} kept its parameters",
            all(a is b for a, b in zip(parameters, model.parameters(), strict=False)))
        see(f"{what} weights", [_leaf_facts(model[index]) for index in MAX_NORM_LINEARS])
        see(f"{what} after", model.state_dict())
    _on_nested(see, NESTED_MAX_NORM_WHAT, apply_max_norm_, NESTED_MAX_NORM, record=False)
    model = max_norm_model()
    with torch.no_grad():
        model[2].weight[0].fill_(TINY_ENTRY)
    see(f"{DEFAULT_MAX_NORM_WHAT} before", model.state_dict())
    see.call(DEFAULT_MAX_NORM_WHAT, apply_max_norm_, model, what=DEFAULT_MAX_NORM_WHAT, record=False)
    see(f"{DEFAULT_MAX_NORM_WHAT} after", model.state_dict())


# --- early stopping --------------------------------------------------------------------------

class PlainSGD:
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


# (args, kwargs, metrics): the metrics each stopper sees, one step per epoch.
DECISION_CASES = (
    ((3,), {}, (1.0, 0.8, 0.85, 0.9, 0.79, 0.95, 0.96, 0.97)),
    ((1,), {}, (0.5, 0.4, 0.4)),
    ((2,), {"min_delta": 0.1}, (1.0, 0.95, 0.85, 0.8, 0.78)),
    ((2,), {"mode": "max"}, (0.5, 0.6, 0.55, 0.58, 0.7)),
    ((2,), {"min_delta": 0.25, "mode": "max"}, (0.5, 0.5, 0.625, 1.0, 1.125, 1.25)),
)
RESTORE_METRICS = (0.9, 0.5, 0.7, 0.8)
BAD_MODE = "EarlyStopping(3, 0.0, 'median')"
RESTORE_FIRST_WHAT = "restore(model) before any step"
FIT_WHAT = "labs.fit(..., early_stopping=EarlyStopping(2))"


def call_text(args: tuple, kwargs: dict) -> str:
    return ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])


def _decide(stopper: object, metric: float, model: nn.Module) -> bool:
    return bool(stopper.step(metric, model))


def _step(stopper: object, metric: float, model: nn.Module) -> None:
    stopper.step(metric, model)


def _restore(stopper: object, model: nn.Module) -> None:
    stopper.restore(model)


@probe
def test_early_stopping(see, EarlyStopping):
    see("is a class", isinstance(EarlyStopping, type))
    for args, kwargs, metrics in DECISION_CASES:
        shown = f"EarlyStopping({call_text(args, kwargs)})"
        stopper = see.call(shown, EarlyStopping, *args, what=shown, record=False, **kwargs)
        model = nn.Linear(2, 2)
        for index, metric in enumerate(metrics):
            see.call(f"{shown} step {index}", _decide, stopper, metric, model,
                     what=f"step({metric}, model)")
    see.raises(BAD_MODE, EarlyStopping, 3, 0.0, "median")
    unused = see.call("EarlyStopping(2), no step", EarlyStopping, 2, what="EarlyStopping(2)", record=False)
    torch.manual_seed(59)
    model = nn.Linear(2, 2)
    see("before restore without a step", model.state_dict())
    see.call(RESTORE_FIRST_WHAT, _restore, unused, model, what=RESTORE_FIRST_WHAT, record=False)
    see("after restore without a step", model.state_dict())

    torch.manual_seed(60)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Linear(6, 2))
    training = torch.Generator().manual_seed(60)
    stopper = see.call("EarlyStopping(2)", EarlyStopping, 2, what="EarlyStopping(2)", record=False)
    for epoch, metric in enumerate(RESTORE_METRICS, start=1):
        with torch.no_grad():  # "training": every parameter and buffer changes in place
            for parameter in model.parameters():
                parameter.add_(torch.randn(parameter.shape, generator=training))
            model[1].running_mean.add_(1.0)
            model[1].running_var.mul_(1.5)
        see(f"epoch {epoch} state", model.state_dict())
        see.call(f"step at epoch {epoch}", _step, stopper, metric, model,
                 what=f"step({metric}, model) at epoch {epoch}", record=False)
    see.call("restore(model)", _restore, stopper, model, what="restore(model)", record=False)
    see("restored state", model.state_dict())

    torch.manual_seed(61)
    X_train, y_train = torch.randn(32, 5), torch.randint(0, 2, (32,))
    X_valid, y_valid = torch.randn(64, 5), torch.randint(0, 2, (64,))  # random labels: it over-fits
    see("valid data", [X_valid, y_valid])
    net = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 2))
    stopper = see.call("EarlyStopping(2) for labs.fit", EarlyStopping, 2, what="EarlyStopping(2)",
                       record=False)
    history = see.call("fit", labs.fit, net, PlainSGD(net.parameters(), lr=0.5), (X_train, y_train),
                       (X_valid, y_valid), epochs=20, batch_size=8, early_stopping=stopper,
                       progress=False, what=FIT_WHAT, record=False)
    see("valid losses", history["valid_loss"])
    see("net after fit", net.state_dict())


# --- the epoch early stopping restores ---------------------------------------------------------

NAN = float("nan")
# (metrics, patience, keyword arguments): the validation histories restored_epoch replays.
HISTORIES = (
    ([0.7], 3, {}),
    ((0.9, 0.7, 0.75, 0.8, 0.85, 0.5), 3, {}),
    ([1.0, 0.95, 0.92, 0.85, 0.84, 0.83, 0.9], 3, {"min_delta": 0.1}),
    ([0.8, 0.6, 0.6, 0.7, 0.6, 0.65], 4, {}),
    ([0.5, 0.62, 0.62, 0.61, 0.7, 0.69, 0.68], 2, {"mode": "max"}),
    ([0.5, 0.54, 0.58, 0.6, 0.52], 2, {"min_delta": 0.05, "mode": "max"}),
    ([3.0, 2.5, 2.6, 2.2, 2.3, 2.1, 2.15], 2, {}),
    ([0.4, 0.3, 0.35, 0.2], 1, {}),
    ([0.9, 0.6, 0.7, NAN, 0.65, 0.5], 3, {}),
    ([0.5, 0.7, NAN, NAN, 0.9], 2, {"mode": "max"}),
    ([0.5, 0.4, 0.4 - 1e-9, 0.41, 0.42], 2, {"min_delta": 0.0, "mode": "min"}),
)
EMPTY_WHAT = "restored_epoch([], 2)"
BAD_MODE_WHAT = "restored_epoch([0.5, 0.4], 2, mode='median')"


def history_what(metrics, patience: int, options: dict) -> str:
    return f"restored_epoch({list(metrics)}, {call_text((patience,), options)})"


@probe
def test_restored_epoch(see, restored_epoch):
    for metrics, patience, options in HISTORIES:
        what = history_what(metrics, patience, options)
        given = type(metrics)(metrics)  # a copy: did the function change the caller's list?
        see.call(what, restored_epoch, given, patience, what=what, **options)
        see(f"{what}{UNTOUCHED}", list(given) == list(metrics))  # the same NaN object: equal
    see.raises(EMPTY_WHAT, restored_epoch, [], 2)
    see.raises(BAD_MODE_WHAT, restored_epoch, [0.5, 0.4], 2, mode="median")


# --- concept questions -----------------------------------------------------------------------

test_q1_dropout_inference = answer("test_q1_dropout_inference")
test_q2_sparse_model = answer("test_q2_sparse_model")
test_q3_dropout_scale = answer("test_q3_dropout_scale")
test_q4_sgd_weight_decay = answer("test_q4_sgd_weight_decay")
test_q5_adamw = answer("test_q5_adamw")
