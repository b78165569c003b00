"""Checks of lab 07, Learning-rate scheduling: one per grade cell, named after it, reading the
records of the probes in autograder/probes/lab07_lr_schedules.py (the student's as `got`, the
reference's as `want`).

Every schedule is compared, step by step and to 1e-9 relative, with the reference's sequence,
which is the sequence of `get_last_lr()` (and, for 1cycle, the optimizer's momentum) of the
PyTorch scheduler that implements it (tests/solutions/test_lab07_lr_schedules.py holds the
reference to that). Where the student's `cosine_warm_restarts` or `one_cycle` called the probe's
stand-in for `cosine_annealing`, a step also passes when its value is what the stand-in gives
for the right arguments: those this check reads off PyTorch's own scheduler (T_cur and T_i of
CosineAnnealingWarmRestarts; OneCycleLR's phases, with the stand-in's curve in place of its
cosine). The range test is compared with the reference on full batches in float64 (so the
batch order does not matter) and, with every default, on a scripted loss; its restoring of the
model and the optimizer is checked on the states the probe recorded before and after. The
valley's two rates must be the reference's exactly; a miss is explained from where the returned
rates sit in the curve (one point late or early, indices, the case's trap). The derived rates of
Q5 and Q6 count within 0.1%, which every usual slip misses (tests/solutions holds the proof). The
plateau scheduler's rates, counter and best metric are compared with the reference's once it is
built and after every step.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn
from torch.optim import lr_scheduler

from autograder.checks.core import (
    choice_question,
    expect,
    expect_close,
    fail,
    number_question,
)
from autograder.probes.lab07_lr_schedules import (
    BAD_OPTIONS,
    COSINE_CASES,
    COSINE_DEFAULT,
    DEFAULT_CALL,
    DEFAULTS_CALL,
    DEFAULTS_JUMP,
    EXPONENTIAL_CASES,
    NAN_CALL,
    NAN_FROM_CALL,
    ONE_CYCLE_CASES,
    PIECEWISE_CASES,
    PLATEAU_CASES,
    POWER_CASES,
    POWER_DEFAULT,
    RANGE_CASES,
    RESTART_CASES,
    RESTART_DEFAULT,
    RESTORE_CALL,
    SEARCH_CALL,
    SEARCH_TRIALS,
    SPACE,
    SUGGEST_CASES,
    SUGGEST_LRS,
    VALLEY_CASES,
    VALLEY_ERRORS,
    WARMUP_CASES,
    CosineStandIn,
    cosine_what,
    exponential_what,
    one_cycle_what,
    plateau_what,
    power_what,
    restart_what,
    search_score,
    smoothstep_profile,
    valley_lrs,
    valley_what,
    warmup_what,
)

RTOL = 1e-9
_GLOBAL_SEEDING = {"random": "random.seed, random.uniform", "numpy": "np.random.seed",
                   "torch": "torch.manual_seed"}
STAND_IN = ("While this exercise is graded, cosine_annealing is a stand-in (so that a mistake in "
            "Exercise 7 costs nothing here) that anneals along another curve: what it returns for "
            "the right arguments must be your rate, unchanged.")


def _number(value: object) -> float | None:
    """`value` as a float if it is a number or a one-element tensor, else None."""
    if type(value) in (int, float, bool):
        return float(value)
    if type(value) is torch.Tensor and value.numel() == 1:
        return float(value.double().item())
    return None


def _close(value: object, expected: float, *, rtol: float, atol: float) -> bool:
    number = _number(value)
    return number is not None and math.isclose(number, float(expected), rel_tol=rtol, abs_tol=atol)


def _show(value: object) -> str:
    number = _number(value)
    return f"{number:.6g}" if number is not None else repr(value)


def expect_rate(value: object, expected: float, *, what: str, rtol: float, atol: float, hint: str) -> None:
    """expect_close, its numbers shown to ten digits (rates that differ in the 7th digit fail too)."""
    if _close(value, expected, rtol=rtol, atol=atol):
        return
    if _number(value) is None:
        expect_close(value, expected, what=what, rtol=rtol, atol=atol, hint=hint)  # says what it got
    fail(f"{what}: got {_number(value):.10g}, expected {float(expected):.10g} "
         f"(relative tolerance {rtol:g}). {hint}")


def _sequence(got, want, key: str, what: str) -> tuple[list, list]:
    mine, theirs = got[key], want[key]
    expect(type(mine) is list and len(mine) == len(theirs),
           f"{what}: the hidden tests did not record one rate per step.")
    return mine, theirs


def expect_schedule(got, want, key: str, *, what: str, scale: float, hint: str) -> None:
    """The student's sequence under `key` against the reference's; report the first miss."""
    mine, theirs = _sequence(got, want, key, what)
    for t, (value, expected) in enumerate(zip(mine, theirs)):
        expect_rate(value, expected, what=f"{what} at t={t}", rtol=RTOL, atol=1e-12 * scale, hint=hint)


# ---------------------------------------------------------------- range test and suggestion


def _pair(result: object, what: str) -> tuple[list, list]:
    expect(type(result) is list and len(result) == 2,
           f"{what} must return a pair (lrs, losses), got {_kind(result)}.")
    pair = []
    for name, part in zip(("lrs", "losses"), result):
        expect(type(part) in (list, torch.Tensor), f"{what}: {name} must be a list, got {_kind(part)}.")
        pair.append(list(part.flatten()) if type(part) is torch.Tensor else part)
    return pair[0], pair[1]


def _compare_with_reference(got, want, what: str, kwargs: dict, adam: bool) -> tuple[list, list]:
    lrs, losses = _pair(got[what], what)
    want_lrs, want_losses = want[what]
    expect(len(lrs) == len(losses), f"{what}: lrs and losses must have the same length, got "
                                    f"{len(lrs)} and {len(losses)}.")
    start, end, n = kwargs["start_lr"], kwargs["end_lr"], kwargs["num_iters"]
    for i, (mine, theirs) in enumerate(zip(lrs, want_lrs)):
        expect_close(mine, theirs, what=f"{what}: learning rate of iteration {i}", rtol=1e-9,
                     hint="The rate must grow exponentially (a constant ratio from one iteration to "
                          f"the next): lr_i = start_lr · (end_lr / start_lr) ** (i / (num_iters - 1)), "
                          f"from {start:g} at i = 0 to {end:g} at i = {n - 1}.")
    for i, (mine, theirs) in enumerate(zip(losses, want_losses)):
        expect_close(mine, theirs, what=f"{what}: loss recorded at iteration {i}", rtol=1e-6, atol=1e-9,
                     hint="Record the smoothed loss: s_0 = loss_0, then s_i = 0.9·s_(i-1) + 0.1·loss_i, "
                          "where loss_i is the mini-batch loss computed (with rate lr_i set) before "
                          "that iteration's optimizer step. "
                          + ("Train with the optimizer passed in as `optimizer` (only its lr changes)."
                             if adam else
                             "With optimizer=None, train with plain SGD: torch.optim.SGD(model.parameters(), "
                             "lr=start_lr), no momentum."))
    if len(lrs) != len(want_lrs):
        fail(f"{what}: your range test ran {len(lrs)} iterations, the reference {len(want_lrs)}. "
             "Stop right after recording the first smoothed loss that is not finite or exceeds "
             "stop_factor × the lowest smoothed loss so far (that loss is recorded, then stop); "
             "without such a loss, run all num_iters iterations."
             + (" Use the optimizer passed in as `optimizer`." if adam else "")
             + (" 'Exceeds' is strict (s_i > stop_factor × min): with stop_factor=1.0 a smoothed "
                "loss equal to the lowest one (s_0 itself) does not stop the test."
                if kwargs["stop_factor"] == 1.0 else ""))
    return lrs, losses


def _equal(a: object, b: object) -> bool:
    """Plain data equal, tensors included (same shape and values)."""
    if type(a) is torch.Tensor or type(b) is torch.Tensor:
        return (type(a) is torch.Tensor and type(b) is torch.Tensor and a.shape == b.shape
                and a.dtype == b.dtype and torch.equal(a, b))
    if type(a) is dict and type(b) is dict:
        return set(a) == set(b) and all(_equal(a[key], b[key]) for key in a)
    if type(a) is list and type(b) is list:
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _same_state(before: dict, after: object, what: str, hint: str) -> None:
    expect(type(after) is dict and set(before) == set(after), f"{what}: the state_dict keys changed. {hint}")
    for key, value in before.items():
        now = after[key]
        if type(value) is torch.Tensor:
            expect(type(now) is torch.Tensor and now.shape == value.shape and torch.equal(now, value),
                   f"{what}: {key} is not what it was before the range test. {hint}")


RESTORE = ("Save copies before training (copy.deepcopy(model.state_dict()) and "
           "copy.deepcopy(optimizer.state_dict()): a plain state_dict() holds references to "
           "tensors that training changes) and load them back at the end, even after an early stop.")


def _check_module_restored(after: object, wanted: dict) -> None:
    """The caller's model comes back in the modes, with the requires_grad and the .grad it had
    (where it had none, a .grad of zeros is as good as none)."""
    where = "lr_range_test"
    expect(type(after) is dict and all(type(after.get(key)) is dict
                                       for key in ("training", "requires_grad", "grads")),
           f"{where}: the hidden tests could not read the model after the range test.")
    for name, training in wanted["training"].items():
        if after["training"].get(name) is not training:
            module = "the model" if name == "." else f"its module {name!r}"
            fail(f"{where} left {module} in {'train' if after['training'].get(name) else 'eval'} "
                 f"mode though the caller had put it in {'train' if training else 'eval'} mode: save "
                 "each module's mode before the test (model.training) and put it back at the end "
                 "(model.train(was_training)).")
    for name, flag in wanted["requires_grad"].items():
        expect(after["requires_grad"].get(name) is flag,
               f"{where} changed requires_grad of parameter {name!r}: leave it as the caller set it.")
    for name, grad in wanted["grads"].items():
        now = after["grads"].get(name, "missing")
        if grad is None and (now is None or (type(now) is torch.Tensor and not now.any())):
            continue
        if now is None:
            fail(f"{where} threw away the caller's gradient in .grad of parameter {name!r}: put "
                 "back each parameter's .grad as it was before the test (save them with "
                 "copy.deepcopy(p.grad) and assign them back at the end).")
        if not _equal(now, grad):
            fail(f"{where} left the last iteration's gradient in .grad of parameter {name!r} (the "
                 f"caller's model had {'no gradient' if grad is None else 'another one'}): put back "
                 "each parameter's .grad as it was before the test (save them with "
                 "copy.deepcopy(p.grad); for a model without gradients, model.zero_grad() at the "
                 "end), so that the caller's next optimizer step does not apply it.")


def test_lr_range_test(got, want):
    where = "lr_range_test"
    # Full batch, float64: every correct implementation gives the reference's numbers.
    for index, (what, _seed, kwargs, adam) in enumerate(RANGE_CASES):
        lrs, _ = _compare_with_reference(got, want, what, kwargs, adam)
        if index == 0:
            expect(len(lrs) < kwargs["num_iters"],
                   f"{where}: with end_lr=100 the loss explodes and the test should stop early.")

    # Mini-batches, batch norm, an optimizer with state: all restored afterwards.
    _, losses = _pair(got[RESTORE_CALL], RESTORE_CALL)
    _same_state(got[f"{RESTORE_CALL} model before"], got[f"{RESTORE_CALL} model after"],
                f"{where} left the model trained: after the range test its weights", RESTORE)
    before, after = got[f"{RESTORE_CALL} optimizer before"], got[f"{RESTORE_CALL} optimizer after"]
    expect(type(after) is dict and _equal(after.get("param_groups"), before["param_groups"]),
           f"{where} changed the optimizer's settings (its learning rate?): restore its state_dict. "
           f"{RESTORE}")
    after_state = after.get("state")
    for index, state in before["state"].items():
        expect(type(after_state) is dict and index in after_state,
               f"{where}: the optimizer lost its state (Adam's moments).")
        _same_state(state, after_state[index], f"{where}: the optimizer's state", RESTORE)
    expect(got[f"{RESTORE_CALL} same parameters"] is True,
           f"{where} replaced the model's parameters: load the saved state_dict into the same model "
           "(model.load_state_dict) so that optimizers keep pointing at its parameters.")
    expect(len(set(losses)) > 1, f"{where}: the losses never changed; train the model at each step.")

    _check_module_restored(got[f"{RESTORE_CALL} module after"], want[f"{RESTORE_CALL} module after"])

    # Default optimizer: the caller's model comes back unchanged too, modes and .grad included.
    _same_state(got[f"{DEFAULT_CALL} model before"], got[f"{DEFAULT_CALL} model after"],
                f"{where} (default optimizer) left the model trained: its weights", RESTORE)
    _check_module_restored(got[f"{DEFAULT_CALL} module after"], want[f"{DEFAULT_CALL} module after"])

    # A loss that turns NaN: stop there, the NaN recorded last.
    _, losses = _pair(got[NAN_CALL], NAN_CALL)
    last = _number(losses[-1]) if losses else None
    expect(len(losses) == NAN_FROM_CALL and last is not None and math.isnan(last),
           f"{where}: the loss became NaN at the 10th iteration; the range test should record it "
           f"and stop there (10 entries), but returned {len(losses)}. NaN > x is always False: "
           "test math.isfinite(loss) as well.")

    # Every default, on a scripted loss: the rates, the stop and the batch size.
    lrs, _ = _pair(got[DEFAULTS_CALL], DEFAULTS_CALL)
    want_lrs, _ = want[DEFAULTS_CALL]
    for i, (mine, theirs) in enumerate(zip(lrs, want_lrs)):
        expect_rate(mine, theirs, what=f"{DEFAULTS_CALL}: learning rate of iteration {i}", rtol=1e-9,
                    atol=0.0, hint="Keep the defaults of the signature: start_lr=1e-5, end_lr=10.0, "
                                   "num_iters=300.")
    expect(len(lrs) == len(want_lrs),
           f"{DEFAULTS_CALL}: the loss went from 1.0 to 40.0 at iteration {DEFAULTS_JUMP} (smoothed "
           f"4.9, above 4 × 1.0), where the default stop_factor=4.0 stops the test after "
           f"{len(want_lrs)} iterations; yours ran {len(lrs)}.")
    sizes = got[f"{DEFAULTS_CALL} batch sizes"]
    expect(sizes == want[f"{DEFAULTS_CALL} batch sizes"],
           f"{DEFAULTS_CALL}: loss_fn saw batches of {sizes} rows; with the default batch_size=32 "
           "every batch of 64 rows has 32.")


def _same_floats(a: object, b: list) -> bool:
    """Lists of floats equal, NaN equal to NaN."""
    return (type(a) is list and len(a) == len(b)
            and all(type(x) is type(y) and (x == y or (x != x and y != y)) for x, y in zip(a, b)))


def test_suggest_lr(got, want):
    for losses, description in SUGGEST_CASES:
        what = f"suggest_lr on {description}"
        finite = [i for i, loss in enumerate(losses) if math.isfinite(loss)]
        lowest = min(finite, key=lambda i: losses[i])
        value = got[what]
        if type(value) in (int, float) and math.isclose(value, SUGGEST_LRS[lowest], rel_tol=1e-9):
            fail(f"{what} returned the rate of the lowest loss itself; at that rate the loss is about "
                 "to climb. Return ten times less: lrs[i_min] / 10.")
        expect_close(value, want[what], what=what, rtol=1e-9,
                     hint="Find i_min, the index of the lowest finite loss (the first one on a tie; "
                          "skip NaN and inf, e.g. with math.isfinite), and return lrs[i_min] / 10.")
        after, wanted = got[f"{what} lists after"], want[f"{what} lists after"]
        for index, name in enumerate(("lrs", "losses")):
            mine = after[index] if type(after) is list and len(after) == 2 else None
            if not _same_floats(mine, wanted[index]):
                how = (f"{len(mine)} entries instead of {len(wanted[index])}" if type(mine) is list
                       and len(mine) != len(wanted[index]) else "its entries changed or moved")
                fail(f"{what} changed the caller's {name} list ({how}): read the lists without "
                     "modifying them (skip "
                     "non-finite losses as you scan, or filter into new lists), since the caller "
                     "still plots that curve.")


VALLEY_RULE = ("The valley is the longest run i < j with losses[k+1] < losses[k] for every k from i to "
               "j - 1; return (lrs[i], lrs[j]).")
NAN_HINT = ("A NaN is not lower than anything and nothing is lower than a NaN, so it ends the run: "
            "test losses[k+1] < losses[k] (False with a NaN), not the opposite of "
            "losses[k+1] >= losses[k].")
VALLEY_HINTS = {
    "a clean U": "Here the loss falls from the first point to the lowest one.",
    "a short early dip, then a longer descent": "Take the LONGEST falling run, not the first one.",
    "a long descent, then a one-step dip to the lowest loss":
        "The valley is the longest falling run, wherever the lowest loss lies: the deep dip is a run "
        "of one step.",
    "two equally long descents": "On a tie between equally long runs, return the first one.",
    "a plateau inside a descent":
        "Strictly falling: an equal loss is no fall, so a plateau ends the run (compare with <, "
        "not <=).",
    "a descent that runs to the last point":
        "The longest run may end at the last point: count the run still open when the loop ends.",
    "a zigzag (one-step falls only)":
        "A single falling step is a run of one step; on a tie, the first one.",
    "a descent in steps of 1e-9 (float64)":
        "Compare the losses as given (Python floats, float64): in float32 steps of 1e-9 vanish.",
}


def _positions(pair: list, lrs: list[float]) -> list[int | None]:
    """Where each returned value sits in lrs (None if it is not one of the rates)."""
    return [next((i for i, lr in enumerate(lrs) if _number(value) == lr), None) for value in pair]


def _expect_valley(got, want, description: str) -> None:
    what = valley_what(description)
    mine, wanted = got[what], want[what]
    expect(type(mine) is list and len(mine) == 2,
           f"{what}: return a pair (lrs[i], lrs[j]), got {_kind(mine)}"
           f"{f' of length {len(mine)}' if type(mine) is list else ''}.")
    if all(_number(value) == expected for value, expected in zip(mine, wanted)):
        return
    losses = next(losses for name, losses, _ in VALLEY_CASES if name == description)
    lrs = valley_lrs(len(losses))
    i, j = (lrs.index(value) for value in wanted)
    expected = f"(lrs[{i}], lrs[{j}]) = ({wanted[0]:.6g}, {wanted[1]:.6g})"
    if [type(value) for value in mine] == [int, int] and mine == [i, j]:
        fail(f"{what}: got the indices ({i}, {j}); return the rates there, {expected}.")
    start, end = _positions(mine, lrs)
    shown = ", ".join(_show(value) for value in mine)
    if start is None or end is None:
        fail(f"{what}: got ({shown}), which are not both rates of lrs; expected {expected}. "
             f"{VALLEY_RULE}")
    hint = VALLEY_HINTS.get(description.removeprefix("tuples: "), "")
    if any(math.isnan(loss) for loss in losses[min(start, i):max(end, j) + 1]):
        hint = NAN_HINT
    elif start == i and end == j + 1:
        hint = ("Your valley ends one point late, where the loss no longer falls: it ends at lrs[j], "
                "the last point of the run (its lowest loss).")
    elif start == i and end == j - 1:
        hint = "Your valley stops one point early: it ends at lrs[j], after the last falling step."
    fail(f"{what}: got (lrs[{start}], lrs[{end}]), expected {expected}. {VALLEY_RULE} {hint}".strip())


def test_loss_valley(got, want):
    for description, _losses, _as_tuples in VALLEY_CASES:
        _expect_valley(got, want, description)
    for description, _lrs, _losses in VALLEY_ERRORS:
        raised = got[f"raises on {description}"]
        message = (f"loss_valley on {description} should raise ValueError: the lengths must match, "
                   "there must be at least 2 points, and at least one loss must fall below the one "
                   "before it.")
        if type(raised) is list and raised and "ValueError" not in raised:
            fail(f"{message} (it raised {raised[0]})")
        expect(type(raised) is list and "ValueError" in raised, message)


# ---------------------------------------------------------------- schedules of the step


def test_power_schedule(got, want):
    hint = "η(t) = η0 / (1 + t/s)^c: the power c applies to the whole (1 + t/s)."
    for lr0, s, c in POWER_CASES:
        what = power_what(lr0, s, c)
        expect_schedule(got, want, what, what=what, scale=lr0, hint=hint)
    lr0, s, _ = POWER_DEFAULT
    what = f"power_schedule(t, {lr0}, {s}) (default c)"
    expect_schedule(got, want, what, what=what, scale=lr0, hint="The default is c = 1.0.")


def test_exponential_schedule(got, want):
    for lr0, gamma in EXPONENTIAL_CASES:
        what = exponential_what(lr0, gamma)
        mine, _ = _sequence(got, want, what, what)
        first = mine[0]
        if gamma != 1.0 and type(first) in (int, float) and math.isclose(first, lr0 * gamma):
            fail(f"exponential_schedule(0, {lr0}, {gamma}) returned lr0 · gamma: gamma is applied once "
                 "too often. At t = 0 the rate is lr0 itself; after t steps it is lr0 · gamma**t.")
        expect_schedule(got, want, what, what=what, scale=lr0,
                        hint="ExponentialLR multiplies the rate by gamma at every step: lr0 · gamma**t.")


def test_piecewise_constant(got, want):
    hint = ("Like MultiStepLR, the rate switches AT each boundary: values[i] for "
            "boundaries[i-1] <= t < boundaries[i] (values[0] before the first boundary, values[-1] "
            "from the last one on).")
    for what, _boundaries, values, _steps in PIECEWISE_CASES:
        expect_schedule(got, want, what, what=what, scale=values[0], hint=hint)


def test_cosine_annealing(got, want):
    for t_max, lr_max, lr_min in COSINE_CASES:
        what = cosine_what(t_max, lr_max, lr_min)
        expect_schedule(got, want, what, what=what, scale=lr_max,
                        hint="Eq. 11-10: η_min + (η_max − η_min)(1 + cos(π t / T)) / 2 with T = t_max: "
                             "the rate reaches lr_min exactly at t = t_max (not at t_max − 1).")
    t_max, lr_max = COSINE_DEFAULT
    what = f"cosine_annealing(t, {t_max}, {lr_max}) (default lr_min)"
    expect_schedule(got, want, what, what=what, scale=lr_max, hint="The default is lr_min = 0.0.")


def test_warmup_linear(got, want):
    for lr, start_factor, total_iters in WARMUP_CASES:
        what = warmup_what(lr, start_factor, total_iters)
        expect_schedule(got, want, what, what=what, scale=lr,
                        hint="LinearLR: the factor goes linearly from start_factor at t = 0 to 1 at "
                             "t = total_iters, then stays at 1 (the rate stays at lr).")


@functools.cache
def _restart_points(t_0: int, t_mult: int, steps: int) -> tuple[tuple[int, int], ...]:
    """(T_cur, T_i) of PyTorch's CosineAnnealingWarmRestarts at steps 0 .. steps-1."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = lr_scheduler.CosineAnnealingWarmRestarts(optimizer, t_0, t_mult)
    points = []
    for _ in range(steps):
        points.append((scheduler.T_cur, scheduler.T_i))
        optimizer.step()
        scheduler.step()
    return tuple(points)


def _expect_restarts(got, want, key: str, args: tuple, *, what: str, hint: str) -> None:
    t_0, t_mult, lr_max, lr_min = args
    mine, theirs = _sequence(got, want, key, what)
    calls = got[f"{key} calls"]
    expect(type(calls) is list and len(calls) == len(mine), f"{what}: the hidden tests did not record "
                                                            "the calls to cosine_annealing.")
    tolerance = {"rtol": RTOL, "atol": 1e-12 * lr_max}
    points = _restart_points(t_0, t_mult, len(mine))
    for t, (value, expected, made, (t_cur, t_i)) in enumerate(zip(mine, theirs, calls, points)):
        if _close(value, expected, **tolerance):
            continue
        if made:
            if _close(value, CosineStandIn()(t_cur, t_i, lr_max, lr_min), **tolerance):
                continue
            shown = ", ".join(_show(arg) for arg in made[-1])
            fail(f"{what} at t={t}: your code called cosine_annealing({shown}) and returned "
                 f"{_show(value)}. At this step T_cur = {t_cur} steps have passed since the last "
                 f"restart, in a cycle of T_i = {t_i} steps: the rate is cosine_annealing({t_cur}, "
                 f"{t_i}, {lr_max}, {lr_min}). {hint} {STAND_IN}")
        expect_rate(value, expected, what=f"{what} at t={t}", hint=hint, **tolerance)


def test_cosine_warm_restarts(got, want):
    hint = ("The cycles last t_0, t_0·t_mult, t_0·t_mult², ... steps: subtract each finished cycle's "
            "length from t and multiply the length by t_mult, then anneal with T_cur (steps since "
            "the restart) over T_i (this cycle's length).")
    for args in RESTART_CASES:
        what = restart_what(*args)
        _expect_restarts(got, want, what, args, what=what, hint=hint)
    t_0, t_mult, lr_max, _ = RESTART_DEFAULT
    what = f"cosine_warm_restarts(t, {t_0}, {t_mult}, {lr_max}) (default lr_min)"
    _expect_restarts(got, want, what, (t_0, t_mult, lr_max, 0.0), what=what,
                     hint="The default is lr_min = 0.0.")


class _OneCycleWithStandIn(lr_scheduler.OneCycleLR):
    """PyTorch's 1cycle with the stand-in's curve where it anneals by cosine."""

    @staticmethod
    def _annealing_cos(start, end, pct):
        return end + (start - end) * smoothstep_profile(pct)


@functools.cache
def _one_cycle_with_stand_in(total: int, max_lr: float, options: tuple) -> tuple[tuple[float, float], ...]:
    """(lr, momentum) at each step of OneCycleLR annealing along the stand-in's curve."""
    if "_annealing_cos" not in vars(lr_scheduler.OneCycleLR):
        raise RuntimeError("torch.optim.lr_scheduler.OneCycleLR no longer anneals through "
                           "_annealing_cos: update the lab 07 check of one_cycle.")
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    scheduler = _OneCycleWithStandIn(optimizer, max_lr, total_steps=total, **dict(options))
    sequence = []
    for _ in range(total):
        sequence.append((float(scheduler.get_last_lr()[0]), float(optimizer.param_groups[0]["momentum"])))
        optimizer.step()
        scheduler.step()
    return tuple(sequence)


def test_one_cycle(got, want):
    phases = ("As OneCycleLR: initial_lr = max_lr / div_factor, min_lr = initial_lr / "
              "final_div_factor; phase 1 ends at step pct_start·total_steps − 1 (three_phase: phase 2 "
              "at 2·pct_start·total_steps − 2), the last phase at total_steps − 1; within a phase, "
              "pct = (t − phase start) / (phase end − phase start), annealed by cosine or linearly.")
    direction = ("1cycle moves the momentum AGAINST the learning rate: from max_momentum down to "
                 "base_momentum while the rate rises, then back up to max_momentum while it falls "
                 "(three_phase: it stays at max_momentum in the last phase), between the "
                 "base_momentum and max_momentum passed in (the hidden tests pass values other than "
                 "0.85 and 0.95).")
    using = ("Your one_cycle calls cosine_annealing: within a phase, the value is "
             "cosine_annealing(t − phase start, phase end − phase start, value at the start, value "
             f"at the end). {STAND_IN}")
    for total, max_lr, options in ONE_CYCLE_CASES:
        what = one_cycle_what(total, max_lr, options)
        mine, theirs = _sequence(got, want, what, what)
        calls = got[f"{what} calls"]
        expect(type(calls) is list and len(calls) == len(mine),
               f"{what}: the hidden tests did not record the calls to cosine_annealing.")
        stand_in = None
        for t, (pair, expected, made) in enumerate(zip(mine, theirs, calls)):
            expect(type(pair) is list and len(pair) == 2,
                   f"{what} must return a pair (lr, momentum), got {_kind(pair)} at t={t}.")
            if made and stand_in is None:
                stand_in = _one_cycle_with_stand_in(total, max_lr, tuple(options.items()))
            for index, name, atol, hint in ((0, "learning rate", 1e-12 * max_lr, phases),
                                            (1, "momentum", 1e-12, direction)):
                tolerance = {"rtol": RTOL, "atol": atol}
                if _close(pair[index], expected[index], **tolerance):
                    continue
                if made:  # compare with the stand-in's 1cycle, the one the student's code followed
                    expect_rate(pair[index], stand_in[t][index], what=f"{what}: {name} at t={t}",
                                hint=f"{hint} {using}", **tolerance)
                    continue
                expect_rate(pair[index], expected[index], what=f"{what}: {name} at t={t}", hint=hint,
                            **tolerance)


# ---------------------------------------------------------------- performance scheduling


def test_plateau_scheduler(got, want):
    hint = ("The rates are cut when num_bad_epochs EXCEEDS patience, for every parameter group, "
            "never below min_lr; an improvement must beat best by the relative threshold "
            "(best · (1 − threshold) in 'min' mode, best · (1 + threshold) in 'max' mode); "
            "num_bad_epochs goes back to 0 after an improvement and after a cut.")
    for case, (options, metrics, _lrs, poke, _as_tensor) in enumerate(PLATEAU_CASES):
        what = plateau_what(options)
        names = ("rates", "num_bad_epochs", "best")
        rates, counters, bests = (got[f"plateau {case} {name}"] for name in names)
        want_rates, want_counters, want_bests = (want[f"plateau {case} {name}"] for name in names)
        expect(all(type(seen) is list and len(seen) == len(metrics) for seen in (rates, counters, bests)),
               f"{what}: the hidden tests did not record every step.")
        case_hint = hint + (" Read each group's current 'lr' when you cut it: it may have been changed "
                            "since." if poke else "")
        if options.get("threshold") == 0.0:
            case_hint += " With threshold=0, a metric equal to best is no improvement (strict < or >)."
        built, want_built = got[f"plateau {case} built"], want[f"plateau {case} built"]
        expect(type(built) is list and len(built) == 2 and _number(built[0]) == want_built[0],
               f"{what}: before any step, num_bad_epochs is "
               f"{built[0] if type(built) is list and built else built!r}; it should be 0.")
        expect(type(built[1]) in (int, float) and float(built[1]) == want_built[1],
               f"{what}: before any step, best is {built[1]!r}; it should be {want_built[1]} "
               "(no metric seen yet).")
        for epoch, metric in enumerate(metrics, start=1):
            mine, theirs = rates[epoch - 1], want_rates[epoch - 1]
            expect(type(mine) is list and len(mine) == len(theirs)
                   and all(_close(a, b, rtol=1e-12, atol=0.0) for a, b in zip(mine, theirs)),
                   f"{what}: after step {epoch} (metric {metric:.4g}) the group rates are "
                   f"{[_show(r) for r in mine] if type(mine) is list else mine}, PyTorch's "
                   f"ReduceLROnPlateau gives {[f'{r:.4g}' for r in theirs]}. {case_hint}")
            counter, expected = counters[epoch - 1], want_counters[epoch - 1]
            expect(_number(counter) == expected,
                   f"{what}: after step {epoch}, num_bad_epochs is {counter!r}, "
                   f"PyTorch's is {expected}. {case_hint}")
            best, expected = bests[epoch - 1], want_bests[epoch - 1]
            expect(type(best) in (int, float) and math.isclose(float(best), expected, rel_tol=1e-9),
                   f"{what}: after step {epoch}, best is {best!r}, PyTorch's is {expected}.")
    for options in BAD_OPTIONS:
        raised = got[f"raises with {options}"]
        message = (f"ReduceLROnPlateauScratch(optimizer, **{options}) should raise ValueError: "
                   "mode is 'min' or 'max', and factor lies strictly between 0 and 1.")
        if type(raised) is list and raised and "ValueError" not in raised:
            fail(f"{message} (it raised {raised[0]})")
        expect(type(raised) is list and "ValueError" in raised, message)


# ---------------------------------------------------------------- random search


def _params_of(trials: object, what: str) -> list:
    expect(type(trials) is list and all(type(entry) is dict and "params" in entry for entry in trials),
           f"{what} must return a list of trials, each a dict with 'params'.")
    return [entry["params"] for entry in trials]


def test_random_search(got, want):
    n = SEARCH_TRIALS
    trials, kind = got[SEARCH_CALL], got[f"{SEARCH_CALL} type"]
    calls = got[f"{SEARCH_CALL} train_fn calls"]
    expect(len(calls) == n, f"random_search must call train_fn once per trial: {n} calls "
                            f"expected, got {len(calls)}.")
    expect(kind == "list" and type(trials) is list and len(trials) == n,
           f"random_search must return a list of {n} trials, got {kind} "
           f"of length {len(trials) if type(trials) is list else '?'}.")
    for entry in trials:
        expect(type(entry) is dict and {"trial", "params", "score"} <= set(entry),
               "each trial must be a dict with the keys 'trial', 'params' and 'score'.")
        expect(type(entry["params"]) is dict and set(entry["params"]) == set(SPACE),
               "each trial's 'params' must be a dict with one value per key of the space.")
    numbers = [entry["trial"] for entry in trials]
    expect(all(type(number) is int for number in numbers) and sorted(numbers) == list(range(n)),
           "'trial' must number the trials 0, 1, ... in the order train_fn evaluated them.")
    for entry in trials:
        evaluated = calls[entry["trial"]]
        expect(entry["params"] == evaluated,
               f"trial {entry['trial']}: its 'params' are not what train_fn was called with.")
        expect_close(entry["score"], search_score(evaluated), what=f"score of trial {entry['trial']}",
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
    again, twice, other = (_params_of(got[f"seed {name}"], f"random_search(..., seed={seed})")
                           for name, seed in (("again", 7), ("twice", 7), ("other", 8)))
    expect(again == twice, "the same seed must give the same trials: draw from your own generator "
                           "seeded with `seed` (random.Random(seed)).")
    drawn, wanted = got["global generators after"], want["global generators after"]
    for name, value in wanted.items():
        mine = drawn.get(name) if type(drawn) is dict else None
        expect(type(mine) is float and mine == value,
               f"random_search reseeded or drew from the caller's global {name} generator "
               f"({_GLOBAL_SEEDING[name]}): draw only from a generator of your own, "
               "rng = random.Random(seed), and leave the global ones as the caller seeded them.")
    expect(again != other, "different seeds should give different trials: seed your generator with `seed`.")
    default, zero = (_params_of(got[f"seed {name}"], what) for name, what in
                     (("default", "random_search(...)"), ("zero", "random_search(..., seed=0)")))
    expect(default == zero, "random_search without a seed gave other trials than with seed=0: keep "
                            "the signature's default, seed=0.")


# ---------------------------------------------------------------- concept questions


def test_q1_exponential_gamma(got, want):
    answer = got["answer"]
    expect(type(answer) in (int, float), "Q1: answer with a number.")
    expect(math.isclose(float(answer), want["answer"], rel_tol=1e-3),
           f"Q1: {answer} is not right (answers within 0.1% count: give three decimals).")


test_q2_one_cycle_momentum = choice_question("Q2")
test_q3_plateau_lr = number_question("Q3")
test_q4_random_vs_grid = choice_question("Q4")


def _derived_rate(question: str):
    """The check of a learning rate derived by hand: within 0.1%, which tells it from the rates
    of the usual slips (a step off, a cycle boundary, linear for cosine, min_lr forgotten)."""

    def check(got, want):
        answer = got["answer"]
        expect(type(answer) in (int, float), f"{question}: answer with a number.")
        expect(math.isclose(float(answer), want["answer"], rel_tol=1e-3),
               f"{question}: {answer} is not right (answers within 0.1% count: give four "
               "significant digits).")

    return check


test_q5_warm_restarts_lr = _derived_rate("Q5")
test_q6_one_cycle_lr = _derived_rate("Q6")


def _kind(value: object) -> str:
    if type(value) is dict and set(value) == {"type"}:
        return str(value["type"])
    return type(value).__name__
