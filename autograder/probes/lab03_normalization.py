"""Probes of lab 03, Batch norm and layer norm: one per grade cell, named after it (the checks
of the same names judge what they record).

Every input comes from a function of this module seeded with its own `torch.Generator`
(`standardize_splits`, `zca_input`, `bn_inputs`, `ln_inputs`, `fuse_inputs`...), so the check
rebuilds the very same inputs to compute PyTorch's values and the usual wrong answers itself.
The probes only record: what the student's code returned, its gradients, the module's
parameters and buffers after each step, and whether the inputs were left as they were.
No exercise here builds on an earlier one, so no stand-in is needed; the normalization
functions of PyTorch are refused while the student's code runs.

BatchNormFunction and LayerNormFunction (`norm_function_inputs`, all float64, with a random
upstream gradient) run their backward inside `by_hand`, which refuses autograd to the student's
code, through `gradients`; `torch.autograd.gradcheck` runs outside it and only its boolean is
recorded: the check judges the recorded gradients against its own autograd of PyTorch's layers.

Then each exercise's contracts (its `*_CONTRACTS` table or `*_WHAT` constants say which): float64
and bfloat16 inputs keep their dtype (standardize, zca_whiten, layer_norm, a `.double()`
BatchNorm1dScratch, a float64 Linear/BatchNorm1d pair), everything the module holds is in its
state_dict(), layer_norm takes a weight without bias and a bias without weight, and
fuse_linear_bn leaves the caller's layers in their modes; zca_whiten on 10 samples, where the
covariance's divisor shows (N − 1 or N), with eps given and with the signature's default. A
contract call records what it raised instead of ending the probe (`attempt`), so that the check
can say which contract the answer breaks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
import torch.nn.utils.fusion
from torch import nn

from autograder.probes.core import (
    Refused,
    answer,
    by_hand,
    forbidden,
    gradients,
    module_state,
    probe,
)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- Reading student objects (always through see.call, so that a failure stops the probe) --------


def _no_grad_call(function: Callable[..., Any], *args: Any) -> Any:
    with torch.no_grad():
        return function(*args)


def _backward(output: torch.Tensor, upstream: torch.Tensor) -> None:
    output.backward(upstream)


def _state_of(module: Any) -> dict[str, Any]:
    """The module's class, mode, parameters and buffers (only its type if it is no nn.Module)."""
    if isinstance(module, nn.Module):
        return module_state(module)
    return {"type": type(module).__name__}


def _state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    return dict(nn.Module.state_dict(module))


def _eval(module: Any) -> Any:
    return module.eval()


def _train(module: Any) -> Any:
    return module.train()


def _requires_grad(value: Any) -> bool | None:
    return bool(value.requires_grad) if isinstance(value, torch.Tensor) else None


# --- Contract calls: what the student's code returned or raised (recorded, never a stop) -------


def attempt(see, key: str, function: Callable[..., Any], *args: Any,
            facts: Callable[[Any], Any] | None = None, **kwargs: Any) -> Any:
    """Call the student's `function` for a contract; record {"returned": facts(result)} or
    {"raised": class name, "message": ...}; return the result (None if it raised).

    A contract's input (float64, bfloat16) is the finding when it makes the code fail, so a
    failure here is recorded, not the end of the probe; a forbidden function still ends it.
    """
    try:
        result = function(*args, **kwargs)
        seen = facts(result) if facts is not None else result
    except Refused as refusal:
        see.stop(key, str(refusal))
    except Exception as error:  # any failure on a contract's input is its finding
        see(key, {"raised": type(error).__name__, "message": str(error)[:300]})
        return None
    see(key, {"returned": seen})
    return result


def tensor_facts(value: Any) -> Any:
    """dtype, device and shape of a tensor (its type's name for anything else)."""
    if isinstance(value, torch.Tensor):
        return {"dtype": str(value.dtype), "device": str(value.device), "shape": list(value.shape)}
    return {"type": type(value).__name__}


def _dtypes(values: Any) -> Any:
    """The dtype of each tensor of a returned tuple (its type's name for anything else)."""
    if isinstance(values, tuple | list):
        return [str(v.dtype) if isinstance(v, torch.Tensor) else type(v).__name__ for v in values]
    return type(values).__name__


# --- Exercise 1: standardize -----------------------------------------------------------------


def standardize_splits() -> dict[str, torch.Tensor]:
    """Train, valid and test splits of 6 features on very different scales."""
    generator = _generator(0)
    scales = torch.tensor([1.0, 2.0, 0.5, 10.0, 3.0, 1.0])
    offsets = torch.tensor([0.0, 5.0, -3.0, 100.0, 1.0, 2.0])
    train = torch.randn(500, 6, generator=generator) * scales + offsets
    valid = torch.randn(120, 6, generator=generator) * 2 + 3
    test = torch.randn(80, 6, generator=generator) * 5 - 20
    return {"train": train, "valid": valid, "test": test}


def standardize_images() -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1, 4, 4) images whose pixel (0, 0, 0) is constant in the first (training) split."""
    generator = _generator(1)
    images = torch.rand(200, 1, 4, 4, generator=generator)
    images[:, 0, 0, 0] = 0.5
    more = torch.rand(30, 1, 4, 4, generator=generator)
    return images, more


STANDARDIZE_DTYPES = (torch.float64, torch.bfloat16)


def standardize_where(dtype: torch.dtype) -> str:
    return f"standardize(train, valid, test) on {str(dtype).removeprefix('torch.')} splits"


@probe
def test_standardize(see, standardize):
    splits = standardize_splits()
    snapshot = {name: split.clone() for name, split in splits.items()}
    where = "standardize(train, valid, test)"
    returned = see.call(where, standardize, *splits.values(), what=where)
    see(f"{where} type", type(returned).__name__)
    see(f"{where} is a tuple", isinstance(returned, tuple))
    see(f"{where} left its inputs unchanged",
        {name: torch.equal(split, snapshot[name]) for name, split in splits.items()})

    where = "standardize(train)"
    returned = see.call(where, standardize, standardize_splits()["train"], what=where)
    see(f"{where} is a tuple", isinstance(returned, tuple))

    where = "standardize(images, more_images)"
    returned = see.call(where, standardize, *standardize_images(),
                        what="standardize(images, more_images) on (N, 1, 4, 4) tensors")
    see(f"{where} is a tuple", isinstance(returned, tuple))

    for dtype in STANDARDIZE_DTYPES:  # contract: the splits' dtype is kept, the splits untouched
        splits = {name: split.to(dtype) for name, split in standardize_splits().items()}
        snapshot = {name: split.clone() for name, split in splits.items()}
        where = standardize_where(dtype)
        attempt(see, where, standardize, *splits.values(), facts=_dtypes)
        see(f"{where} left its inputs unchanged",
            all(torch.equal(split, snapshot[name]) for name, split in splits.items()))


# --- Exercise 2: zca_whiten ------------------------------------------------------------------

ZCA_CASES = [(2000, 6, 1e-5), (800, 12, 1e-5), (3000, 4, 0.5)]
ZCA_DOUBLE_WHAT = "zca_whiten(X of shape (2000, 6) in float64, eps=1e-05)"
# A batch small enough that dividing the covariance by N − 1 or N (both accepted) is told apart
# from any other count (5% at N = 10), called with eps given and with the signature's default.
ZCA_SMALL_SHAPE = (10, 3)
ZCA_SMALL_WHAT = "zca_whiten(X of shape (10, 3), eps=1e-05)"
ZCA_DEFAULT_WHAT = "zca_whiten(X of shape (10, 3)) with the default eps"


def zca_where(n: int, d: int, eps: float) -> str:
    return f"zca_whiten(X of shape ({n}, {d}), eps={eps})"


def zca_input(case: int) -> torch.Tensor:
    """Correlated data with a mean far from 0, for ZCA_CASES[case]."""
    n, d, _ = ZCA_CASES[case]
    generator = _generator(10 + case)
    mixing = torch.randn(d, d, generator=generator) + 2 * torch.eye(d)
    return torch.randn(n, d, generator=generator) @ mixing + torch.linspace(-3, 5, d)


def zca_small_input() -> torch.Tensor:
    """Correlated data of ZCA_SMALL_SHAPE with a mean far from 0 (eigenvalues of 8 to 22)."""
    n, d = ZCA_SMALL_SHAPE
    generator = _generator(13)
    mixing = torch.randn(d, d, generator=generator) + 2 * torch.eye(d)
    return torch.randn(n, d, generator=generator) @ mixing + torch.linspace(-3, 5, d)


@probe
def test_zca_whiten(see, zca_whiten):
    for case, (n, d, eps) in enumerate(ZCA_CASES):
        X = zca_input(case)
        snapshot = X.clone()
        where = zca_where(n, d, eps)
        returned = see.call(where, zca_whiten, X, eps=eps, what=where)
        see(f"{where} is a tuple", isinstance(returned, tuple))
        see(f"{where} left X unchanged", torch.equal(X, snapshot))
    X = zca_input(0).double()  # contract: float64 data stays float64
    snapshot = X.clone()
    attempt(see, ZCA_DOUBLE_WHAT, zca_whiten, X, eps=ZCA_CASES[0][2], facts=_dtypes)
    see(f"{ZCA_DOUBLE_WHAT} left X unchanged", torch.equal(X, snapshot))
    for where, kwargs in ((ZCA_SMALL_WHAT, {"eps": 1e-5}), (ZCA_DEFAULT_WHAT, {})):
        returned = see.call(where, zca_whiten, zca_small_input(), what=where, **kwargs)
        see(f"{where} is a tuple", isinstance(returned, tuple))


# --- Exercise 3: BatchNorm1dScratch ----------------------------------------------------------

NORM_FUNCTIONS = ("batch_norm", "instance_norm", "layer_norm", "group_norm")
TORCH_NORM_FUNCTIONS = ("batch_norm", "native_batch_norm", "instance_norm", "layer_norm",
                        "native_layer_norm", "group_norm", "native_group_norm")
NORM_MODULES = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "SyncBatchNorm",
                "LayerNorm", "GroupNorm", "InstanceNorm1d")
BN_REASON = ("BatchNorm1dScratch must compute batch norm itself: do not use nn.BatchNorm1d, "
             "F.batch_norm or torch.batch_norm (torch.mean, torch.var, torch.sqrt are fine).")
LN_REASON = ("layer_norm must compute the normalization itself: do not use F.layer_norm, nn.LayerNorm "
             "or another normalization function of PyTorch (torch.mean, torch.var, torch.sqrt are fine).")


@contextlib.contextmanager
def no_builtin_norms(reason: str, within: object = None) -> Iterator[None]:
    """PyTorch's normalization functions and modules refused while the block runs."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(forbidden(F, NORM_FUNCTIONS, reason, within=within))
        stack.enter_context(forbidden(torch, TORCH_NORM_FUNCTIONS, reason))
        stack.enter_context(forbidden(nn, NORM_MODULES, reason))
        yield


# (shape, eps, momentum, seed): (N, C) and (N, C, L) inputs, one of them with a batch of 3.
BN_CASES = [((16, 6), 1e-5, 0.1, 0), ((8, 4, 10), 1e-3, 0.3, 2), ((3, 5, 6), 1e-2, 0.25, 3)]
BN_STEPS = (1, 2, 3)
BN_EVAL_BATCHES = (7, 1)


def bn_where(shape: tuple[int, ...], eps: float, momentum: float) -> str:
    return f"BatchNorm1dScratch({shape[1]}, eps={eps:g}, momentum={momentum:g}) on {shape} inputs"


def bn_view(shape: tuple[int, ...]) -> tuple[int, ...]:
    """How a per-channel vector broadcasts against an input of `shape`."""
    return (1, -1, 1) if len(shape) == 3 else (1, -1)


def bn_inputs(case: int) -> dict[str, Any]:
    """The affine parameters given to the module and every batch of BN_CASES[case]: three training
    batches (each with the upstream gradient of its backward pass), eval batches of 7 and 1, and a
    training batch after going back to .train()."""
    shape, _, _, seed = BN_CASES[case]
    generator = _generator(seed)
    channels, view = shape[1], bn_view(shape)
    inputs: dict[str, Any] = {
        "weight": torch.rand(channels, generator=generator) * 1.5 + 0.5,
        "bias": torch.randn(channels, generator=generator),
    }
    for step in BN_STEPS:
        spread = (torch.rand(channels, generator=generator) + 0.5).view(view) * step
        centre = torch.randn(channels, generator=generator).view(view) * 3
        inputs[f"x{step}"] = torch.randn(shape, generator=generator) * spread + centre
        inputs[f"upstream{step}"] = torch.randn(shape, generator=generator)
    for n in BN_EVAL_BATCHES:
        inputs[f"eval{n}"] = torch.randn((n, *shape[1:]), generator=generator) * 2 + 1
    inputs["again"] = torch.randn(shape, generator=generator) + 2
    return inputs


def _set_affine(module: nn.Module, weight: torch.Tensor, bias: torch.Tensor) -> None:
    with torch.no_grad():
        module.weight.copy_(weight)
        module.bias.copy_(bias)


def _bn_attributes(module: Any) -> dict[str, Any]:
    """What a BatchNorm1dScratch holds, read by attribute: running statistics (and whether they
    require grad), the count of training batches, the gradients of weight and bias, the mode."""
    seen: dict[str, Any] = {}
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        value = getattr(module, name, None)
        seen[name] = value
        seen[f"{name} requires grad"] = _requires_grad(value)
    for name in ("weight", "bias"):
        value = getattr(module, name, None)
        seen[f"{name} grad"] = value.grad if isinstance(value, torch.Tensor) else None
    seen["training"] = bool(getattr(module, "training", None))
    return seen


def _bn_run(see, cls: Any, case: int) -> None:
    shape, eps, momentum, _ = BN_CASES[case]
    channels = shape[1]
    where = bn_where(shape, eps, momentum)
    inputs = bn_inputs(case)
    with no_builtin_norms(BN_REASON, within=cls):
        module = see.call(f"{where}: built", cls, channels, eps=eps, momentum=momentum, record=False,
                          what=f"BatchNorm1dScratch({channels}, eps={eps!r}, momentum={momentum!r})")
    see(f"{where}: is an nn.Module", isinstance(module, nn.Module))
    see.call(f"{where}: initial state", _state_of, module, what=f"{where}: reading its parameters")
    see.call(f"{where}: weight and bias set", _set_affine, module, inputs["weight"], inputs["bias"],
             record=False, what=f"{where}: setting weight and bias with .copy_ under torch.no_grad()")
    see.call(f"{where}: train()", _train, module, record=False, what=f"{where}: .train()")
    for step in BN_STEPS:
        x = inputs[f"x{step}"].clone().requires_grad_()
        with no_builtin_norms(BN_REASON, within=cls):
            output = see.call(f"{where}, training step {step}: output", module, x,
                              what=f"{where}: forward pass in training mode")
            see.call(f"{where}, training step {step}: backward", _backward, output,
                     inputs[f"upstream{step}"], record=False, what=f"{where}: backward pass")
        see(f"{where}, training step {step}: gradient of the input", x.grad)
        see.call(f"{where}, after step {step}", _bn_attributes, module,
                 what=f"{where}: reading running_mean, running_var and num_batches_tracked")

    returned = see.call(f"{where}: eval()", _eval, module, record=False, what=f"{where}: .eval()")
    see(f"{where}: eval() returns the module", returned is module)
    see.call(f"{where}: after eval()", _bn_attributes, module,
             what=f"{where}: reading running_mean, running_var and num_batches_tracked")
    for n in BN_EVAL_BATCHES:
        with no_builtin_norms(BN_REASON, within=cls):
            see.call(f"{where}: eval-mode output on a batch of {n}", _no_grad_call, module,
                     inputs[f"eval{n}"], what=f"{where}: forward pass in eval mode on a batch of {n}")
        see.call(f"{where}: after the eval batch of {n}", _bn_attributes, module,
                 what=f"{where}: reading running_mean, running_var and num_batches_tracked")
    see.call(f"{where}: train() again", _train, module, record=False, what=f"{where}: .train()")
    with no_builtin_norms(BN_REASON, within=cls):
        see.call(f"{where}: output back in training mode", _no_grad_call, module, inputs["again"],
                 what=f"{where}: training mode again after eval()")


def bn_state_to_load() -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """An nn.BatchNorm1d(5)'s state_dict after three training batches, and an eval batch."""
    generator = _generator(4)
    with torch.random.fork_rng(devices=[]):
        bn = nn.BatchNorm1d(5)
    with torch.no_grad():
        bn.weight.copy_(torch.rand(5, generator=generator) * 1.5 + 0.5)
        bn.bias.copy_(torch.randn(5, generator=generator))
        for _ in range(3):
            bn(torch.randn(10, 5, generator=generator) * 2 + 1)
    state = {name: value.clone() for name, value in bn.state_dict().items()}
    return state, torch.randn(6, 5, generator=generator)


def _load_state_dict(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    module.load_state_dict(state)


def _running_mean_dtype_after_double(module: nn.Module) -> torch.dtype | None:
    value = getattr(module.double(), "running_mean", None)
    return value.dtype if isinstance(value, torch.Tensor) else None


def _state_dict_keys(module: nn.Module) -> list[str]:
    return sorted(str(key) for key in module.state_dict())


# Contract: the module after .double() on float64 inputs, each call (shape, training mode). No run
# on the meta device: its first use costs seconds of imports, more than this lab's probes in all.
BN_DOUBLE_WHAT = "BatchNorm1dScratch(4).double() on float64 inputs"
BN_DOUBLE_CALLS = (((6, 4, 5), True), ((6, 4, 5), True), ((3, 4), True), ((7, 4, 5), False),
                   ((1, 4), False))


def bn_double_input(call: int, shape: tuple[int, ...]) -> torch.Tensor:
    generator = _generator(50 + call)
    return torch.randn(shape, generator=generator, dtype=torch.float64) * (1 + call) + call


def _double(cls: Any, num_features: int) -> Any:
    return cls(num_features).double()


def _forward(module: nn.Module, x: torch.Tensor, training: bool) -> Any:
    module.train(training)
    with torch.no_grad():
        return module(x)


def _held(module: Any) -> dict[str, Any]:
    """Every parameter and buffer the module holds."""
    if not isinstance(module, nn.Module):
        return {}
    return {**dict(module.named_parameters()), **dict(module.named_buffers())}


def _bn_double_run(see, cls: Any) -> None:
    with no_builtin_norms(BN_REASON, within=cls):
        module = attempt(see, f"{BN_DOUBLE_WHAT}: built", _double, cls, 4, facts=_held)
        if module is None:
            return
        for call, (shape, training) in enumerate(BN_DOUBLE_CALLS):
            key = f"{BN_DOUBLE_WHAT}: call {call}"
            if attempt(see, key, _forward, module, bn_double_input(call, shape), training) is None:
                return
            see.call(f"{key}: held", _held, module,
                     what=f"{BN_DOUBLE_WHAT}: reading its parameters and buffers")


@probe
def test_batch_norm_1d_scratch(see, BatchNorm1dScratch):
    cls = BatchNorm1dScratch
    see("is an nn.Module class", isinstance(cls, type) and issubclass(cls, nn.Module))
    for case in range(len(BN_CASES)):
        _bn_run(see, cls, case)

    with no_builtin_norms(BN_REASON, within=cls):  # contract: all it holds is in state_dict()
        module = see.call("state_dict: built", cls, 3, record=False, what="BatchNorm1dScratch(3)")
    see.call("state_dict keys", _state_dict_keys, module, what="BatchNorm1dScratch(3).state_dict()")

    state, x = bn_state_to_load()
    with no_builtin_norms(BN_REASON, within=cls):
        module = see.call("loaded: built", cls, 5, record=False, what="BatchNorm1dScratch(5)")
    see.call("loaded: load_state_dict", _load_state_dict, module, state, record=False,
             what="BatchNorm1dScratch(5).load_state_dict(nn.BatchNorm1d(5).state_dict())")
    see.call("loaded: eval()", _eval, module, record=False, what="BatchNorm1dScratch(5).eval()")
    with no_builtin_norms(BN_REASON, within=cls):
        see.call("loaded: eval-mode output", _no_grad_call, module, x,
                 what="BatchNorm1dScratch loaded from an nn.BatchNorm1d's state_dict, in eval mode")

    with no_builtin_norms(BN_REASON, within=cls):
        module = see.call("double: built", cls, 3, record=False, what="BatchNorm1dScratch(3)")
    see.call("double: running_mean dtype", _running_mean_dtype_after_double, module,
             what="BatchNorm1dScratch(3).double()")
    _bn_double_run(see, cls)


# --- Exercise 4: layer_norm ------------------------------------------------------------------

# (input shape, normalized_shape, affine, eps)
LN_CASES = [((4, 10), 10, False, 1e-5), ((4, 10), (10,), True, 1e-5), ((3, 5, 6), (6,), True, 1e-5),
            ((3, 5, 6), (5, 6), True, 1e-5), ((2, 3, 4, 4), (3, 4, 4), False, 1e-5),
            ((2, 3, 4, 4), torch.Size([4, 4]), True, 0.1), ((6, 3), (3,), False, 1e-5),
            ((5, 4), 4, False, 0.5)]


def trailing(normalized_shape: int | tuple[int, ...]) -> tuple[int, ...]:
    return (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)


def ln_where(case: int) -> str:
    shape, normalized_shape, affine, eps = LN_CASES[case]
    return (f"layer_norm(x of shape {shape}, {normalized_shape!r}"
            f"{', weight, bias' if affine else ''}, eps={eps:g})")


def ln_inputs(case: int) -> dict[str, torch.Tensor | None]:
    """x (each feature with its own offset), weight and bias (None without affine), and the
    upstream gradient of the backward pass, for LN_CASES[case]."""
    shape, normalized_shape, affine, eps = LN_CASES[case]
    generator = _generator(20 + case)
    x = torch.randn(shape, generator=generator) * 3 + torch.randn(shape[-1], generator=generator) * 2
    if eps >= 0.5:
        x = x * 0.3
    size = trailing(normalized_shape)
    weight = torch.randn(size, generator=generator) if affine else None
    bias = torch.randn(size, generator=generator) if affine else None
    return {"x": x, "weight": weight, "bias": bias, "upstream": torch.randn(shape, generator=generator)}


def _gradients(output: torch.Tensor, inputs: list[torch.Tensor], upstream: torch.Tensor) -> list:
    return list(torch.autograd.grad(output, inputs, upstream, allow_unused=True))


# Contracts: (what, x's shape, normalized_shape, dtype, the affine arguments given).
LN_CONTRACTS = (
    ("with a weight but no bias", (4, 6), 6, torch.float32, ("weight",)),
    ("with a bias but no weight", (3, 2, 5), (5,), torch.float32, ("bias",)),
    ("on float64 inputs", (3, 4, 8), (8,), torch.float64, ("weight", "bias")),
    ("on bfloat16 inputs", (3, 4, 8), (4, 8), torch.bfloat16, ("weight", "bias")),
)


def ln_contract_where(contract: int) -> str:
    what, shape, normalized_shape, _, given = LN_CONTRACTS[contract]
    arguments = "".join(f", {name}={name[0]}" for name in given)
    return f"layer_norm(x of shape {shape}, {normalized_shape!r}{arguments}) {what}"


def ln_contract_inputs(contract: int) -> dict[str, torch.Tensor]:
    """x (each feature with its own offset) and the affine arguments given, in the contract's dtype."""
    _, shape, normalized_shape, dtype, given = LN_CONTRACTS[contract]
    generator = _generator(40 + contract)
    x = torch.randn(shape, generator=generator) * 3 + torch.randn(shape[-1], generator=generator) * 2
    size = trailing(normalized_shape)
    inputs = {"x": x, "weight": torch.randn(size, generator=generator) + 1,
              "bias": torch.randn(size, generator=generator)}
    return {name: value.to(dtype) for name, value in inputs.items() if name == "x" or name in given}


@probe
def test_layer_norm(see, layer_norm):
    for case, (_, normalized_shape, affine, eps) in enumerate(LN_CASES):
        inputs = ln_inputs(case)
        where = ln_where(case)
        x = inputs["x"].clone().requires_grad_()
        leaves = [x]
        kwargs = {}
        if affine:
            kwargs = {name: inputs[name].clone().requires_grad_() for name in ("weight", "bias")}
            leaves += [kwargs["weight"], kwargs["bias"]]
        with no_builtin_norms(LN_REASON):
            output = see.call(where, layer_norm, x, normalized_shape, eps=eps, what=where, **kwargs)
        see.call(f"{where}: output requires grad", _requires_grad, output,
                 what=f"{where}: reading output.requires_grad")
        see.call(f"{where}: gradients", _gradients, output, leaves, inputs["upstream"],
                 what=f"{where}: backward pass")
    for contract, (_, _, normalized_shape, _, _) in enumerate(LN_CONTRACTS):
        inputs = ln_contract_inputs(contract)
        x = inputs.pop("x")
        with no_builtin_norms(LN_REASON, within=layer_norm):
            attempt(see, ln_contract_where(contract), layer_norm, x, normalized_shape, **inputs)


# --- Exercises 5 and 6: BatchNormFunction and LayerNormFunction, backward passes by hand ------

# Per exercise: the cases, each (x's shape, eps, offset of x from 0, whether x, weight and bias
# require grad). Batches of 2 and odd ones, one channel, a square input (where a sum over the
# wrong dimension keeps the shape), a large ε (where its place shows), inputs far from 0, and
# inputs that need no gradient. Everything is float64 and the upstream gradient random (with
# all ones, Σ dy·x̂ = 0 and a missing variance term goes unseen).
NORM_FUNCTION_CASES = {
    "BatchNormFunction": (
        ((8, 5), 1e-5, 3.0, (True, True, True)),
        ((2, 3), 1e-5, 3.0, (True, True, True)),
        ((7, 1), 1e-3, 3.0, (True, True, True)),
        ((4, 4), 0.1, 3.0, (True, True, True)),
        ((9, 3), 1e-5, 50.0, (True, False, False)),
        ((5, 6), 1e-5, 3.0, (False, True, True)),
    ),
    "LayerNormFunction": (
        ((6, 5), 1e-5, 3.0, (True, True, True)),
        ((2, 3, 4), 1e-5, 3.0, (True, True, True)),
        ((4, 4), 0.1, 3.0, (True, True, True)),
        ((3, 2, 7), 1e-5, 50.0, (True, False, False)),
        ((5, 2), 1e-5, 3.0, (False, True, True)),
        ((3, 5, 6), 1e-3, 3.0, (True, True, True)),
    ),
}
# gradcheck's inputs: (x's shape, eps), all three requiring grad.
NORM_GRADCHECK = {"BatchNormFunction": ((6, 3), 1e-5), "LayerNormFunction": ((3, 2, 4), 1e-5)}
NORM_INPUT_NAMES = ("x", "weight", "bias")
NORM_FUNCTION_REASONS = {
    "BatchNormFunction": "BatchNormFunction must compute batch norm with tensor operations: do not use "
                         "F.batch_norm, nn.BatchNorm1d or torch.batch_norm (torch.mean, torch.var, "
                         "torch.sqrt are fine).",
    "LayerNormFunction": "LayerNormFunction must compute layer norm with tensor operations: do not use "
                         "F.layer_norm, nn.LayerNorm or another normalization function of PyTorch "
                         "(torch.mean, torch.var, torch.sqrt are fine).",
}


def by_hand_reason(kind: str) -> str:
    return (f"{kind}.backward must compute the gradients by hand (the compact formula): it may not ask "
            "autograd for them (torch.autograd.grad, .backward(), torch.func), not even on a forward "
            "recomputed inside backward.")


def norm_function_where(kind: str, case: int) -> str:
    shape, eps, offset, requires_grad = NORM_FUNCTION_CASES[kind][case]
    without = " and ".join(name for name, flag in zip(NORM_INPUT_NAMES, requires_grad) if not flag)
    return (f"{kind}.apply(x of shape {shape}{' far from 0' if offset > 10 else ''}, weight, bias, "
            f"eps={eps:g}){f' with {without} not requiring grad' if without else ''}")


def norm_function_inputs(kind: str, case: int) -> dict[str, torch.Tensor]:
    """float64 x (each feature with its own offset and spread), weight (γ, away from 1), bias, and
    the random upstream gradient, for NORM_FUNCTION_CASES[kind][case]."""
    shape, _, offset, _ = NORM_FUNCTION_CASES[kind][case]
    generator = _generator((70 if kind == "BatchNormFunction" else 80) + case)
    return _norm_function_draw(shape, offset, generator)


def norm_gradcheck_inputs(kind: str) -> tuple[torch.Tensor, ...]:
    shape, _ = NORM_GRADCHECK[kind]
    drawn = _norm_function_draw(shape, 3.0, _generator(90 if kind == "BatchNormFunction" else 91))
    return tuple(drawn[name].requires_grad_() for name in NORM_INPUT_NAMES)


def _norm_function_draw(shape: tuple[int, ...], offset: float,
                        generator: torch.Generator) -> dict[str, torch.Tensor]:
    features, dtype = shape[-1], torch.float64
    spread = torch.rand(features, generator=generator, dtype=dtype) + 0.5
    centre = torch.randn(features, generator=generator, dtype=dtype) * 3 + offset
    return {"x": torch.randn(shape, generator=generator, dtype=dtype) * spread + centre,
            "weight": torch.rand(features, generator=generator, dtype=dtype) + 0.5,
            "bias": torch.randn(features, generator=generator, dtype=dtype),
            "upstream": torch.randn(shape, generator=generator, dtype=dtype)}


def _apply(cls: Any, *args: Any) -> Any:
    return cls.apply(*args)


def _gradcheck(cls: Any, inputs: tuple[Any, ...]) -> bool:
    return torch.autograd.gradcheck(cls.apply, inputs, raise_exception=False)


def _norm_function_case(see, cls: Any, kind: str, case: int) -> None:
    """The output and the gradients of the inputs that require grad, with the backward run
    by hand; then whether the inputs and the upstream gradient were left as they were."""
    _, eps, _, requires_grad = NORM_FUNCTION_CASES[kind][case]
    where = norm_function_where(kind, case)
    inputs = norm_function_inputs(kind, case)
    leaves = [inputs[name].clone().requires_grad_(flag)
              for name, flag in zip(NORM_INPUT_NAMES, requires_grad)]
    upstream = inputs["upstream"].clone()
    wanted = [leaf for leaf in leaves if leaf.requires_grad]
    with no_builtin_norms(NORM_FUNCTION_REASONS[kind], within=cls), by_hand(by_hand_reason(kind), within=cls):
        output = see.call(f"{where}: output", _apply, cls, *leaves, eps, what=where)
        attempt(see, f"{where}: gradients", gradients, output, wanted, upstream)
    see(f"{where}: left its inputs unchanged",
        {name: torch.equal(leaf.detach(), inputs[name]) for name, leaf in zip(NORM_INPUT_NAMES, leaves)}
        | {"grad_out": torch.equal(upstream, inputs["upstream"])})


def _norm_function_probe(see, cls: Any, kind: str) -> None:
    see("is an autograd.Function", isinstance(cls, type) and issubclass(cls, torch.autograd.Function))
    if not (isinstance(cls, type) and issubclass(cls, torch.autograd.Function)):
        return
    for case in range(len(NORM_FUNCTION_CASES[kind])):
        _norm_function_case(see, cls, kind, case)
    with no_builtin_norms(NORM_FUNCTION_REASONS[kind], within=cls):  # gradcheck asks autograd itself
        attempt(see, "gradcheck", _gradcheck, cls, (*norm_gradcheck_inputs(kind), NORM_GRADCHECK[kind][1]))


@probe
def test_batch_norm_function(see, BatchNormFunction):
    _norm_function_probe(see, BatchNormFunction, "BatchNormFunction")


@probe
def test_layer_norm_function(see, LayerNormFunction):
    _norm_function_probe(see, LayerNormFunction, "LayerNormFunction")


# --- Exercise 7: fuse_linear_bn --------------------------------------------------------------

# (in features, out features, linear has a bias, bn's eps, bn in training mode)
FUSE_CASES = [(5, 4, True, 1e-5, False), (6, 6, False, 1e-3, False), (3, 7, True, 1e-1, True),
              (8, 2, False, 1e-5, True)]
FUSION_REASON = ("fuse_linear_bn must compute the fused weight and bias itself, not call "
                 "torch.nn.utils.fusion.")


def fuse_where(case: int) -> str:
    n_in, n_out, has_bias, eps, bn_training = FUSE_CASES[case]
    return (f"fuse_linear_bn(nn.Linear({n_in}, {n_out}{'' if has_bias else ', bias=False'}), "
            f"nn.BatchNorm1d({n_out}, eps={eps:g}){' in training mode' if bn_training else ''})")


def fuse_inputs(case: int) -> tuple[nn.Linear, nn.BatchNorm1d, torch.Tensor]:
    """A Linear layer and a BatchNorm1d with trained-looking statistics, and a batch x."""
    n_in, n_out, has_bias, eps, bn_training = FUSE_CASES[case]
    generator = _generator(30 + case)
    with torch.random.fork_rng(devices=[]):
        linear = nn.Linear(n_in, n_out, bias=has_bias)
        bn = nn.BatchNorm1d(n_out, eps=eps)
    with torch.no_grad():
        linear.weight.copy_((torch.rand(n_out, n_in, generator=generator) * 2 - 1) / n_in ** 0.5)
        if has_bias:
            linear.bias.copy_(torch.randn(n_out, generator=generator) * 2)
        bn.weight.copy_(torch.rand(n_out, generator=generator) * 1.5 + 0.5)
        bn.bias.copy_(torch.randn(n_out, generator=generator))
        bn.running_mean.copy_(torch.randn(n_out, generator=generator) * 2)
        bn.running_var.copy_(torch.rand(n_out, generator=generator) * 2.95 + 0.05)
    bn.train(bn_training)
    return linear, bn, torch.randn(9, n_in, generator=generator)


def _pair_state(linear: nn.Linear, bn: nn.BatchNorm1d) -> dict[str, torch.Tensor]:
    state = {f"linear.{name}": value for name, value in _state_dict(linear).items()}
    state.update({f"bn.{name}": value for name, value in _state_dict(bn).items()})
    return state


def _layer_facts(layer: Any) -> dict[str, Any]:
    return {"is an nn.Linear": isinstance(layer, nn.Linear), "type": type(layer).__name__,
            "weight": getattr(layer, "weight", None), "bias": getattr(layer, "bias", None)}


def _pair_modes(linear: nn.Linear, bn: nn.BatchNorm1d) -> dict[str, Any]:
    """The mode of each layer of the caller's pair, and which of their parameters require grad."""
    return {"linear": linear.training, "bn": bn.training,
            "requires_grad": {f"{layer}.{name}": p.requires_grad for layer, module in
                              (("linear", linear), ("bn", bn)) for name, p in module.named_parameters()}}


# Contracts: (in features, out features, linear has a bias): float64 pairs, whose fused layer must
# be float64 too (the one without bias is where a new bias is built).
FUSE_CONTRACTS = ((5, 3, False), (4, 6, True))


def fuse_contract_where(contract: int) -> str:
    n_in, n_out, has_bias = FUSE_CONTRACTS[contract]
    return (f"fuse_linear_bn on a float64 pair nn.Linear({n_in}, {n_out}"
            f"{'' if has_bias else ', bias=False'}), nn.BatchNorm1d({n_out})")


def fuse_contract_inputs(contract: int) -> tuple[nn.Linear, nn.BatchNorm1d, torch.Tensor]:
    """The float64 pair of FUSE_CONTRACTS[contract] in eval mode, with seeded values, and x."""
    n_in, n_out, has_bias = FUSE_CONTRACTS[contract]
    dtype = torch.float64
    with torch.random.fork_rng(devices=[]):
        linear = nn.Linear(n_in, n_out, bias=has_bias, dtype=dtype)
        bn = nn.BatchNorm1d(n_out, dtype=dtype).eval()
    generator = _generator(60 + contract)
    with torch.no_grad():
        for value in (*linear.parameters(), bn.weight, bn.bias, bn.running_mean):
            value.copy_(torch.randn(value.shape, generator=generator, dtype=dtype))
        bn.running_var.copy_(torch.rand(n_out, generator=generator, dtype=dtype) + 0.1)
    return linear, bn, torch.randn(9, n_in, generator=generator, dtype=dtype)


def _fused_facts(layer: Any) -> dict[str, Any]:
    return {"is an nn.Linear": isinstance(layer, nn.Linear), "type": type(layer).__name__,
            "weight": tensor_facts(getattr(layer, "weight", None)),
            "bias": tensor_facts(getattr(layer, "bias", None))}


@probe
def test_fuse_linear_bn(see, fuse_linear_bn):
    for case in range(len(FUSE_CASES)):
        linear, bn, x = fuse_inputs(case)
        where = fuse_where(case)
        with forbidden(torch.nn.utils.fusion, ("fuse_linear_bn_eval", "fuse_linear_bn_weights"),
                       FUSION_REASON):
            fused = see.call(where, fuse_linear_bn, linear, bn, what=where, record=False)
        see.call(f"{where}: linear and bn afterwards", _pair_state, linear, bn,
                 what=f"{where}: reading linear and bn afterwards")
        see.call(f"{where}: modes afterwards", _pair_modes, linear, bn,
                 what=f"{where}: reading the modes of linear and bn afterwards")
        see.call(f"{where}: the returned layer", _layer_facts, fused,
                 what=f"{where}: reading the layer it returned")
        see.call(f"{where}: fused(x)", _no_grad_call, fused, x,
                 what=f"{where}: calling the layer it returned on a batch")
    for contract in range(len(FUSE_CONTRACTS)):
        linear, bn, x = fuse_contract_inputs(contract)
        where = fuse_contract_where(contract)
        with forbidden(torch.nn.utils.fusion, ("fuse_linear_bn_eval", "fuse_linear_bn_weights"),
                       FUSION_REASON, within=fuse_linear_bn):
            fused = attempt(see, where, fuse_linear_bn, linear, bn, facts=_fused_facts)
        if fused is not None:
            attempt(see, f"{where}: fused(x)", _no_grad_call, fused, x)


# --- Concept questions -------------------------------------------------------------------------

test_q1_momentum = answer("test_q1_momentum")
test_q2_keras_momentum = answer("test_q2_keras_momentum")
test_q3_state_dict_size = answer("test_q3_state_dict_size")
test_q4_no_bias = answer("test_q4_no_bias")
test_q5_batch_of_two = answer("test_q5_batch_of_two")
test_q6_layer_norm = answer("test_q6_layer_norm")
