"""Checks of lab 04, Gradient clipping: one per grade cell, named after it, reading the records of
the probes in autograder/probes/lab04_gradient_clipping.py (the student's as `got`, the
reference's as `want`).

The clipped gradients are compared with the reference's on the same gradients (the reference
clips exactly as `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_` do). For `train_step`
both records were made with the same stand-ins for the clipping functions; this batch's
unclipped gradients, which tell "clipped too late" from other mistakes, are computed here from
the probe's public model and batch.
"""

from __future__ import annotations

import copy

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
    NORM_ABOVE_CASES,
    NORM_BELOW_CASE,
    STEP_CASES,
    VALUE_CASES,
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


ORDER = ("Order matters: forward, loss.backward() (fills the gradients), clipping, "
         "optimizer.step() (uses them), optimizer.zero_grad().")
OUT_KEYS = ("loss", "grad_norm_before", "grad_norm_after")


def _fresh_gradients(seed: int) -> list[torch.Tensor]:
    """This batch's gradients, before any clipping: one backward pass of the probe's model."""
    model, X, y = step_model(seed)
    twin = copy.deepcopy(model)
    nn.CrossEntropyLoss()(twin(X), y).backward()
    return [p.grad.detach().clone() for p in twin.parameters()]


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


test_q1_unstable_gradients = choice_question("Q1")
test_q2_value_clipping = choice_question("Q2")
test_q3_global_norm = number_question("Q3")
test_q4_clip_factor = number_question("Q4")
test_q5_where_to_clip = choice_question("Q5")
test_q6_recurrent = choice_question("Q6")
