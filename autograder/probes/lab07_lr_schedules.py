"""Probes of lab 07, Learning-rate scheduling: one per grade cell, named after it (the judge's
check of the same name reads what each records).

Each schedule is called at every step of a few runs, with torch.optim.lr_scheduler refused,
and the whole sequence is recorded. The range test runs on small seeded problems (full batch
in float64 where its numbers are compared); the probe records what it returned and the
model's and the optimizer's states before and after, and the model's modes, requires_grad and
.grad after (a model in train mode with gradients, and one handed over in eval mode without).
A call with every default runs on a scripted loss that logs the sizes of its batches.
`suggest_lr`'s lists are recorded after the call (the caller's curve). `loss_valley` runs on
curves made here (not the student's range test): a clean U, a short early dip before a longer
descent, two equally long descents, a plateau, NaNs, steps of 1e-9, a smoothed noisy curve, tuples;
then on inputs it must refuse (the exception's class is recorded). `random_search` runs
once with the global generators (random, numpy, torch) seeded by the probe, whose next draws
it records (their states are put back afterwards), and once without a seed. The plateau
scheduler is recorded once built (`num_bad_epochs` and `best`), then stepped on seeded metric
walks and exact ties; after each step the probe records the group rates, `num_bad_epochs`
and `best`.

`cosine_warm_restarts` and `one_cycle` run with a stand-in for `cosine_annealing`, so a
mistake in that exercise costs nothing here. The stand-in is not the answer: it anneals with
a smoothstep profile instead of a cosine, lr_min + (lr_max − lr_min)·(1 − 3x² + 2x³) with
x = t / t_max, and it logs its calls. Its value depends on x, lr_max and lr_min the way a
cosine annealing's does (x only through t / t_max, symmetric in time), so every correct way
of using cosine_annealing gives the stand-in's value of the right arguments, and the check can
tell right arguments from wrong ones.
"""

from __future__ import annotations

import contextlib
import math
import random

import torch
from torch import nn
from torch.optim import lr_scheduler

from autograder.probes.core import answer, forbidden, probe, with_globals

SCHEDULERS = ("LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
              "ExponentialLR", "SequentialLR", "CosineAnnealingLR", "ChainedScheduler",
              "CyclicLR", "CosineAnnealingWarmRestarts", "OneCycleLR", "PolynomialLR")
NO_SCHEDULERS = ("Write the formula yourself: this exercise must not use torch.optim.lr_scheduler "
                 "(the hidden tests compare your function with those schedulers).")


def schedule(see, key: str, function, args_for, steps: int, what: str, kwargs_for=None,
             stand_in: CosineStandIn | None = None) -> None:
    """Record [function(*args_for(t)) for t < steps] under `key`, the schedulers refused.

    With a `stand_in`, record under `key + " calls"` the stand-in's calls made at each step.
    """
    values, calls = [], []
    with forbidden(lr_scheduler, SCHEDULERS, NO_SCHEDULERS):
        for t in range(steps):
            kwargs = kwargs_for(t) if kwargs_for is not None else {}
            values.append(see.call(f"{key} (running)", function, *args_for(t), **kwargs,
                                   what=f"{what} at t={t}", record=False))
            if stand_in is not None:
                calls.append(stand_in.take())
    see(key, values)
    if stand_in is not None:
        see(f"{key} calls", calls)


# ---------------------------------------------------------------- range test and suggestion


def toy_problem(seed: int, dtype=torch.float64, batch_norm: bool = False):
    """A small classification problem and a model for it, from `seed`."""
    torch.manual_seed(seed)
    X = torch.randn(96, 6, dtype=dtype)
    y = ((X[:, 0] - X[:, 1] + 0.3 * X[:, 2]) > 0).long()
    hidden = ([nn.Linear(6, 12), nn.BatchNorm1d(12), nn.ReLU()] if batch_norm
              else [nn.Linear(6, 12), nn.Tanh()])
    model = nn.Sequential(*hidden, nn.Linear(12, 2)).to(dtype)
    return model, X, y


# (what, seed, keyword arguments, whether an Adam optimizer is passed in): full batch, float64.
RANGE_CASES = [
    ("lr_range_test(..., start_lr=1e-3, end_lr=100)", 0,
     {"start_lr": 1e-3, "end_lr": 100.0, "num_iters": 80, "stop_factor": 4.0}, False),
    ("lr_range_test(..., end_lr=0.05, num_iters=40)", 1,
     {"start_lr": 1e-4, "end_lr": 0.05, "num_iters": 40, "stop_factor": 4.0}, False),
    ("lr_range_test with stop_factor=1.5", 2,
     {"start_lr": 1e-3, "end_lr": 30.0, "num_iters": 60, "stop_factor": 1.5}, False),
    ("lr_range_test with an Adam optimizer passed in", 3,
     {"start_lr": 1e-4, "end_lr": 3.0, "num_iters": 50, "stop_factor": 4.0}, True),
    ("lr_range_test(..., num_iters=2)", 7,
     {"start_lr": 1e-3, "end_lr": 0.1, "num_iters": 2, "stop_factor": 4.0}, False),
    ("lr_range_test with stop_factor=1.0", 8,
     {"start_lr": 1e-4, "end_lr": 1.0, "num_iters": 20, "stop_factor": 1.0}, False),
]
RESTORE_CALL = "lr_range_test(model, ..., batch_size=16, optimizer=adam)"
DEFAULT_CALL = "lr_range_test(model, loss_fn, X, y, num_iters=40, batch_size=16)"
NAN_CALL = "lr_range_test with a loss that becomes NaN at the 10th iteration"
NAN_FROM_CALL = 10
DEFAULTS_CALL = "lr_range_test(model, loss_fn, X, y) with every default, on 64 rows"
DEFAULTS_JUMP = 5  # the scripted loss is 1.0 at the first DEFAULTS_JUMP calls, then 40.0


@probe
def test_lr_range_test(see, lr_range_test):
    for what, seed, kwargs, adam in RANGE_CASES:
        model, X, y = toy_problem(seed)
        extra = {"optimizer": torch.optim.Adam(model.parameters(), lr=0.5)} if adam else {}
        see.call(what, lr_range_test, model, nn.CrossEntropyLoss(), X, y, batch_size=len(X),
                 **kwargs, **extra, what=what)

    # Mini-batches, batch norm, an optimizer with state: what they are before and after.
    model, X, y = toy_problem(4, dtype=torch.float32, batch_norm=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.99))
    for _ in range(2):
        optimizer.zero_grad()
        nn.CrossEntropyLoss()(model(X), y).backward()
        optimizer.step()
    parameters = list(model.parameters())
    see(f"{RESTORE_CALL} model before", model.state_dict())
    see(f"{RESTORE_CALL} optimizer before", optimizer.state_dict())
    see.call(RESTORE_CALL, lr_range_test, model, nn.CrossEntropyLoss(), X, y, start_lr=1e-4,
             end_lr=10.0, num_iters=60, batch_size=16, optimizer=optimizer, what=RESTORE_CALL)
    see(f"{RESTORE_CALL} model after", model.state_dict())
    see(f"{RESTORE_CALL} optimizer after", optimizer.state_dict())
    see(f"{RESTORE_CALL} same parameters", all(a is b for a, b in zip(parameters, model.parameters()))
        and len(parameters) == len(list(model.parameters())))
    see(f"{RESTORE_CALL} module after", model)  # train mode, the gradients of the last step

    # Default optimizer, a model handed over in eval mode without gradients: the model before
    # and after (its state, and its modes, requires_grad and .grad as a whole module).
    model, X, y = toy_problem(5, dtype=torch.float32)
    model.eval()  # Linear and Tanh only: the same losses in either mode
    see(f"{DEFAULT_CALL} model before", model.state_dict())
    see(f"{DEFAULT_CALL} module before", model)
    see.call(DEFAULT_CALL, lr_range_test, model, nn.CrossEntropyLoss(), X, y, num_iters=40,
             batch_size=16, what=DEFAULT_CALL, record=False)
    see(f"{DEFAULT_CALL} model after", model.state_dict())
    see(f"{DEFAULT_CALL} module after", model)

    # A loss that turns NaN from its 10th call on.
    model, X, y = toy_problem(6)
    calls = []

    def nan_from_the_tenth_call(outputs, targets):
        calls.append(1)
        loss = nn.functional.cross_entropy(outputs, targets)
        return loss * math.nan if len(calls) >= NAN_FROM_CALL else loss

    see.call(NAN_CALL, lr_range_test, model, nan_from_the_tenth_call, X, y, num_iters=100,
             what=NAN_CALL)

    # Every default, on a scripted loss (smoothed: 1.0, then 4.9 at call DEFAULTS_JUMP + 1), so
    # that the rates, the stop and the batch sizes follow from the defaults alone.
    model, X, y = toy_problem(9, dtype=torch.float32)
    X, y = X[:64], y[:64]
    sizes = []

    def scripted_loss(outputs, targets):
        sizes.append(len(outputs))
        return outputs.sum() * 0.0 + (1.0 if len(sizes) <= DEFAULTS_JUMP else 40.0)

    see.call(DEFAULTS_CALL, lr_range_test, model, scripted_loss, X, y, what=DEFAULTS_CALL)
    see(f"{DEFAULTS_CALL} batch sizes", sizes)


SUGGEST_LRS = [1e-5 * 10 ** (i / 10) for i in range(61)]
SUGGEST_CASES = [
    ([2.3 - 0.02 * i if i < 40 else 1.5 + 0.3 * (i - 40) for i in range(61)], "a typical curve"),
    ([1.0] * 5 + [0.5] + [0.5] * 10 + [0.9] * 45, "a tie for the lowest loss (take the first)"),
    ([0.3 - 0.001 * i for i in range(60)] + [math.nan], "a curve that ends in NaN"),
    ([math.nan] + [1.0 - 0.01 * i for i in range(59)] + [math.inf],
     "a curve with NaN first and inf last"),
]


@probe
def test_suggest_lr(see, suggest_lr):
    for losses, description in SUGGEST_CASES:
        what = f"suggest_lr on {description}"
        given = (list(SUGGEST_LRS), list(losses))
        see.call(what, suggest_lr, *given, what=what)
        see(f"{what} lists after", list(given))  # the caller's curve, as suggest_lr left it


def valley_lrs(n: int) -> list[float]:
    """The rates of an n-point range test: ten per decade from 1e-5 (never equal to an index)."""
    return [1e-5 * 10 ** (i / 10) for i in range(n)]


def smoothed_noisy_u(n: int = 120, seed: int = 0) -> list[float]:
    """A range-test-like curve: a noisy U, smoothed by the lab's moving average (0.9, 0.1)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.linspace(-1.0, 1.0, n, dtype=torch.float64)
    raw = 2.0 + 1.5 * x**2 - 0.8 * x + 0.15 * torch.randn(n, generator=generator, dtype=torch.float64)
    smoothed = [raw[0].item()]
    for value in raw[1:].tolist():
        smoothed.append(0.9 * smoothed[-1] + 0.1 * value)
    return smoothed


# (description, losses, as tuples): the rates are valley_lrs(len(losses)).
VALLEY_CASES = [
    ("a clean U", [2.0 - 0.1 * i for i in range(12)] + [0.9 + 0.15 * i for i in range(1, 9)], False),
    ("a short early dip, then a longer descent",
     [2.30, 2.32, 2.29, 2.27, 2.31, 2.30, 2.33, 2.31, 2.25, 2.20, 2.12, 2.05, 1.98, 1.90, 1.95, 2.10,
      2.60], False),
    ("a long descent, then a one-step dip to the lowest loss",
     [3.0, 2.9, 2.8, 2.7, 2.6, 2.5, 2.8, 1.2, 2.9, 3.5], False),
    ("two equally long descents", [1.0, 1.5, 1.4, 1.3, 1.6, 1.5, 1.4, 1.7], False),
    ("a plateau inside a descent", [2.0, 1.8, 1.6, 1.6, 1.4, 1.2, 1.0, 0.9, 1.1, 1.3], False),
    ("a descent that runs to the last point",
     [1.0, 1.2, 1.1, 1.0, 0.9, 2.0, 1.9, 1.8, 1.7, 1.6, 1.5], False),
    ("a curve that ends in NaN", [3.0, 2.5, 2.0, 1.5, 1.6, 1.4, 1.2, 1.0, 0.9, math.nan], False),
    ("a descent broken by a NaN", [2.0, 1.9, 1.8, math.nan, 1.7, 1.6, 1.5, 1.4, 1.5], False),
    ("a zigzag (one-step falls only)", [1.0, 1.2, 1.1, 1.3, 1.2, 1.4], False),
    ("a descent in steps of 1e-9 (float64)", [1.0 - 1e-9 * k for k in range(8)] + [1.5, 1.4, 1.3],
     False),
    ("a smoothed noisy range-test curve", smoothed_noisy_u(), False),
    ("two points, one fall", [1.0, 0.5], False),
    ("tuples: a short early dip, then a longer descent",
     [2.30, 2.32, 2.29, 2.27, 2.31, 2.30, 2.33, 2.31, 2.25, 2.20, 2.12, 2.05, 1.98, 1.90, 1.95, 2.10,
      2.60], True),
]
# (description, lrs, losses): loss_valley must raise ValueError.
VALLEY_ERRORS = [
    ("a curve that only rises", valley_lrs(4), [1.0, 1.1, 1.2, 1.3]),
    ("a flat curve", valley_lrs(5), [1.0] * 5),
    ("losses that are all NaN", valley_lrs(3), [math.nan] * 3),
    ("a single point", valley_lrs(1), [1.0]),
    ("no points", [], []),
    ("5 rates and 4 losses", valley_lrs(5), [3.0, 2.0, 1.0, 0.5]),
    ("4 rates and 5 losses", valley_lrs(4), [5.0, 4.0, 3.0, 2.0, 1.0]),
]


def valley_what(description: str) -> str:
    return f"loss_valley on {description}"


@probe
def test_loss_valley(see, loss_valley):
    for description, losses, as_tuples in VALLEY_CASES:
        lrs = valley_lrs(len(losses))
        given = (tuple(lrs), tuple(losses)) if as_tuples else (lrs, list(losses))
        what = valley_what(description)
        see.call(what, loss_valley, *given, what=what)
    for description, lrs, losses in VALLEY_ERRORS:
        see.raises(f"raises on {description}", loss_valley, list(lrs), list(losses))


# ---------------------------------------------------------------- schedules of the step

# (lr0, s, c), 1000 steps each; then c left at its default.
POWER_CASES = [(0.1, 20, 1.0), (0.5, 100, 0.5), (0.01, 7, 2.0), (1.0, 1000, 1.0)]
POWER_DEFAULT = (0.2, 50, 300)


def power_what(lr0, s, c) -> str:
    return f"power_schedule(t, lr0={lr0}, s={s}, c={c})"


@probe
def test_power_schedule(see, power_schedule):
    for lr0, s, c in POWER_CASES:
        what = power_what(lr0, s, c)
        schedule(see, what, power_schedule, lambda t, a=(lr0, s, c): (t, *a), 1000, what)
    lr0, s, steps = POWER_DEFAULT
    what = f"power_schedule(t, {lr0}, {s}) (default c)"
    schedule(see, what, power_schedule, lambda t: (t, lr0, s), steps, what)


# (lr0, gamma), 1000 steps each.
EXPONENTIAL_CASES = [(0.05, 0.99), (0.1, 0.9), (1.0, 0.1 ** (1 / 300)), (0.3, 1.0)]


def exponential_what(lr0, gamma) -> str:
    return f"exponential_schedule(t, {lr0}, {gamma})"


@probe
def test_exponential_schedule(see, exponential_schedule):
    for lr0, gamma in EXPONENTIAL_CASES:
        what = exponential_what(lr0, gamma)
        schedule(see, what, exponential_schedule, lambda t, a=(lr0, gamma): (t, *a), 1000, what)


# (what, boundaries, values, steps).
PIECEWISE_CASES = [
    ("piecewise_constant(t, [100, 250, 600], [0.1, 0.05, 0.025, 0.0125])",
     [100, 250, 600], [0.1, 0.05, 0.025, 0.0125], 1000),
    ("piecewise_constant(t, [5, 30, 31, 400], [0.3, 0.01, 0.2, 0.002, 0.05])",
     [5, 30, 31, 400], [0.3, 0.01, 0.2, 0.002, 0.05], 500),
    ("piecewise_constant as StepLR(step_size=30, gamma=0.1)",
     [30, 60, 90, 120, 150, 180], [0.1**k for k in range(7)], 200),
]


@probe
def test_piecewise_constant(see, piecewise_constant):
    for what, boundaries, values, steps in PIECEWISE_CASES:
        schedule(see, what, piecewise_constant,
                 lambda t, b=boundaries, v=values: (t, list(b), list(v)), steps, what)


# (t_max, lr_max, lr_min), t_max + 1 steps each; then lr_min left at its default.
COSINE_CASES = [(300, 0.1, 0.0), (97, 0.05, 1e-4), (10, 1.0, 0.02), (1, 0.3, 0.0)]
COSINE_DEFAULT = (50, 0.2)


def cosine_what(t_max, lr_max, lr_min) -> str:
    return f"cosine_annealing(t, t_max={t_max}, lr_max={lr_max}, lr_min={lr_min})"


@probe
def test_cosine_annealing(see, cosine_annealing):
    for t_max, lr_max, lr_min in COSINE_CASES:
        what = cosine_what(t_max, lr_max, lr_min)
        schedule(see, what, cosine_annealing, lambda t, a=(t_max, lr_max, lr_min): (t, *a),
                 t_max + 1, what)
    t_max, lr_max = COSINE_DEFAULT
    what = f"cosine_annealing(t, {t_max}, {lr_max}) (default lr_min)"
    schedule(see, what, cosine_annealing, lambda t: (t, t_max, lr_max), t_max + 1, what)


# (lr, start_factor, total_iters), 400 steps each.
WARMUP_CASES = [(0.2, 0.01, 50), (0.1, 1 / 3, 5), (1.0, 0.1, 1), (0.05, 0.5, 200)]


def warmup_what(lr, start_factor, total_iters) -> str:
    return f"warmup_linear(t, {lr}, start_factor={start_factor:.4g}, total_iters={total_iters})"


@probe
def test_warmup_linear(see, warmup_linear):
    for lr, start_factor, total_iters in WARMUP_CASES:
        what = warmup_what(lr, start_factor, total_iters)
        schedule(see, what, warmup_linear, lambda t, a=(lr, start_factor, total_iters): (t, *a),
                 400, what)


def smoothstep_profile(x: float) -> float:
    """1 at x = 0, 0 at x = 1, g(1 − x) = 1 − g(x): shaped like a cosine annealing, not one."""
    return 1 - x * x * (3 - 2 * x)


class CosineStandIn:
    """What `cosine_annealing` is while the exercises built on it are probed: a smoothstep
    annealing from lr_max at t = 0 to lr_min at t = t_max, which logs each call."""

    __name__ = "cosine_annealing"

    def __init__(self) -> None:
        self.calls: list[list[float]] = []
        self._taken = 0

    def __call__(self, t, t_max, lr_max, lr_min=0.0):
        self.calls.append([t, t_max, lr_max, lr_min])
        return lr_min + (lr_max - lr_min) * smoothstep_profile(t / t_max)

    def take(self) -> list[list[float]]:
        """The calls made since the last `take`."""
        new, self._taken = self.calls[self._taken:], len(self.calls)
        return new


# (t_0, t_mult, lr_max, lr_min), 1000 steps each; then lr_min left at its default.
RESTART_CASES = [(10, 2, 0.1, 0.0), (7, 1, 0.05, 1e-3), (5, 3, 1.0, 0.0), (1, 2, 0.2, 0.01)]
RESTART_DEFAULT = (8, 2, 0.3, 200)


def restart_what(t_0, t_mult, lr_max, lr_min) -> str:
    return f"cosine_warm_restarts(t, t_0={t_0}, t_mult={t_mult}, lr_max={lr_max}, lr_min={lr_min})"


@probe
def test_cosine_warm_restarts(see, cosine_warm_restarts):
    stand_in = CosineStandIn()
    cosine_warm_restarts = with_globals(cosine_warm_restarts, cosine_annealing=stand_in)
    for t_0, t_mult, lr_max, lr_min in RESTART_CASES:
        what = restart_what(t_0, t_mult, lr_max, lr_min)
        schedule(see, what, cosine_warm_restarts, lambda t, a=(t_0, t_mult, lr_max, lr_min): (t, *a),
                 1000, what, stand_in=stand_in)
    t_0, t_mult, lr_max, steps = RESTART_DEFAULT
    what = f"cosine_warm_restarts(t, {t_0}, {t_mult}, {lr_max}) (default lr_min)"
    schedule(see, what, cosine_warm_restarts, lambda t: (t, t_0, t_mult, lr_max), steps, what,
             stand_in=stand_in)


# (total_steps, max_lr, options).
ONE_CYCLE_CASES = [
    (537, 0.5, {}),
    (200, 1.0, {"three_phase": True}),
    (300, 0.1, {"anneal_strategy": "linear", "pct_start": 0.25}),
    (451, 0.02, {"div_factor": 10.0, "final_div_factor": 100.0, "base_momentum": 0.8,
                 "max_momentum": 0.9}),
    (120, 0.3, {"pct_start": 0.4, "three_phase": True, "anneal_strategy": "linear"}),
    (90, 0.05, {"three_phase": True, "base_momentum": 0.6, "max_momentum": 0.99, "div_factor": 5.0}),
]


def one_cycle_what(total, max_lr, options) -> str:
    shown = ", ".join(f"{k}={v!r}" for k, v in options.items())
    return f"one_cycle(t, {total}, {max_lr}{', ' + shown if shown else ''})"


@probe
def test_one_cycle(see, one_cycle):
    stand_in = CosineStandIn()
    one_cycle = with_globals(one_cycle, cosine_annealing=stand_in)
    for total, max_lr, options in ONE_CYCLE_CASES:
        what = one_cycle_what(total, max_lr, options)
        schedule(see, what, one_cycle, lambda t, a=(total, max_lr): (t, *a), total, what,
                 kwargs_for=lambda t, o=options: dict(o), stand_in=stand_in)


# ---------------------------------------------------------------- performance scheduling


def metric_walk(seed: int, n: int, drift: float) -> list[float]:
    """A noisy metric that drifts by `drift` per epoch: improvements, plateaus and setbacks."""
    generator = torch.Generator().manual_seed(seed)
    steps = drift + 0.01 * torch.randn(n, generator=generator, dtype=torch.float64)
    return (0.5 + steps.cumsum(0)).tolist()


_UP, _DOWN = metric_walk(0, 40, 0.004), metric_walk(1, 40, -0.004)
# (options, metrics, initial group rates, {epoch: rate set in group 0 before it}, metric as tensor)
PLATEAU_CASES = [
    ({"mode": "max", "factor": 0.5, "patience": 1}, _UP, (0.1, 0.03), {}, False),
    ({"mode": "min", "factor": 0.1, "patience": 3}, _DOWN, (0.1, 0.03), {}, False),
    ({"mode": "max", "factor": 0.3, "patience": 2, "threshold": 0.02}, _UP, (0.1, 0.03), {}, False),
    ({"mode": "min", "factor": 0.5, "patience": 0, "threshold": 0.0}, metric_walk(2, 30, 0.0),
     (0.1, 0.03), {}, False),
    ({"mode": "min", "factor": 0.1, "patience": 0, "min_lr": 1e-3}, [1.0] * 8, (0.1, 0.5), {}, False),
    ({}, [2.0, 1.0] + [1.0] * 30, (0.1, 0.03), {}, False),
    ({"mode": "max", "factor": 0.5, "patience": 1}, [0.5] * 12, (0.1, 0.03), {4: 0.2, 9: 0.07}, False),
    ({"mode": "max", "factor": 0.5, "patience": 1}, _UP[:15], (0.1, 0.03), {}, True),
    ({"mode": "max", "factor": 0.5, "patience": 1, "threshold": 0.0},
     [0.8, 0.85, 0.85, 0.85, 0.9, 0.9, 0.9, 0.9], (0.1, 0.03), {}, False),
    ({"mode": "min", "factor": 0.5, "patience": 1, "threshold": 0.0},
     [0.5, 0.4, 0.4, 0.4, 0.3, 0.3, 0.3, 0.3], (0.1, 0.03), {}, False),
]
BAD_OPTIONS = [{"mode": "maximum"}, {"factor": 1.5}, {"factor": 0.0}, {"factor": 1.0}]


def plateau_what(options) -> str:
    return f"ReduceLROnPlateauScratch(optimizer, {', '.join(f'{k}={v!r}' for k, v in options.items())})"


def call_method(instance, name: str, *args):
    """instance.name(*args), so that a missing method is a failure of the student's object."""
    return getattr(instance, name)(*args)


@probe
def test_plateau_scheduler(see, ReduceLROnPlateauScratch):
    for case, (options, metrics, lrs, poke, as_tensor) in enumerate(PLATEAU_CASES):
        what = plateau_what(options)
        optimizer = torch.optim.SGD([{"params": [nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs],
                                    lr=lrs[0])
        rates, counters, bests = [], [], []
        with forbidden(lr_scheduler, ("ReduceLROnPlateau",), NO_SCHEDULERS,
                       within=ReduceLROnPlateauScratch):
            scheduler = see.call(f"plateau {case} (running)", ReduceLROnPlateauScratch, optimizer,
                                 **options, what=what, record=False)
            see(f"plateau {case} built", [see.call(f"plateau {case} (running)", getattr, scheduler,
                                                   name, None, what=f"{what}.{name}", record=False)
                                          for name in ("num_bad_epochs", "best")])
            for epoch, value in enumerate(metrics, start=1):
                if epoch in poke:
                    optimizer.param_groups[0]["lr"] = poke[epoch]
                given = torch.tensor(value, dtype=torch.float64) if as_tensor else value
                see.call(f"plateau {case} (running)", call_method, scheduler, "step", given,
                         what=f"{what}.step({value:.4g})", record=False)
                rates.append([group["lr"] for group in optimizer.param_groups])
                counters.append(see.call(f"plateau {case} (running)", getattr, scheduler,
                                         "num_bad_epochs", None, what=f"{what}.num_bad_epochs",
                                         record=False))
                bests.append(see.call(f"plateau {case} (running)", getattr, scheduler, "best", None,
                                      what=f"{what}.best", record=False))
        see(f"plateau {case} rates", rates)
        see(f"plateau {case} num_bad_epochs", counters)
        see(f"plateau {case} best", bests)
    for options in BAD_OPTIONS:
        optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
        see.raises(f"raises with {options}", ReduceLROnPlateauScratch, optimizer, **options)


# ---------------------------------------------------------------- random search


def search_score(params: dict) -> float:
    """The score train_fn gives a point: the closer lr is to 1e-2, the higher (momentum costs a little)."""
    return -abs(math.log10(params["lr"]) + 2) - 0.1 * params["momentum"]


class TrainFnRecorder:
    """A train_fn that logs its calls and returns `search_score` of its arguments."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, **params) -> float:
        self.calls.append(dict(params))
        return search_score(params)


SPACE = {"lr": (1e-4, 1.0, "log"), "momentum": (0.5, 0.99), "width": [32, 64, 128],
         "activation": ["relu", "gelu"]}
SEARCH_TRIALS = 300
SEARCH_CALL = f"random_search(train_fn, space, {SEARCH_TRIALS}, seed=7)"
SEED_RUNS = (("again", 7), ("twice", 7), ("other", 8), ("default", None), ("zero", 0))
GLOBAL_SEED = 1234  # the caller's seed of the global generators before the "again" run


class GlobalGenerators:
    """The caller's global generators (random, numpy, torch), seeded with GLOBAL_SEED on entry;
    `drawn()` is the next draw of each, and their states are put back on exit."""

    def __enter__(self) -> GlobalGenerators:
        import numpy
        self.numpy = numpy
        self.saved = random.getstate(), numpy.random.get_state(), torch.random.get_rng_state()
        random.seed(GLOBAL_SEED)
        numpy.random.seed(GLOBAL_SEED)
        torch.manual_seed(GLOBAL_SEED)
        return self

    def drawn(self) -> dict:
        return {"random": random.random(), "numpy": float(self.numpy.random.random()),
                "torch": float(torch.rand(1, dtype=torch.float64))}

    def __exit__(self, *exc) -> None:
        random.setstate(self.saved[0])
        self.numpy.random.set_state(self.saved[1])
        torch.random.set_rng_state(self.saved[2])


@probe
def test_random_search(see, random_search):
    recorder = TrainFnRecorder()
    trials = see.call(SEARCH_CALL, random_search, recorder, dict(SPACE), SEARCH_TRIALS, seed=7,
                      what=SEARCH_CALL)
    see(f"{SEARCH_CALL} type", type(trials).__name__)
    see(f"{SEARCH_CALL} train_fn calls", recorder.calls)
    for name, seed in SEED_RUNS:
        with GlobalGenerators() if name == "again" else contextlib.nullcontext() as generators:
            seeded = {} if seed is None else {"seed": seed}
            see.call(f"seed {name}", random_search, TrainFnRecorder(), dict(SPACE), 20, **seeded,
                     what=f"random_search(..., seed={seed})" if seeded else "random_search(...)")
            if generators is not None:
                see("global generators after", generators.drawn())


# ---------------------------------------------------------------- concept questions

test_q1_exponential_gamma = answer("test_q1_exponential_gamma")
test_q2_one_cycle_momentum = answer("test_q2_one_cycle_momentum")
test_q3_plateau_lr = answer("test_q3_plateau_lr")
test_q4_random_vs_grid = answer("test_q4_random_vs_grid")
test_q5_warm_restarts_lr = answer("test_q5_warm_restarts_lr")
test_q6_one_cycle_lr = answer("test_q6_one_cycle_lr")
