"""Checks of lab 04, Gradient clipping: one per grade cell, named after it, reading the records of
the probes in autograder/probes/lab04_gradient_clipping.py (the student's as `got`, the
reference's as `want`).

The clipped gradients are compared with the reference's on the same gradients (the reference
clips exactly as `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_` do). For `train_step`
both records were made with the same stand-ins for the clipping functions; this batch's
unclipped gradients, which tell "clipped too late" from other mistakes, are computed here from
the probe's public model and batch.

Then each exercise's contracts (`NORM_CONTRACTS`, `VALUE_CONTRACTS`, `STEP_CONTRACT_HINTS`, keyed
like the probe's tables): with no gradient at all clip_grad_norm returns 0 and changes nothing;
on float64 gradients the clipped values match the reference's to float64 precision and the
returned norm is float64 (or a Python float); train_step applies both clipping options when both
are given (in either order), treats max_norm=0.0 as a value (not as "no clipping"), skips frozen
parameters, keeps float64 precision in its norms and leaves the model's modes and requires_grad
flags as they were.

`divergence_fraction` must return, on each of the probe's grader-made sets of runs, exactly the
reference's fraction (each trap has its hint in `DIVERGENCE_HINTS`; a count, a percentage, the
fraction that did not diverge and a fraction computed in float32 are named as such), and raise
ValueError for an empty list of runs and for an empty history.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import nn

from autograder.checks.core import (
    Observed,
    choice_question,
    expect,
    expect_close,
    fail,
    number,
    number_question,
)
from autograder.probes.lab04_gradient_clipping import (
    CLIP_CONTRACTS,
    DIVERGENCE_CASES,
    DIVERGENCE_EMPTY,
    NORM_ABOVE_CASES,
    NORM_BELOW_CASE,
    STEP_CASES,
    STEP_CONTRACTS,
    VALUE_CASES,
    Runs,
    StepContract,
    divergence_key,
    norm_key,
    step_key,
    step_model,
    value_key,
)

GLOBAL_HINT = ("Multiply every gradient by the same factor max_norm / (total_norm + 1e-6), clamped "
               "to 1, where total_norm is the L2 norm of all gradients together (as if they were "
               "concatenated into one vector: the square root of the sum of every squared entry), "
               "not each parameter's own norm.")
SINGLE_TENSOR_HINT = ("`parameters` may be a single tensor, as in PyTorch: treat it as [tensor] "
                      "(isinstance(parameters, torch.Tensor)); iterating over a tensor gives its "
                      "rows, which have no .grad.")


def _is_grad(value: object) -> bool:
    return type(value) is torch.Tensor


def _same_grads(got: object, expected: list, rtol: float = 1e-5, atol: float = 1e-7) -> bool:
    """Whether `got` (a recorded list of gradients) matches `expected`; a zero gradient counts
    as no gradient where none is expected."""
    if type(got) is not list or len(got) != len(expected):
        return False
    for mine, theirs in zip(got, expected):
        if theirs is None:
            if mine is not None and not (_is_grad(mine) and not bool(mine.abs().sum() > 0)):
                return False
            continue
        if not _is_grad(mine) or mine.shape != theirs.shape:
            return False
        if not torch.allclose(mine.double(), theirs.double(), rtol=rtol, atol=atol):
            return False
    return True


def _global_norm(grads: object) -> float:
    present = [g for g in grads if _is_grad(g)] if type(grads) is list else []
    return float(torch.sqrt(sum((g.double() ** 2).sum() for g in present))) if present else 0.0


def _single_tensor_call(got: Observed, key: str) -> object:
    """`got[key]`; a crash there gets the hint that a single tensor is not a list."""
    stopped = got.stopped
    if key not in got and stopped is not None and stopped["key"] == key:
        message = stopped["message"]
        if not any(part in message for part in ("PyTorch's clipping", "not call torch",
                                                "is not implemented yet")):
            fail(f"{message}. {SINGLE_TENSOR_HINT}")
    return got[key]


def _contract_call(got: Observed, key: str, hint: str) -> object:
    """`got[key]`; a crash there fails with its message and `hint` (what to do instead)."""
    stopped = got.stopped
    if key not in got and stopped is not None and stopped["key"] == key:
        fail(f"{stopped['message'].rstrip('.')}: {hint}")
    return got[key]


def _relative_error(mine: object, theirs: list) -> float:
    """The largest relative difference between two recorded lists of gradients (inf if they
    cannot be compared)."""
    if type(mine) is not list or len(mine) != len(theirs):
        return math.inf
    worst = 0.0
    for a, b in zip(mine, theirs):
        if b is None or a is None:
            if a is not b:
                return math.inf
            continue
        if not _is_grad(a) or a.shape != b.shape:
            return math.inf
        scale = b.double().abs().max().item() or 1.0
        worst = max(worst, (a.double() - b.double()).abs().max().item() / scale)
    return worst


FLOAT64_RTOL = 1e-10  # float64 arithmetic differs by ~1e-16; a float32 step in it by ~1e-8


def _no_gradient(got: Observed, want: Observed, key: str) -> None:
    returned = _contract_call(got, key, "with no gradients there is nothing to clip, so return a "
                                        "total norm of 0 (torch.tensor(0.0), as PyTorch does) "
                                        "instead of stacking an empty list.")
    expect(type(returned) in (int, float) or (_is_grad(returned) and returned.numel() == 1
                                              and bool(returned == 0)),
           f"{key} returned {returned!r:.60}: with no gradients return a total norm of 0 "
           "(torch.tensor(0.0), as PyTorch does).")
    expect(number(returned, what=key) == 0,
           f"{key} returned {number(returned, what=key):.3g}: with no gradients return a total "
           "norm of 0 (torch.tensor(0.0), as PyTorch does).")
    expect(_same_grads(got[f"{key} grads"], want[f"{key} grads"]),
           f"{key} gave parameters a gradient: leave .grad None where it is None.")


def _float64_norm(got: Observed, want: Observed, key: str) -> None:
    returned = _contract_call(got, key, "it must work on float64 gradients too.")
    error = _relative_error(got[f"{key} grads"], want[f"{key} grads"])
    expect(error <= FLOAT64_RTOL,
           f"{key} scaled the gradients {error:.2g} (relative) away from PyTorch's: compute the "
           "norm and the factor in the gradients' own dtype (float64 here), not in a float32 "
           "tensor such as torch.zeros(()) or torch.tensor(a Python float).")
    expect(not _is_grad(returned) or returned.dtype == torch.float64,
           f"{key} returned a {returned.dtype if _is_grad(returned) else ''} total norm: compute it "
           "from the gradients so that it keeps their dtype (float64 here), as PyTorch does, not "
           "with torch.tensor(a Python float) or torch.zeros(...).")
    expect_close(returned, number(want[key], what="the reference's norm"),
                 what=f"{key}: the returned total norm", rtol=FLOAT64_RTOL,
                 hint="Compute it in the gradients' dtype (float64 here), not in float32.")


def _float64_value(got: Observed, want: Observed, key: str) -> None:
    _contract_call(got, key, "it must work on float64 gradients too.")
    error = _relative_error(got[f"{key} grads"], want[f"{key} grads"])
    expect(error <= FLOAT64_RTOL,
           f"{key} left gradient entries {error:.2g} (relative) away from exactly -0.1 or 0.1: clamp "
           "with Python numbers (p.grad.clamp_(-clip_value, clip_value)) or limits in the "
           "gradient's dtype (torch.full_like), not with a float32 torch.full(...) or "
           "torch.tensor(clip_value).")


# Each clipping exercise's contracts, keyed like the probe's CLIP_CONTRACTS.
NORM_CONTRACTS = {"float64": _float64_norm, "no gradient": _no_gradient}
VALUE_CONTRACTS = {"float64": _float64_value}


def _check_contracts(got: Observed, want: Observed, exercise: str,
                     table: dict[str, Callable[[Observed, Observed, str], None]]) -> None:
    for contract in CLIP_CONTRACTS[exercise]:
        table[contract.name](got, want, contract.key)


def test_clip_grad_norm(got, want):
    # 1. Gradients well above max_norm, given as a list.
    for _, _, max_norm in NORM_ABOVE_CASES:
        where = norm_key(max_norm)
        returned = got[where]
        mine = got[f"{where} grads"]
        if not _same_grads(mine, want[f"{where} grads"]):
            if _same_grads(mine, want[f"{where} grads before"]):
                fail(f"{where}: the gradients did not change. Scale them in place "
                     "(g.mul_(clip_coef), or p.grad = p.grad * clip_coef): scaling a copy "
                     "leaves p.grad as it was.")
            fail(f"{where}: the clipped gradients differ from torch.nn.utils.clip_grad_norm_'s "
                 f"(global norm after clipping: {_global_norm(mine):.4g}, expected {max_norm:g}). "
                 + GLOBAL_HINT)
        expect(returned is not None,
               f"{where} returned None: return the total norm measured before clipping.")
        expect_close(returned, number(want[where], what="the reference's norm"),
                     what=f"{where}: the returned total norm", rtol=1e-5,
                     hint="Return the global norm measured BEFORE clipping, as PyTorch does "
                          "(it tells you how large the gradients really were).")
    # 2. Gradients below max_norm stay as they are.
    max_norm = NORM_BELOW_CASE[2]
    key = norm_key(max_norm)
    before = want[f"{key} grads before"]
    norm = _global_norm(before)
    where = f"clip_grad_norm(params, max_norm={max_norm:.3g}) with a total norm of {norm:.3g}"
    returned = got[key]
    expect(_same_grads(got[f"{key} grads"], before, rtol=1e-6, atol=0),
           f"{where}: the gradients changed, but their norm was already below max_norm. The "
           "factor max_norm / (total_norm + 1e-6) must be clamped to at most 1: clipping only "
           "ever scales gradients down.")
    expect_close(returned, norm, what=f"{where}: the returned total norm", rtol=1e-5)
    # 3. A generator, as model.parameters() gives, can be iterated only once.
    where = "clip_grad_norm(model.parameters(), 1.0)"
    got[where]
    expect(_same_grads(got[f"{where} grads"], want[f"{where} grads"]),
           f"{where} did not clip like torch.nn.utils.clip_grad_norm_. model.parameters() is a "
           "generator: it can be iterated only once, so collect the gradients in a list first "
           "(grads = [p.grad for p in parameters if p.grad is not None]).")
    # 4. A single tensor.
    where = "clip_grad_norm(a single tensor, 1.0)"
    returned = _single_tensor_call(got, where)
    expect(_same_grads([got[f"{where} grad"]], [want[f"{where} grad"]]),
           "clip_grad_norm(tensor, max_norm) with a single tensor must clip that tensor's "
           "gradient: treat a tensor as [tensor] (iterating over a tensor gives its rows, "
           "which have no .grad).")
    expect_close(returned, number(want[where], what="the reference's norm"),
                 what=f"{where}: the returned total norm", rtol=1e-5)
    # 5. A tiny norm, where the 1e-6 in PyTorch's formula shows.
    where = "clip_grad_norm([p], 5e-7)"
    got[where]
    mine, theirs = got[f"{where} grad"], want[f"{where} grad"]
    if not _same_grads([mine], [theirs], rtol=1e-4, atol=0):
        shown = [f"{v:.3g}" for v in mine.tolist()] if _is_grad(mine) else repr(mine)
        fail(f"clip_grad_norm([p], 5e-7) with a gradient of norm 1e-06: got {shown}, PyTorch "
             f"gives {[f'{v:.3g}' for v in theirs.tolist()]}. Use PyTorch's exact factor, "
             "clip_coef = max_norm / (total_norm + 1e-6) clamped to 1: the 1e-6 keeps the "
             "division safe and matters when the norm is tiny.")
    # 6. The contracts.
    _check_contracts(got, want, "clip_grad_norm", NORM_CONTRACTS)


def test_clip_grad_value(got, want):
    for _, _, clip_value in VALUE_CASES:
        where = value_key(clip_value)
        got[where]
        parameters, expected = got[f"{where} parameters"], want[f"{where} parameters"]
        expect(type(parameters) is list and len(parameters) == len(expected)
               and all(_is_grad(p) and p.shape == q.shape and torch.equal(p, q)
                       for p, q in zip(parameters, expected)),
               f"{where} changed the parameters themselves: clip their gradients "
               "(p.grad), and leave the values (p.data) to the optimizer.")
        mine = got[f"{where} grads"]
        if _same_grads(mine, want[f"{where} grads"], rtol=0, atol=1e-7):
            continue
        if _same_grads(mine, want[f"{where} grads before"], rtol=0, atol=0):
            fail(f"{where}: the gradients did not change. Clamp them in place (p.grad.clamp_(...)) "
                 "or assign the result back to p.grad: clamping a copy leaves p.grad as it was.")
        present = [g for g in mine if _is_grad(g) and g.numel()] if type(mine) is list else []
        if present and min(g.min().item() for g in present) < -clip_value * (1 + 1e-6):
            fail(f"{where}: some gradient entries are still below -{clip_value} (smallest "
                 f"{min(g.min().item() for g in present):.3g}). Clip both ends: every entry "
                 f"must end within [-clip_value, clip_value] (clamp(min=-clip_value, "
                 "max=clip_value)).")
        fail(f"{where}: the clipped gradients differ from torch.nn.utils.clip_grad_value_'s. "
             "Clamp each entry to [-clip_value, clip_value] and leave the others unchanged.")
    where = "clip_grad_value(model.parameters(), 0.1)"
    got[where]
    expect(_same_grads(got[f"{where} grads"], want[f"{where} grads"], rtol=0, atol=1e-7),
           f"{where} did not clip like torch.nn.utils.clip_grad_value_: it must accept a "
           "generator such as model.parameters().")
    where = "clip_grad_value(a single tensor, 1.0)"
    _single_tensor_call(got, where)
    mine, theirs = got[f"{where} grad"], want[f"{where} grad"]
    expect(_is_grad(mine) and mine.shape == theirs.shape and torch.equal(mine, theirs),
           "clip_grad_value(tensor, clip_value) with a single tensor must clamp that tensor's "
           "gradient: treat a tensor as [tensor].")
    _check_contracts(got, want, "clip_grad_value", VALUE_CONTRACTS)


ORDER = ("Order matters: forward, loss.backward() (fills the gradients), clipping, "
         "optimizer.step() (uses them), optimizer.zero_grad().")
OUT_KEYS = ("loss", "grad_norm_before", "grad_norm_after")


def _fresh_gradients(seed: int, dtype: torch.dtype = torch.float32,
                     frozen: bool = False) -> list[torch.Tensor | None]:
    """This batch's gradients, before any clipping: one backward pass of the probe's model."""
    model, X, y = step_model(seed, dtype, frozen)
    twin = copy.deepcopy(model)
    nn.CrossEntropyLoss()(twin(X), y).backward()
    return [None if p.grad is None else p.grad.detach().clone() for p in twin.parameters()]


def _as_float(value: object, what: str) -> float:
    if type(value) is bool or not (type(value) in (int, float)
                                   or (type(value) is torch.Tensor and value.numel() == 1)):
        fail(f"{what} must be a number (a float or a one-element tensor), got "
             f"{_kind(value)}.")
    return number(value, what=what)


def _kind(value: object) -> str:
    if isinstance(value, dict) and set(value) == {"type"}:
        return str(value["type"])
    return type(value).__name__


def _stepped(got: Observed, key: str, where: str) -> tuple[dict, list]:
    """The dict train_step returned and the gradients its one step() saw; fails on the basics."""
    out = got[key]
    expect(type(out) is dict and set(OUT_KEYS) <= set(out),
           f"{where} must return a dict with the keys 'loss', 'grad_norm_before' and "
           f"'grad_norm_after', got {out!r:.120}.")
    steps = got[f"{key} steps"]
    expect(steps == 1, f"{where} called optimizer.step() {steps} times: call it exactly once.")
    after = got[f"{key} grads after"]
    expect(type(after) is list
           and not any(_is_grad(g) and bool(g.abs().sum() > 0) for g in after),
           f"{where} left non-zero gradients behind: end the step with optimizer.zero_grad(), "
           "after optimizer.step(), so the next call starts from clean gradients.")
    return out, got[f"{key} seen by step()"]


def _expect_out(out: dict, want_out: dict, name: str, where: str, rtol: float, hint: str = "") -> None:
    expect_close(_as_float(out[name], f"out[{name!r}]"), number(want_out[name], what=name),
                 what=f"{where}: out[{name!r}]", rtol=rtol, hint=hint)


def test_train_step(got, want):
    # 1. No clipping: step() must see this batch's gradients, and nothing else.
    key = step_key(STEP_CASES[0][1])
    out, seen = _stepped(got, key, key)
    _expect_out(out, want[key], "loss", key, 1e-5,
                "Return the loss of this batch, computed in this step's forward pass.")
    if not _same_grads(seen, want[f"{key} seen by step()"]):
        if type(seen) is not list or all(g is None or not _is_grad(g) or not bool(g.abs().sum() > 0)
                                         for g in seen):
            fail(f"{key}: optimizer.step() saw no gradients (all None or zero). {ORDER}")
        fail(f"{key}: optimizer.step() did not see the gradients of this batch. {ORDER}")
    for name in ("grad_norm_before", "grad_norm_after"):
        _expect_out(out, want[key], name, key, 1e-4,
                    "Without clipping, both are the global L2 norm of all the gradients after "
                    "backward().")
    # 2. Norm clipping well below the norm: step() must see the clipped gradients.
    seed, clipping = STEP_CASES[1]
    key, max_norm = step_key(clipping), clipping["max_norm"]
    fresh = _fresh_gradients(seed)
    where = f"train_step(..., max_norm={max_norm:.3g}) with a gradient norm of {_global_norm(fresh):.3g}"
    out, seen = _stepped(got, key, where)
    if not _same_grads(seen, want[f"{key} seen by step()"]):
        if _same_grads(seen, fresh):
            fail(f"{where}: optimizer.step() used the unclipped gradients. Clip after "
                 f"loss.backward() and before optimizer.step(). {ORDER}")
        fail(f"{where}: optimizer.step() did not see the gradients clipped to norm {max_norm:.3g}. "
             f"Call clip_grad_norm(model.parameters(), max_norm) once, between loss.backward() "
             f"and optimizer.step().")
    _expect_out(out, want[key], "grad_norm_before", where, 1e-4,
                "grad_norm_before is the global norm right after backward(), before clipping.")
    _expect_out(out, want[key], "grad_norm_after", where, 1e-4,
                "grad_norm_after is the global norm of the gradients optimizer.step() uses, "
                "after clipping.")
    # 3. max_norm above the norm: nothing to clip.
    seed, clipping = STEP_CASES[2]
    key, max_norm = step_key(clipping), clipping["max_norm"]
    where = (f"train_step(..., max_norm={max_norm:.3g}) with a gradient norm of "
             f"{_global_norm(_fresh_gradients(seed)):.3g}")
    out, seen = _stepped(got, key, where)
    expect(_same_grads(seen, want[f"{key} seen by step()"]),
           f"{where}: optimizer.step() should see the gradients unchanged. {ORDER}")
    _expect_out(out, want[key], "grad_norm_after", where, 1e-4)
    # 4. Value clipping.
    seed, clipping = STEP_CASES[3]
    key, clip_value = step_key(clipping), clipping["clip_value"]
    fresh = _fresh_gradients(seed)
    where = f"train_step(..., clip_value={clip_value:.3g})"
    out, seen = _stepped(got, key, where)
    if not _same_grads(seen, want[f"{key} seen by step()"]):
        if _same_grads(seen, fresh):
            fail(f"{where}: optimizer.step() used the unclipped gradients. Clip after "
                 f"loss.backward() and before optimizer.step(). {ORDER}")
        fail(f"{where}: optimizer.step() did not see the value-clipped gradients. Call "
             "clip_grad_value(model.parameters(), clip_value) once, between loss.backward() "
             "and optimizer.step().")
    _expect_out(out, want[key], "grad_norm_before", where, 1e-4)
    _expect_out(out, want[key], "grad_norm_after", where, 1e-4,
                "grad_norm_after is the global norm of the gradients optimizer.step() uses.")
    # 5. The contracts.
    for contract in STEP_CONTRACTS:
        _step_contract(got, want, contract)


def _value_then_norm(grads: list, max_norm: float, clip_value: float) -> list:
    """`grads` clipped by value first, then by norm: the other order train_step may use."""
    tensors = []
    for g in grads:
        if g is not None:
            tensor = torch.zeros_like(g, requires_grad=True)
            tensor.grad = g.clone()
            tensors.append(tensor)
    torch.nn.utils.clip_grad_value_(tensors, clip_value)
    torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    clipped = iter([t.grad for t in tensors])
    return [None if g is None else next(clipped) for g in grads]


# What each train_step contract (keyed by StepContract.name) must show: a hint when train_step
# crashed there, and one when optimizer.step() saw other gradients than the reference's step().
STEP_CONTRACT_HINTS = {
    "both": ("when max_norm and clip_value are both given, apply both.",
             "optimizer.step() did not see the gradients clipped by both options: when max_norm "
             "and clip_value are both given apply both (clip_grad_norm, then clip_grad_value), "
             "not only one of them."),
    "zero": ("0.0 is a valid max_norm.",
             "optimizer.step() did not see the gradients clipped to norm 0 (all zero): test "
             "`if max_norm is not None:` rather than `if max_norm:`, since 0.0 is a valid "
             "max_norm that is falsy."),
    "float64 frozen": ("skip the parameters whose .grad is None (frozen ones) when you measure "
                       "or clip the gradients.",
                       "optimizer.step() did not see the gradients clipped to norm 0.2: clip "
                       "between loss.backward() and optimizer.step(), skipping the frozen "
                       "parameters (their .grad is None)."),
}


def _step_contract(got: Observed, want: Observed, contract: StepContract) -> None:
    crashed, wrong_grads = STEP_CONTRACT_HINTS[contract.name]
    key = where = contract.key
    _contract_call(got, key, crashed)
    out, seen = _stepped(got, key, where)
    expected = {name: number(want[key][name], what=name) for name in OUT_KEYS}
    if not _same_grads(seen, want[f"{key} seen by step()"]):
        fresh = _fresh_gradients(contract.seed, contract.dtype, contract.frozen)
        other_order = (_value_then_norm(fresh, **contract.clipping)
                       if set(contract.clipping) == {"max_norm", "clip_value"} else None)
        if other_order is None or not _same_grads(seen, other_order):
            fail(f"{where}: {wrong_grads}")
        expected["grad_norm_after"] = _global_norm(other_order)  # clipped in the other order
    float64 = contract.dtype == torch.float64
    for name in OUT_KEYS:
        mine, theirs = _as_float(out[name], f"out[{name!r}]"), expected[name]
        if name != "loss" and float64 and not math.isclose(mine, theirs, rel_tol=FLOAT64_RTOL):
            fail(f"{where}: out[{name!r}] is {abs(mine - theirs) / abs(theirs):.2g} (relative) away "
                 "from the float64 norm: compute the norms in the gradients' dtype (float64 "
                 "here), not by adding them into a float32 tensor such as torch.zeros(()).")
        expect_close(mine, theirs, what=f"{where}: out[{name!r}]",
                     rtol=FLOAT64_RTOL if float64 else 1e-4,
                     hint="out['loss'] is this batch's loss; out['grad_norm_before'] and "
                          "out['grad_norm_after'] the global norms before and after clipping.")
    expect(got[f"{key} modes"] == want[f"{key} modes"],
           f"{where} switched the model (or some of its modules) out of the train mode the caller "
           "gave it: leave the caller's model in its mode, without calling model.eval() in "
           "train_step.")
    expect(got[f"{key} requires_grad"] == want[f"{key} requires_grad"],
           f"{where} changed the requires_grad flags of the model's parameters: leave frozen "
           "parameters frozen and the others trainable.")


FINITE_HINT = ("NaN compares False with everything (nan > x is False, and max() over a list "
               "with a NaN skips it unless it comes first), so test every loss with "
               "math.isfinite(loss), which is False for NaN, +inf and -inf.")

# What each set of runs of the probe's DIVERGENCE_CASES (keyed by Runs.name) shows.
DIVERGENCE_HINTS = {
    "falling": "no loss here is above 10 × its run's first loss or non-finite: no run diverged.",
    "nan at the end": f"a run whose losses end in NaN diverged. {FINITE_HINT}",
    "nan in the middle": "a run with a NaN in the middle diverged, even if numbers follow: test "
                         f"every loss, not only the last one. {FINITE_HINT}",
    "nan first": f"a run whose first loss is NaN diverged. {FINITE_HINT}",
    "inf at the end": "a run that reaches inf diverged: inf is not finite.",
    "inf first": "a run whose first loss is inf diverged: blowup × inf is inf, so no later loss "
                 "is above it; test math.isfinite(loss) on every loss, the first one included "
                 "(math.isnan alone misses inf).",
    "-inf": "a run that reaches -inf diverged: -inf is not finite either. Test "
            "math.isfinite(loss), not only math.isnan(loss) or loss == math.inf.",
    "spike that recovers": "a run with one loss above blowup × its first loss (5.5 > 10 × 0.5) "
                           "diverged even though it came back down: test every loss against "
                           "blowup × the run's first loss, not only the last one.",
    "spike at the threshold": "a loss equal to blowup × the first loss (5.0 = 10 × 0.5) is not "
                              "above it: use >, not >=.",
    "relative to the first loss": "a loss above blowup × its run's own first loss diverged: 2.0 > "
                                  "10 × 0.1 did, 100 < 10 × 40 did not (the threshold is relative "
                                  "to the first loss, not blowup itself).",
    "one ulp above the threshold": "1.0000000000000002 is above 10 × 0.1 = 1.0 in Python floats "
                                   "(float64). Compare in Python floats or float64, not in "
                                   "float32: torch.tensor(losses) is float32 by default and "
                                   "rounds it to 1.0.",
    "one run that diverged": "with a single run that diverged (it ends in NaN) the fraction is 1.0.",
    "one run that trained": "with a single run that trained (its losses fall) the fraction is 0.0.",
    "all diverged": "every run here diverged (NaN, inf, and 3.0 > 10 × 0.2): the fraction is 1.0.",
    "tuples of ints": "the histories may be tuples and the losses ints: 21 > 10 × 2 diverged, "
                      "30 = 10 × 3 did not.",
    "ints and floats": "losses may be ints or floats: 10.5 > 10 × 1 diverged.",
    "blowup 2": "use the blowup argument (2.0 here), not a fixed 10: 2.5 > 2 × 1.0 diverged, "
                "1.0 = 2 × 0.5 did not.",
    "blowup 100": "use the blowup argument (100.0 here), not a fixed 10: 20.0 is not above "
                  "100 × 0.3, 31.0 is.",
}


def _fraction_message(runs: Runs, value: float, expected: float) -> str:
    """Why `value` is not the fraction `expected` of `runs`: a known slip, else the trap's hint."""
    n = len(runs.histories)
    if expected > 0 and math.isclose(value, 100 * expected):
        return (f"that is a percentage: return the fraction {expected!r}, in [0, 1] "
                "(diverged runs / all runs, without × 100).")
    if n > 1 and expected > 0 and math.isclose(value, n * expected):
        return (f"that is the number of runs that diverged: return it divided by the number of "
                f"runs ({n}), a fraction in [0, 1].")
    if expected != 0.5 and math.isclose(value, 1 - expected):
        return ("that is the fraction of runs that did NOT diverge: return the fraction of runs "
                "that diverged.")
    if value != 0 and math.isclose(value, expected, rel_tol=1e-6):
        return ("close, but not the exact fraction: compute it in Python floats or float64 "
                "(diverged / len(histories)), not in float32 (torch.tensor(flags).float().mean()).")
    return DIVERGENCE_HINTS[runs.name]


def test_divergence_fraction(got, want):
    for runs in DIVERGENCE_CASES:
        returned, expected = got[runs.key], number(want[runs.key], what="the reference's fraction")
        expect(type(returned) in (int, float) or (type(returned) is torch.Tensor
                                                   and returned.numel() == 1),
               f"{runs.key} must return a float (the fraction of runs that diverged), got "
               f"{_kind(returned)}.")
        value = number(returned, what=runs.key)
        if value != expected:
            fail(f"{runs.key} returned {value!r}, expected {expected!r}: "
                 f"{_fraction_message(runs, value, expected)}")
    for description, histories in DIVERGENCE_EMPTY.items():
        raised = got[divergence_key(description)]
        call = f"divergence_fraction({histories!r})"
        what = ("a fraction of no runs is undefined: say that at least one run is needed"
                if not histories else "a run with no losses has no first loss: say that every "
                "history needs at least one loss")
        if raised is None:
            fail(f"{call} returned without an error: raise ValueError ({what}).")
        expect("ValueError" in raised,
               f"{call} raised {raised[0]}: check for it first and raise ValueError ({what}).")


test_q1_unstable_gradients = choice_question("Q1")
test_q2_value_clipping = choice_question("Q2")
test_q3_global_norm = number_question("Q3")
test_q4_clip_factor = number_question("Q4")
test_q5_where_to_clip = choice_question("Q5")
test_q6_recurrent = choice_question("Q6")
