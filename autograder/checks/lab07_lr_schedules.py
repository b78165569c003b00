"""Hidden tests of lab 07, Learning-rate scheduling: one function per grade cell, named after it.

Every schedule is compared, step by step, with the sequence of `get_last_lr()` (and, for
1cycle, the optimizer's momentum) of the PyTorch scheduler that implements it, to 1e-9
relative. The range test is compared with the reference on full batches in float64 (so the
batch order does not matter), and its restoring of the model and the optimizer is checked
directly.
"""

from __future__ import annotations

import bisect
import copy
import math

import torch
from torch import nn
from torch.optim import lr_scheduler

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

ref = reference("solutions.lab07_lr_schedules")
RTOL = 1e-9
SCHEDULERS = ("LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
              "ExponentialLR", "SequentialLR", "CosineAnnealingLR", "ChainedScheduler",
              "CyclicLR", "CosineAnnealingWarmRestarts", "OneCycleLR", "PolynomialLR")
NO_SCHEDULERS = ("Write the formula yourself: this exercise must not use torch.optim.lr_scheduler "
                 "(the hidden tests compare your function with those schedulers).")


def scheduler_sequence(make_scheduler, steps: int, lr: float = 1.0,
                       momentum: float = 0.0) -> tuple[list[float], list[float]]:
    """get_last_lr() and the optimizer's momentum at steps 0 .. steps-1 of a fresh scheduler."""
    parameter = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=lr, momentum=momentum)
    scheduler = make_scheduler(optimizer)
    rates, momenta = [], []
    for _ in range(steps):
        rates.append(float(scheduler.get_last_lr()[0]))
        momenta.append(float(optimizer.param_groups[0]["momentum"]))
        optimizer.step()
        scheduler.step()
    return rates, momenta


def expect_schedule(schedule, args_for, expected: list[float], *, what: str, scale: float,
                    hint: str = "", pick=None) -> None:
    """Compare schedule(*args_for(t)) with `expected[t]` at every step; report the first miss."""
    with forbidden(lr_scheduler, SCHEDULERS, NO_SCHEDULERS):
        for t, value in enumerate(expected):
            args = args_for(t)
            got = call(schedule, *args, what=f"{what} at t={t}")
            if pick is not None:
                got = pick(got, t)
            expect_close(got, value, what=f"{what} at t={t}", rtol=RTOL, atol=1e-12 * scale,
                         hint=hint)


# ---------------------------------------------------------------- range test and suggestion


def _toy(seed: int, dtype=torch.float64, batch_norm: bool = False):
    torch.manual_seed(seed)
    X = torch.randn(96, 6, dtype=dtype)
    y = ((X[:, 0] - X[:, 1] + 0.3 * X[:, 2]) > 0).long()
    hidden = [nn.Linear(6, 12), nn.BatchNorm1d(12), nn.ReLU()] if batch_norm else [nn.Linear(6, 12),
                                                                                   nn.Tanh()]
    model = nn.Sequential(*hidden, nn.Linear(12, 2)).to(dtype)
    return model, X, y


def _compare_with_reference(student, *, what: str, seed: int, make_optimizer=None,
                            **kwargs) -> tuple[list[float], list[float]]:
    """Run the student's and the reference range test on identical full-batch float64 problems."""
    model, X, y = _toy(seed)
    twin = copy.deepcopy(model)
    extra, twin_extra = {}, {}
    if make_optimizer is not None:
        extra["optimizer"] = make_optimizer(model)
        twin_extra["optimizer"] = make_optimizer(twin)
    result = call(student, model, nn.CrossEntropyLoss(), X, y, batch_size=len(X), **kwargs, **extra,
                  what=what)
    expect(isinstance(result, (tuple, list)) and len(result) == 2,
           f"{what} must return a pair (lrs, losses), got {type(result).__name__}.")
    lrs, losses = (list(result[0]), list(result[1]))
    want_lrs, want_losses = ref.lr_range_test(twin, nn.CrossEntropyLoss(), X, y, batch_size=len(X),
                                              **kwargs, **twin_extra)
    expect(len(lrs) == len(losses), f"{what}: lrs and losses must have the same length, got "
                                    f"{len(lrs)} and {len(losses)}.")
    start, end, n = kwargs["start_lr"], kwargs["end_lr"], kwargs["num_iters"]
    for i, (got, want) in enumerate(zip(lrs, want_lrs)):
        expect_close(got, want, what=f"{what}: learning rate of iteration {i}", rtol=1e-9,
                     hint="The rate must grow exponentially (a constant ratio from one iteration to "
                          f"the next): lr_i = start_lr · (end_lr / start_lr) ** (i / (num_iters - 1)), "
                          f"from {start:g} at i = 0 to {end:g} at i = {n - 1}.")
    for i, (got, want) in enumerate(zip(losses, want_losses)):
        expect_close(got, want, what=f"{what}: loss recorded at iteration {i}", rtol=1e-6, atol=1e-9,
                     hint="Record the smoothed loss: s_0 = loss_0, then s_i = 0.9·s_(i-1) + 0.1·loss_i, "
                          "where loss_i is the mini-batch loss computed (with rate lr_i set) before "
                          "that iteration's optimizer step. "
                          + ("Train with the optimizer passed in as `optimizer` (only its lr changes)."
                             if make_optimizer else
                             "With optimizer=None, train with plain SGD: torch.optim.SGD(model.parameters(), "
                             "lr=start_lr), no momentum."))
    if len(lrs) != len(want_lrs):
        fail(f"{what}: your range test ran {len(lrs)} iterations, the reference {len(want_lrs)}. "
             "Stop right after recording the first smoothed loss that is not finite or exceeds "
             "stop_factor × the lowest smoothed loss so far (that loss is recorded, then stop); "
             "without such a loss, run all num_iters iterations."
             + (" Use the optimizer passed in as `optimizer`." if make_optimizer else ""))
    return lrs, losses


def _same_state(before: dict, after: dict, what: str, hint: str) -> None:
    expect(set(before) == set(after), f"{what}: the state_dict keys changed. {hint}")
    for key, value in before.items():
        now = after[key]
        if isinstance(value, torch.Tensor):
            expect(isinstance(now, torch.Tensor) and now.shape == value.shape
                   and torch.equal(now, value), f"{what}: {key} is not what it was before the "
                                                f"range test. {hint}")


@hidden_test
def test_lr_range_test(lr_range_test):
    where = "lr_range_test"
    # Full batch, float64: every correct implementation gives the reference's numbers.
    lrs, losses = _compare_with_reference(lr_range_test, what=f"{where}(..., start_lr=1e-3, end_lr=100)",
                                          seed=0, start_lr=1e-3, end_lr=100.0, num_iters=80,
                                          stop_factor=4.0)
    expect(len(lrs) < 80, f"{where}: with end_lr=100 the loss explodes and the test should stop early.")
    _compare_with_reference(lr_range_test, what=f"{where}(..., end_lr=0.05, num_iters=40)", seed=1,
                            start_lr=1e-4, end_lr=0.05, num_iters=40, stop_factor=4.0)
    _compare_with_reference(lr_range_test, what=f"{where} with stop_factor=1.5", seed=2,
                            start_lr=1e-3, end_lr=30.0, num_iters=60, stop_factor=1.5)
    _compare_with_reference(lr_range_test, what=f"{where} with an Adam optimizer passed in", seed=3,
                            make_optimizer=lambda m: torch.optim.Adam(m.parameters(), lr=0.5),
                            start_lr=1e-4, end_lr=3.0, num_iters=50, stop_factor=4.0)

    # Mini-batches, batch norm, an optimizer with state: all restored afterwards.
    model, X, y = _toy(4, dtype=torch.float32, batch_norm=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.99))
    for _ in range(2):
        optimizer.zero_grad()
        nn.CrossEntropyLoss()(model(X), y).backward()
        optimizer.step()
    model_before = copy.deepcopy(model.state_dict())
    optimizer_before = copy.deepcopy(optimizer.state_dict())
    parameters = list(model.parameters())
    lrs, losses = call(lr_range_test, model, nn.CrossEntropyLoss(), X, y, start_lr=1e-4, end_lr=10.0,
                       num_iters=60, batch_size=16, optimizer=optimizer,
                       what=f"{where}(model, ..., batch_size=16, optimizer=adam)")
    restore = ("Save copies before training (copy.deepcopy(model.state_dict()) and "
               "copy.deepcopy(optimizer.state_dict()): a plain state_dict() holds references to "
               "tensors that training changes) and load them back at the end, even after an early stop.")
    _same_state(model_before, model.state_dict(),
                f"{where} left the model trained: after the range test its weights", restore)
    after = optimizer.state_dict()
    expect(after["param_groups"] == optimizer_before["param_groups"],
           f"{where} changed the optimizer's settings (its learning rate?): restore its state_dict. "
           f"{restore}")
    for index, state in optimizer_before["state"].items():
        expect(index in after["state"], f"{where}: the optimizer lost its state (Adam's moments).")
        _same_state(state, after["state"][index], f"{where}: the optimizer's state", restore)
    expect(all(a is b for a, b in zip(parameters, model.parameters())),
           f"{where} replaced the model's parameters: load the saved state_dict into the same model "
           "(model.load_state_dict) so that optimizers keep pointing at its parameters.")
    expect(len(set(losses)) > 1, f"{where}: the losses never changed; train the model at each step.")

    # Default optimizer: the caller's model comes back unchanged too.
    model, X, y = _toy(5, dtype=torch.float32)
    model_before = copy.deepcopy(model.state_dict())
    call(lr_range_test, model, nn.CrossEntropyLoss(), X, y, num_iters=40, batch_size=16,
         what=f"{where}(model, loss_fn, X, y, num_iters=40, batch_size=16)")
    _same_state(model_before, model.state_dict(),
                f"{where} (default optimizer) left the model trained: its weights", restore)

    # A loss that turns NaN: stop there, the NaN recorded last.
    model, X, y = _toy(6)
    calls = []

    def nan_from_the_tenth_call(outputs, targets):
        calls.append(1)
        loss = nn.functional.cross_entropy(outputs, targets)
        return loss * math.nan if len(calls) >= 10 else loss

    lrs, losses = call(lr_range_test, model, nan_from_the_tenth_call, X, y, num_iters=100,
                       what=f"{where} with a loss that becomes NaN at the 10th iteration")
    expect(len(losses) == 10 and math.isnan(losses[-1]),
           f"{where}: the loss became NaN at the 10th iteration; the range test should record it "
           f"and stop there (10 entries), but returned {len(losses)}. NaN > x is always False: "
           "test math.isfinite(loss) as well.")


@hidden_test
def test_suggest_lr(suggest_lr):
    lrs = [1e-5 * 10 ** (i / 10) for i in range(61)]
    cases = [
        ([2.3 - 0.02 * i if i < 40 else 1.5 + 0.3 * (i - 40) for i in range(61)], "a typical curve"),
        ([1.0] * 5 + [0.5] + [0.5] * 10 + [0.9] * 45, "a tie for the lowest loss (take the first)"),
        ([0.3 - 0.001 * i for i in range(60)] + [math.nan], "a curve that ends in NaN"),
        ([math.nan] + [1.0 - 0.01 * i for i in range(59)] + [math.inf],
         "a curve with NaN first and inf last"),
    ]
    for losses, description in cases:
        finite = [i for i, loss in enumerate(losses) if math.isfinite(loss)]
        lowest = min(finite, key=lambda i: losses[i])
        got = call(suggest_lr, list(lrs), list(losses), what=f"suggest_lr on {description}")
        if isinstance(got, (int, float)) and math.isclose(got, lrs[lowest], rel_tol=1e-9):
            fail(f"suggest_lr on {description} returned the rate of the lowest loss itself; at that "
                 "rate the loss is about to climb. Return ten times less: lrs[i_min] / 10.")
        expect_close(got, lrs[lowest] / 10, what=f"suggest_lr on {description}", rtol=1e-9,
                     hint="Find i_min, the index of the lowest finite loss (the first one on a tie; "
                          "skip NaN and inf, e.g. with math.isfinite), and return lrs[i_min] / 10.")


# ---------------------------------------------------------------- schedules of the step


@hidden_test
def test_power_schedule(power_schedule):
    for lr0, s, c in [(0.1, 20, 1.0), (0.5, 100, 0.5), (0.01, 7, 2.0), (1.0, 1000, 1.0)]:
        expected, _ = scheduler_sequence(
            lambda o, s=s, c=c: lr_scheduler.LambdaLR(o, lambda t: 1 / (1 + t / s) ** c), 1000, lr=lr0)
        expect_schedule(power_schedule, lambda t, lr0=lr0, s=s, c=c: (t, lr0, s, c), expected,
                        what=f"power_schedule(t, lr0={lr0}, s={s}, c={c})", scale=lr0,
                        hint="η(t) = η0 / (1 + t/s)^c: the power c applies to the whole (1 + t/s).")
    expected, _ = scheduler_sequence(lambda o: lr_scheduler.LambdaLR(o, lambda t: 1 / (1 + t / 50)),
                                     300, lr=0.2)
    expect_schedule(power_schedule, lambda t: (t, 0.2, 50), expected,
                    what="power_schedule(t, 0.2, 50) (default c)", scale=0.2,
                    hint="The default is c = 1.0.")


@hidden_test
def test_exponential_schedule(exponential_schedule):
    for lr0, gamma in [(0.05, 0.99), (0.1, 0.9), (1.0, 0.1 ** (1 / 300)), (0.3, 1.0)]:
        first = call(exponential_schedule, 0, lr0, gamma, what=f"exponential_schedule(0, {lr0}, {gamma})")
        if gamma != 1.0 and isinstance(first, (int, float)) and math.isclose(first, lr0 * gamma):
            fail(f"exponential_schedule(0, {lr0}, {gamma}) returned lr0 · gamma: gamma is applied once "
                 "too often. At t = 0 the rate is lr0 itself; after t steps it is lr0 · gamma**t.")
        expected, _ = scheduler_sequence(lambda o, g=gamma: lr_scheduler.ExponentialLR(o, g), 1000, lr=lr0)
        expect_schedule(exponential_schedule, lambda t, lr0=lr0, gamma=gamma: (t, lr0, gamma), expected,
                        what=f"exponential_schedule(t, {lr0}, {gamma})", scale=lr0,
                        hint="ExponentialLR multiplies the rate by gamma at every step: lr0 · gamma**t.")


@hidden_test
def test_piecewise_constant(piecewise_constant):
    hint = ("Like MultiStepLR, the rate switches AT each boundary: values[i] for "
            "boundaries[i-1] <= t < boundaries[i] (values[0] before the first boundary, values[-1] "
            "from the last one on).")
    boundaries = [100, 250, 600]
    expected, _ = scheduler_sequence(lambda o: lr_scheduler.MultiStepLR(o, boundaries, gamma=0.5),
                                     1000, lr=0.1)
    values = [0.1, 0.05, 0.025, 0.0125]
    expect_schedule(piecewise_constant, lambda t: (t, list(boundaries), list(values)), expected,
                    what=f"piecewise_constant(t, {boundaries}, {values})", scale=0.1, hint=hint)
    boundaries, values = [5, 30, 31, 400], [0.3, 0.01, 0.2, 0.002, 0.05]
    expected, _ = scheduler_sequence(lambda o: lr_scheduler.LambdaLR(
        o, lambda t: values[bisect.bisect_right(boundaries, t)] / values[0]), 500, lr=values[0])
    expect_schedule(piecewise_constant, lambda t: (t, list(boundaries), list(values)), expected,
                    what=f"piecewise_constant(t, {boundaries}, {values})", scale=0.3, hint=hint)
    expected, _ = scheduler_sequence(lambda o: lr_scheduler.StepLR(o, step_size=30, gamma=0.1), 200)
    steps = [30, 60, 90, 120, 150, 180]
    expect_schedule(piecewise_constant, lambda t: (t, list(steps), [0.1**k for k in range(7)]),
                    expected, what="piecewise_constant as StepLR(step_size=30, gamma=0.1)", scale=1.0,
                    hint=hint)


@hidden_test
def test_cosine_annealing(cosine_annealing):
    for t_max, lr_max, lr_min in [(300, 0.1, 0.0), (97, 0.05, 1e-4), (10, 1.0, 0.02), (1, 0.3, 0.0)]:
        expected, _ = scheduler_sequence(
            lambda o, t_max=t_max, lr_min=lr_min: lr_scheduler.CosineAnnealingLR(o, t_max, eta_min=lr_min),
            t_max + 1, lr=lr_max)
        expect_schedule(cosine_annealing, lambda t, t_max=t_max, lr_max=lr_max, lr_min=lr_min:
                        (t, t_max, lr_max, lr_min), expected,
                        what=f"cosine_annealing(t, t_max={t_max}, lr_max={lr_max}, lr_min={lr_min})",
                        scale=lr_max,
                        hint="Eq. 11-10: η_min + (η_max − η_min)(1 + cos(π t / T)) / 2 with T = t_max: "
                             "the rate reaches lr_min exactly at t = t_max (not at t_max − 1).")
    expected, _ = scheduler_sequence(lambda o: lr_scheduler.CosineAnnealingLR(o, 50), 51, lr=0.2)
    expect_schedule(cosine_annealing, lambda t: (t, 50, 0.2), expected,
                    what="cosine_annealing(t, 50, 0.2) (default lr_min)", scale=0.2,
                    hint="The default is lr_min = 0.0.")


@hidden_test
def test_warmup_linear(warmup_linear):
    for lr, start_factor, total_iters in [(0.2, 0.01, 50), (0.1, 1 / 3, 5), (1.0, 0.1, 1), (0.05, 0.5, 200)]:
        expected, _ = scheduler_sequence(lambda o, f=start_factor, n=total_iters: lr_scheduler.LinearLR(
            o, f, 1.0, n), 400, lr=lr)
        expect_schedule(warmup_linear, lambda t, lr=lr, f=start_factor, n=total_iters: (t, lr, f, n),
                        expected, what=f"warmup_linear(t, {lr}, start_factor={start_factor:.4g}, "
                                       f"total_iters={total_iters})", scale=lr,
                        hint="LinearLR: the factor goes linearly from start_factor at t = 0 to 1 at "
                             "t = total_iters, then stays at 1 (the rate stays at lr).")


@hidden_test
def test_cosine_warm_restarts(cosine_warm_restarts):
    cosine_warm_restarts = with_globals(cosine_warm_restarts, cosine_annealing=ref.cosine_annealing)
    for t_0, t_mult, lr_max, lr_min in [(10, 2, 0.1, 0.0), (7, 1, 0.05, 1e-3), (5, 3, 1.0, 0.0),
                                        (1, 2, 0.2, 0.01)]:
        expected, _ = scheduler_sequence(lambda o, t_0=t_0, t_mult=t_mult, lr_min=lr_min:
                                         lr_scheduler.CosineAnnealingWarmRestarts(o, t_0, t_mult,
                                                                                  eta_min=lr_min),
                                         1000, lr=lr_max)
        expect_schedule(cosine_warm_restarts, lambda t, a=(t_0, t_mult, lr_max, lr_min): (t, *a),
                        expected, scale=lr_max,
                        what=f"cosine_warm_restarts(t, t_0={t_0}, t_mult={t_mult}, lr_max={lr_max}, "
                             f"lr_min={lr_min})",
                        hint="The cycles last t_0, t_0·t_mult, t_0·t_mult², ... steps: subtract each "
                             "finished cycle's length from t and multiply the length by t_mult, then "
                             "anneal with T_cur (steps since the restart) over T_i (this cycle's length).")
    expected, _ = scheduler_sequence(lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, 8, 2), 200,
                                     lr=0.3)
    expect_schedule(cosine_warm_restarts, lambda t: (t, 8, 2, 0.3), expected, scale=0.3,
                    what="cosine_warm_restarts(t, 8, 2, 0.3) (default lr_min)",
                    hint="The default is lr_min = 0.0.")


@hidden_test
def test_one_cycle(one_cycle):
    one_cycle = with_globals(one_cycle, cosine_annealing=ref.cosine_annealing)
    phases = ("As OneCycleLR: initial_lr = max_lr / div_factor, min_lr = initial_lr / "
              "final_div_factor; phase 1 ends at step pct_start·total_steps − 1 (three_phase: phase 2 "
              "at 2·pct_start·total_steps − 2), the last phase at total_steps − 1; within a phase, "
              "pct = (t − phase start) / (phase end − phase start), annealed by cosine or linearly.")
    direction = ("1cycle moves the momentum AGAINST the learning rate: from max_momentum down to "
                 "base_momentum while the rate rises, then back up to max_momentum while it falls.")
    for total, max_lr, options in [
        (537, 0.5, {}),
        (200, 1.0, {"three_phase": True}),
        (300, 0.1, {"anneal_strategy": "linear", "pct_start": 0.25}),
        (451, 0.02, {"div_factor": 10.0, "final_div_factor": 100.0, "base_momentum": 0.8,
                     "max_momentum": 0.9}),
        (120, 0.3, {"pct_start": 0.4, "three_phase": True, "anneal_strategy": "linear"}),
    ]:
        rates, momenta = scheduler_sequence(lambda o, total=total, max_lr=max_lr, options=options:
                                            lr_scheduler.OneCycleLR(o, max_lr, total_steps=total,
                                                                    **options),
                                            total, lr=0.1, momentum=0.9)
        shown = ", ".join(f"{k}={v!r}" for k, v in options.items())
        what = f"one_cycle(t, {total}, {max_lr}{', ' + shown if shown else ''})"
        first = call(one_cycle, 0, total, max_lr, **options, what=f"{what} at t=0")
        expect(isinstance(first, (tuple, list)) and len(first) == 2,
               f"{what} must return a pair (lr, momentum), got {type(first).__name__}.")
        with forbidden(lr_scheduler, SCHEDULERS, NO_SCHEDULERS):
            for t in range(total):
                lr, momentum = call(one_cycle, t, total, max_lr, **options, what=f"{what} at t={t}")
                expect_close(momentum, momenta[t], what=f"{what}: momentum at t={t}", rtol=RTOL,
                             atol=1e-12, hint=direction)
                expect_close(lr, rates[t], what=f"{what}: learning rate at t={t}", rtol=RTOL,
                             atol=1e-12 * max_lr, hint=phases)


# ---------------------------------------------------------------- performance scheduling


def _metric_walk(seed: int, n: int, drift: float) -> list[float]:
    """A noisy metric that drifts by `drift` per epoch: improvements, plateaus and setbacks."""
    generator = torch.Generator().manual_seed(seed)
    steps = drift + 0.01 * torch.randn(n, generator=generator, dtype=torch.float64)
    return (0.5 + steps.cumsum(0)).tolist()


def _plateau_case(scheduler_class, options: dict, metrics: list, lrs=(0.1, 0.03),
                  poke: dict | None = None, as_tensor: bool = False) -> None:
    """Step the student's scheduler and PyTorch's side by side; compare the rates, best and counter."""
    mine = torch.optim.SGD([{"params": [nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs], lr=lrs[0])
    theirs = torch.optim.SGD([{"params": [nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs], lr=lrs[0])
    what = f"ReduceLROnPlateauScratch(optimizer, {', '.join(f'{k}={v!r}' for k, v in options.items())})"
    with forbidden(lr_scheduler, ("ReduceLROnPlateau",), NO_SCHEDULERS, within=scheduler_class):
        scheduler = call(scheduler_class, mine, **options, what=what)
    expected = lr_scheduler.ReduceLROnPlateau(theirs, **options)
    for epoch, metric in enumerate(metrics, start=1):
        if poke and epoch in poke:
            for optimizer in (mine, theirs):
                optimizer.param_groups[0]["lr"] = poke[epoch]
        given = torch.tensor(metric, dtype=torch.float64) if as_tensor else metric
        with forbidden(lr_scheduler, ("ReduceLROnPlateau",), NO_SCHEDULERS, within=scheduler_class):
            call(scheduler.step, given, what=f"{what}.step({metric:.4g})")
        expected.step(metric)
        got = [group["lr"] for group in mine.param_groups]
        want = [group["lr"] for group in theirs.param_groups]
        hint = ("The rates are cut when num_bad_epochs EXCEEDS patience, for every parameter group, "
                "never below min_lr; an improvement must beat best by the relative threshold "
                "(best · (1 − threshold) in 'min' mode, best · (1 + threshold) in 'max' mode); "
                "num_bad_epochs goes back to 0 after an improvement and after a cut.")
        if poke:
            hint += " Read each group's current 'lr' when you cut it: it may have been changed since."
        expect(all(math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0) for a, b in zip(got, want)),
               f"{what}: after step {epoch} (metric {metric:.4g}) the group rates are "
               f"{[f'{r:.4g}' for r in got]}, PyTorch's ReduceLROnPlateau gives "
               f"{[f'{r:.4g}' for r in want]}. {hint}")
        counter = getattr(scheduler, "num_bad_epochs", None)
        expect(counter == expected.num_bad_epochs,
               f"{what}: after step {epoch}, num_bad_epochs is {counter!r}, "
               f"PyTorch's is {expected.num_bad_epochs}. {hint}")
        best = getattr(scheduler, "best", None)
        expect(isinstance(best, (int, float)) and math.isclose(float(best), expected.best, rel_tol=1e-9),
               f"{what}: after step {epoch}, best is {best!r}, PyTorch's is {expected.best}.")


@hidden_test
def test_plateau_scheduler(ReduceLROnPlateauScratch):
    up, down = _metric_walk(0, 40, 0.004), _metric_walk(1, 40, -0.004)
    _plateau_case(ReduceLROnPlateauScratch, {"mode": "max", "factor": 0.5, "patience": 1}, up)
    _plateau_case(ReduceLROnPlateauScratch, {"mode": "min", "factor": 0.1, "patience": 3}, down)
    _plateau_case(ReduceLROnPlateauScratch, {"mode": "max", "factor": 0.3, "patience": 2, "threshold": 0.02},
                  up)
    _plateau_case(ReduceLROnPlateauScratch, {"mode": "min", "factor": 0.5, "patience": 0, "threshold": 0.0},
                  _metric_walk(2, 30, 0.0))
    _plateau_case(ReduceLROnPlateauScratch, {"mode": "min", "factor": 0.1, "patience": 0, "min_lr": 1e-3},
                  [1.0] * 8, lrs=(0.1, 0.5))
    _plateau_case(ReduceLROnPlateauScratch, {}, [2.0, 1.0] + [1.0] * 30)
    _plateau_case(ReduceLROnPlateauScratch, {"mode": "max", "factor": 0.5, "patience": 1},
                  [0.5] * 12, poke={4: 0.2, 9: 0.07})
    _plateau_case(ReduceLROnPlateauScratch, {"mode": "max", "factor": 0.5, "patience": 1}, up[:15],
                  as_tensor=True)
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    for options in ({"mode": "maximum"}, {"factor": 1.5}, {"factor": 0.0}):
        expect_raises(ValueError, ReduceLROnPlateauScratch, optimizer, **options,
                      message=f"ReduceLROnPlateauScratch(optimizer, **{options}) should raise ValueError: "
                              "mode is 'min' or 'max', and factor lies strictly between 0 and 1.")


# ---------------------------------------------------------------- random search


class _Recorder:
    """A train_fn that remembers its calls and scores a point by its closeness to lr = 1e-2."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, **params) -> float:
        self.calls.append(dict(params))
        return -abs(math.log10(params["lr"]) + 2) - 0.1 * params["momentum"]


SPACE = {"lr": (1e-4, 1.0, "log"), "momentum": (0.5, 0.99), "width": [32, 64, 128],
         "activation": ["relu", "gelu"]}


@hidden_test
def test_random_search(random_search):
    n = 300
    recorder = _Recorder()
    trials = call(random_search, recorder, dict(SPACE), n, seed=7,
                  what=f"random_search(train_fn, space, {n}, seed=7)")
    expect(len(recorder.calls) == n, f"random_search must call train_fn once per trial: {n} calls "
                                     f"expected, got {len(recorder.calls)}.")
    expect(isinstance(trials, list) and len(trials) == n,
           f"random_search must return a list of {n} trials, got {type(trials).__name__} "
           f"of length {len(trials) if hasattr(trials, '__len__') else '?'}.")
    for entry in trials:
        expect(isinstance(entry, dict) and {"trial", "params", "score"} <= set(entry),
               "each trial must be a dict with the keys 'trial', 'params' and 'score'.")
        expect(isinstance(entry["params"], dict) and set(entry["params"]) == set(SPACE),
               "each trial's 'params' must be a dict with one value per key of the space.")
    expect(sorted(entry["trial"] for entry in trials) == list(range(n)),
           "'trial' must number the trials 0, 1, ... in the order train_fn evaluated them.")
    for entry in trials:
        evaluated = recorder.calls[entry["trial"]]
        expect(entry["params"] == evaluated,
               f"trial {entry['trial']}: its 'params' are not what train_fn was called with.")
        expect_close(entry["score"], recorder(**evaluated), what=f"score of trial {entry['trial']}",
                     rtol=1e-12, hint="'score' is what train_fn(**params) returned.")
    scores = [entry["score"] for entry in trials]
    expect(scores == sorted(scores, reverse=True),
           "the trials must be sorted best first: highest score first (train_fn returns a score to "
           "maximize, such as a validation accuracy).")
    lrs = [entry["params"]["lr"] for entry in trials]
    expect(all(1e-4 * (1 - 1e-9) <= lr <= 1.0 * (1 + 1e-9) for lr in lrs),
           "a (low, high, 'log') value must stay within [low, high].")
    below = sum(lr < 1e-2 for lr in lrs) / n
    expect(0.38 < below < 0.62,
           f"(1e-4, 1.0, 'log') must be sampled log-uniformly: about half of the rates should fall "
           f"below the geometric mean 1e-2, here {below:.0%}. Draw log(value) uniformly between "
           "log(low) and log(high), then exponentiate.")
    momenta = [entry["params"]["momentum"] for entry in trials]
    expect(all(0.5 <= m <= 0.99 for m in momenta), "a (low, high) value must stay within [low, high].")
    expect(abs(sum(momenta) / n - 0.745) < 0.04,
           "a (low, high) value must be sampled uniformly: the mean of (0.5, 0.99) samples should be "
           f"near 0.745, here {sum(momenta) / n:.3f}.")
    for key in ("width", "activation"):
        counts = {choice: sum(entry["params"][key] == choice for entry in trials) for choice in SPACE[key]}
        expect(set(entry["params"][key] for entry in trials) <= set(SPACE[key]),
               f"a list value must be one of its elements ({key}).")
        expect(min(counts.values()) > 0.6 * n / len(counts),
               f"each element of a list must be equally likely: {key} was drawn {counts}.")
    again = call(random_search, _Recorder(), dict(SPACE), 20, seed=7, what="random_search(..., seed=7)")
    twice = call(random_search, _Recorder(), dict(SPACE), 20, seed=7, what="random_search(..., seed=7)")
    expect([e["params"] for e in again] == [e["params"] for e in twice],
           "the same seed must give the same trials: draw from your own generator seeded with "
           "`seed` (random.Random(seed)).")
    other = call(random_search, _Recorder(), dict(SPACE), 20, seed=8, what="random_search(..., seed=8)")
    expect([e["params"] for e in again] != [e["params"] for e in other],
           "different seeds should give different trials: seed your generator with `seed`.")


# ---------------------------------------------------------------- concept questions


@hidden_test
def test_q1_exponential_gamma(Q1):
    expect(isinstance(Q1, (int, float)) and not isinstance(Q1, bool), "Q1: answer with a number.")
    expect(math.isclose(float(Q1), ref.Q1, rel_tol=1e-3),
           f"Q1: {Q1} is not right (answers within 0.1% count: give three decimals).")


@hidden_test
def test_q2_one_cycle_momentum(Q2):
    expect_choice(Q2, ref.Q2, question="Q2")


@hidden_test
def test_q3_plateau_lr(Q3):
    expect_number(Q3, ref.Q3, question="Q3")


@hidden_test
def test_q4_random_vs_grid(Q4):
    expect_choice(Q4, ref.Q4, question="Q4")
