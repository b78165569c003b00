"""Probes of lab 04, Gradient clipping: one per grade cell, named after it (the checks of the
same names judge what they record).

The clipping functions run on gradients the probe fills in from fixed seeds, with PyTorch's
own clipping functions refused; the probe records the gradients before and after. `train_step`
runs with stand-ins for the two clipping exercises (PyTorch's `clip_grad_norm_` and
`clip_grad_value_` under the exercise's names and signatures, so a clipping mistake costs its
own exercise only) and with an optimizer that records the gradients it sees when `step()` is
called, which is how the order of the steps shows. Everything runs on one thread, as in the
judge, so the student's record and the reference's are computed alike.

Then each exercise's contracts, run last (each exercise's table says which: `CLIP_CONTRACTS`,
`STEP_CONTRACTS`): the clipping functions on a model none of whose parameters has a gradient
yet and on float64 gradients (the total norm keeps their dtype, and so do the clipped values,
to the last bits); `train_step` with both clipping options at once, with max_norm=0.0 (a valid
value that is falsy), and on a float64 model with a frozen bias, recording after each step the
model's modes and requires_grad flags too.

`divergence_fraction` runs on loss histories the grader makes (never the student's own runs),
one set per trap in `DIVERGENCE_CASES`, then on an empty list of runs and an empty history,
where it must raise ValueError: the probe records what it returns or the exception it raises.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import clip_grad as clip_grad_module

from autograder.probes.core import answer, forbidden, probe, with_globals

NORM_FUNCTIONS = ("clip_grad_norm_", "clip_grad_norm", "clip_grads_with_norm_", "get_total_norm")
VALUE_FUNCTIONS = ("clip_grad_value_",)
NORM_REASON = ("clip_grad_norm must compute the norm and scale the gradients itself, not call "
               "torch.nn.utils.clip_grad_norm_, clip_grads_with_norm_ or get_total_norm.")
VALUE_REASON = ("clip_grad_value must clamp the gradients itself (for example with "
                "p.grad.clamp_), not call torch.nn.utils.clip_grad_value_.")


@contextlib.contextmanager
def without(names: tuple[str, ...], reason: str) -> Iterator[None]:
    """Refuse PyTorch's clipping functions, under both names they are reachable by."""
    with forbidden(nn.utils, names, reason), forbidden(clip_grad_module, names, reason):
        yield


class Net(nn.Module):
    """A small model with an unused parameter, whose .grad stays None."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(6, 8)
        self.out = nn.Linear(8, 3)
        self.unused = nn.Parameter(torch.ones(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.hidden(x)))


def net_with_grads(seed: int, scale: float, dtype: torch.dtype = torch.float32) -> Net:
    """A `Net` of `dtype` whose gradients (of a loss multiplied by `scale`) are filled in."""
    torch.manual_seed(seed)
    net = Net().to(dtype)
    X, y = (torch.randn(64, 6) * 2).to(dtype), torch.randint(0, 3, (64,))
    (scale * nn.functional.cross_entropy(net(X), y)).backward()
    return net


def grads(module: nn.Module) -> list[torch.Tensor | None]:
    return [p.grad for p in module.parameters()]


def net_without_grads() -> Net:
    """A `Net` before any backward(): no parameter has a gradient."""
    torch.manual_seed(5)
    return Net()


@dataclass(frozen=True)
class Contract:
    """One contract call of a clipping function: `function(model.parameters(), argument)` on the
    model `build()` makes; `name` is the check's key for what it must show, `key` names the call
    in the record and in the check's messages."""

    name: str
    key: str
    build: Callable[[], nn.Module]
    argument: float


# Each clipping exercise's contracts, run after its other calls (the check's table of the same
# keys says what each must show).
CLIP_CONTRACTS = {
    "clip_grad_norm": (
        Contract("float64", "clip_grad_norm(model.parameters(), 1.0) on float64 gradients",
                 lambda: net_with_grads(5, 40.0, torch.float64), 1.0),
        Contract("no gradient", "clip_grad_norm(model.parameters(), 1.0) before any backward() (no parameter "
                 "has a gradient)", net_without_grads, 1.0),
    ),
    "clip_grad_value": (
        Contract("float64", "clip_grad_value(model.parameters(), 0.1) on float64 gradients",
                 lambda: net_with_grads(6, 30.0, torch.float64), 0.1),
    ),
}


def run_contracts(see, function: Callable[..., object], exercise: str) -> None:
    """Each contract of `exercise`: what the call returned, and the gradients it left."""
    for contract in CLIP_CONTRACTS[exercise]:
        net = contract.build()
        see.call(contract.key, function, net.parameters(), contract.argument, what=contract.key)
        see(f"{contract.key} grads", grads(net))


# Gradients well above max_norm (seed, loss scale, max_norm), and one case well below.
NORM_ABOVE_CASES = [(0, 40.0, 1.0), (1, 500.0, 3.0)]
NORM_BELOW_CASE = (2, 0.5, 0.7)  # global norm about 0.23


def norm_key(max_norm: float) -> str:
    return f"clip_grad_norm(list(model.parameters()), max_norm={max_norm})"


@probe
def test_clip_grad_norm(see, clip_grad_norm):
    with without(NORM_FUNCTIONS, NORM_REASON):
        # 1. Gradients well above max_norm, given as a list; 2. below it.
        for seed, scale, max_norm in [*NORM_ABOVE_CASES, NORM_BELOW_CASE]:
            net = net_with_grads(seed, scale)
            where = norm_key(max_norm)
            see(f"{where} grads before", grads(net))
            see.call(where, clip_grad_norm, list(net.parameters()), max_norm,
                     what=where + " on a model with an unused parameter (its .grad is None)")
            see(f"{where} grads", grads(net))
        # 3. A generator, as model.parameters() gives, can be iterated only once.
        net = net_with_grads(3, 40.0)
        where = "clip_grad_norm(model.parameters(), 1.0)"
        see.call(where, clip_grad_norm, net.parameters(), 1.0, what=where, record=False)
        see(f"{where} grads", grads(net))
        # 4. A single tensor.
        torch.manual_seed(4)
        weight = torch.randn(5, 4, requires_grad=True)
        weight.grad = torch.randn(5, 4) * 10
        where = "clip_grad_norm(a single tensor, 1.0)"
        see.call(where, clip_grad_norm, weight, 1.0, what=where)
        see(f"{where} grad", weight.grad)
        # 5. A tiny norm, where the 1e-6 in PyTorch's formula shows.
        tiny = torch.zeros(3, requires_grad=True)
        tiny.grad = torch.tensor([6e-7, 8e-7, 0.0])
        where = "clip_grad_norm([p], 5e-7)"
        see.call(where, clip_grad_norm, [tiny], 5e-7,
                 what="clip_grad_norm([p], 5e-7) with a gradient of norm 1e-6", record=False)
        see(f"{where} grad", tiny.grad)
        run_contracts(see, clip_grad_norm, "clip_grad_norm")


VALUE_CASES = [(0, 30.0, 0.5), (1, 3.0, 0.05)]


def value_key(clip_value: float) -> str:
    return f"clip_grad_value(list(model.parameters()), {clip_value})"


@probe
def test_clip_grad_value(see, clip_grad_value):
    with without(VALUE_FUNCTIONS, VALUE_REASON):
        for seed, scale, clip_value in VALUE_CASES:
            net = net_with_grads(seed, scale)
            where = value_key(clip_value)
            see(f"{where} grads before", grads(net))
            see.call(where, clip_grad_value, list(net.parameters()), clip_value, record=False,
                     what=where + " on a model with an unused parameter (its .grad is None)")
            see(f"{where} parameters", list(net.parameters()))
            see(f"{where} grads", grads(net))
        net = net_with_grads(2, 30.0)
        where = "clip_grad_value(model.parameters(), 0.1)"
        see.call(where, clip_grad_value, net.parameters(), 0.1, what=where, record=False)
        see(f"{where} grads", grads(net))
        torch.manual_seed(3)
        weight = torch.randn(4, 4, requires_grad=True)
        weight.grad = torch.randn(4, 4) * 3
        where = "clip_grad_value(a single tensor, 1.0)"
        see.call(where, clip_grad_value, weight, 1.0, what=where, record=False)
        see(f"{where} grad", weight.grad)
        run_contracts(see, clip_grad_value, "clip_grad_value")


def stand_in_clip_grad_norm(parameters, max_norm: float) -> torch.Tensor:
    """The clip_grad_norm exercise as PyTorch has it (its answer is not needed here)."""
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)


def stand_in_clip_grad_value(parameters, clip_value: float) -> None:
    """The clip_grad_value exercise as PyTorch has it. PyTorch's fails when no parameter has a
    gradient (a train_step that clips before backward()); the exercise's skips them all."""
    parameters = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    with_grads = [p for p in parameters if p.grad is not None]
    if with_grads:
        torch.nn.utils.clip_grad_value_(with_grads, clip_value)


class RecordingSGD(torch.optim.SGD):
    """Plain SGD that counts its step() calls and keeps a copy of the gradients the first one uses."""

    def __init__(self, params, lr: float = 0.1) -> None:
        super().__init__(params, lr=lr)
        self.steps = 0
        self.first_seen: list[torch.Tensor | None] | None = None

    def step(self, closure=None):
        if self.steps == 0:
            self.first_seen = [None if p.grad is None else p.grad.detach().clone()
                               for group in self.param_groups for p in group["params"]]
        self.steps += 1
        return super().step(closure)


def step_model(seed: int, dtype: torch.dtype = torch.float32,
               frozen: bool = False) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The model and batch of one train_step call (with `frozen`, the first layer's bias has
    requires_grad=False, so its .grad stays None)."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).to(dtype)
    model[0].bias.requires_grad_(not frozen)
    return model, (torch.randn(128, 5) * 3).to(dtype), torch.randint(0, 3, (128,))


# (seed of the model and batch, clipping keyword arguments): no clipping; a max_norm about a
# quarter of the gradients' norm (about 0.30); one ten times above it (about 0.42); a
# clip_value about a quarter of the largest gradient entry (about 0.082).
STEP_CASES = [(0, {}), (1, {"max_norm": 0.075}), (2, {"max_norm": 4.0}), (3, {"clip_value": 0.02})]
STEP_LR = 0.1


def step_key(clipping: dict[str, float]) -> str:
    if not clipping:
        return "train_step(model, X, y, loss_fn, optimizer)"
    (name, value), = clipping.items()
    return f"train_step(..., {name}={value})"


@dataclass(frozen=True)
class StepContract:
    """One contract call of train_step on `step_model(seed, dtype, frozen)`, in train mode; `name`
    is the check's key for what it must show."""

    name: str
    seed: int
    clipping: dict[str, float] = field(default_factory=dict)
    dtype: torch.dtype = torch.float32
    frozen: bool = False
    on: str = ""

    @property
    def key(self) -> str:
        arguments = ", ".join(f"{name}={value}" for name, value in self.clipping.items())
        return f"train_step(..., {arguments}){self.on}"


# train_step's contracts, run after its other calls: both clipping options at once (gradient norm
# about 0.46, largest entry about 0.12), a max_norm of 0.0, and a float64 model with a frozen bias.
STEP_CONTRACTS = (
    StepContract("both", 4, {"max_norm": 0.2, "clip_value": 0.02}),
    StepContract("zero", 5, {"max_norm": 0.0}),
    StepContract("float64 frozen", 6, {"max_norm": 0.2}, torch.float64, True,
                 " on a float64 model whose first bias is frozen (requires_grad=False)"),
)


@probe
def test_train_step(see, train_step):
    train_step = with_globals(train_step, clip_grad_norm=stand_in_clip_grad_norm,
                              clip_grad_value=stand_in_clip_grad_value)
    loss_fn = nn.CrossEntropyLoss()
    for seed, clipping in STEP_CASES:
        model, X, y = step_model(seed)
        optimizer = RecordingSGD(model.parameters(), lr=STEP_LR)
        where = step_key(clipping)
        see.call(where, train_step, model, X, y, loss_fn, optimizer, what=where, **clipping)
        see(f"{where} steps", optimizer.steps)
        see(f"{where} seen by step()", optimizer.first_seen)
        see(f"{where} grads after", grads(model))
    for contract in STEP_CONTRACTS:
        model, X, y = step_model(contract.seed, contract.dtype, contract.frozen)
        optimizer = RecordingSGD(model.parameters(), lr=STEP_LR)
        where = contract.key
        see.call(where, train_step, model, X, y, loss_fn, optimizer, what=where,
                 **contract.clipping)
        see(f"{where} steps", optimizer.steps)
        see(f"{where} seen by step()", optimizer.first_seen)
        see(f"{where} grads after", grads(model))
        see(f"{where} modes", {name or ".": module.training for name, module in model.named_modules()})
        see(f"{where} requires_grad", [p.requires_grad for p in model.parameters()])


NAN, INF = math.nan, math.inf
FALLING = [0.5, 0.4, 0.3, 0.2]


@dataclass(frozen=True)
class Runs:
    """One call of divergence_fraction on grader-made histories; `name` is the check's key for
    the trap it sets, `key` names the call in the record and in the check's messages."""

    name: str
    histories: Sequence[Sequence[float]]
    blowup: float | None = None  # None: the default; a float: passed as blowup=...

    @property
    def key(self) -> str:
        blowup = "" if self.blowup is None else f", blowup={self.blowup!r}"
        return f"divergence_fraction({self.histories!r}{blowup})"


# One set of runs per trap (the check's DIVERGENCE_HINTS says what each shows), blowup 10 unless
# given. Thresholds that a loss meets exactly are exact in binary (10 × 0.5 = 5.0, 10 × 0.25 = 2.5).
DIVERGENCE_CASES = (
    Runs("falling", [[1.0, 0.8, 0.5, 0.3], [0.5, 0.45, 0.2, 0.1], [2.0, 1.5, 1.0, 0.9]]),
    Runs("nan at the end", [[0.5, 0.4, 0.3, NAN], FALLING, [1.0, 0.9, 0.7], [0.8, 0.6, 0.5]]),
    Runs("nan in the middle", [[0.5, NAN, 0.4, 0.3], FALLING]),
    Runs("nan first", [[NAN, 0.5, 0.4], FALLING, [0.9, 0.6, 0.3]]),
    Runs("inf at the end", [[1.0, 3.0, INF], FALLING, [0.7, 0.6, 0.5]]),
    Runs("inf first", [[INF, 0.5, 0.4], FALLING]),
    Runs("-inf", [[0.5, 0.3, -INF], FALLING, [0.6, 0.5], [0.4, 0.2]]),
    Runs("relative to the first loss", [[40.0, 30.0, 100.0, 20.0], [20.0, 150.0, 50.0],
                                        [0.1, 2.0, 0.05], [0.2, 0.1]]),
    Runs("spike that recovers", [[0.5, 0.6, 5.5, 0.4, 0.2], FALLING, [0.3, 0.2, 0.1]]),
    Runs("spike at the threshold", [[0.5, 5.0, 0.3], [0.25, 2.5, 0.1], FALLING]),
    Runs("one ulp above the threshold", [[0.1, 1.0000000000000002, 0.05], [0.1, 0.5, 0.2]]),
    Runs("one run that diverged", [[0.5, 0.4, NAN]]),
    Runs("one run that trained", [[0.5, 0.45, 0.2]]),
    Runs("all diverged", [[0.5, NAN], [1.0, INF], [0.2, 3.0, 0.1]]),
    Runs("tuples of ints", ((2, 1, 21, 1), (3, 30, 1), (4, 3, 2))),
    Runs("ints and floats", [[1, 0.5, 10.5], (2.0, 1, 0)]),
    Runs("blowup 2", [[1.0, 1.5, 0.8], [1.0, 2.5, 0.5], [0.5, 1.0, 0.9]], 2.0),
    Runs("blowup 100", [[0.3, 20.0, 0.1], [0.3, 31.0], [0.3, 0.2], FALLING, [0.6, 0.4, NAN],
                        [0.6, 0.3, 0.1], [0.5, 0.2]], 100.0),
)
# Calls that must raise ValueError.
DIVERGENCE_EMPTY = {"no runs": [], "an empty history": [FALLING, []], "only an empty history": [[]]}


def divergence_key(description: str) -> str:
    return f"divergence_fraction() on {description}"


@probe
def test_divergence_fraction(see, divergence_fraction):
    for runs in DIVERGENCE_CASES:  # a copy each: what one call changes, the next does not see
        blowup = {} if runs.blowup is None else {"blowup": runs.blowup}
        see.call(runs.key, divergence_fraction, copy.deepcopy(runs.histories), what=runs.key, **blowup)
    for description, histories in DIVERGENCE_EMPTY.items():
        see.raises(divergence_key(description), divergence_fraction, copy.deepcopy(histories))


test_q1_unstable_gradients = answer("test_q1_unstable_gradients")
test_q2_value_clipping = answer("test_q2_value_clipping")
test_q3_global_norm = answer("test_q3_global_norm")
test_q4_clip_factor = answer("test_q4_clip_factor")
test_q5_where_to_clip = answer("test_q5_where_to_clip")
test_q6_recurrent = answer("test_q6_recurrent")
