"""Hidden tests of lab 04, Gradient clipping: one function per grade cell, named after it.

The clipping functions are compared with PyTorch's own `torch.nn.utils.clip_grad_norm_` and
`clip_grad_value_` on copies of the same gradients. `train_step` runs with the reference
clipping functions bound in (so a clipping mistake costs its own exercise only) and with an
optimizer that records the gradients it sees when `step()` is called, which is how the
order of the steps shows.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn.utils import clip_grad as clip_grad_module

from autograder.checks.core import (
    CheckFailed,
    call,
    expect,
    expect_choice,
    expect_close,
    expect_number,
    fail,
    forbidden,
    hidden_test,
    reference,
    with_globals,
)

ref = reference("solutions.lab04_gradient_clipping")

NORM_FUNCTIONS = ("clip_grad_norm_", "clip_grad_norm", "clip_grads_with_norm_", "get_total_norm")
VALUE_FUNCTIONS = ("clip_grad_value_",)


@contextlib.contextmanager
def _without(names: tuple[str, ...], reason: str) -> Iterator[None]:
    """Refuse PyTorch's clipping functions, under both names they are reachable by."""
    with forbidden(nn.utils, names, reason), forbidden(clip_grad_module, names, reason):
        yield


class _Net(nn.Module):
    """A small model with an unused parameter, whose .grad stays None."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(6, 8)
        self.out = nn.Linear(8, 3)
        self.unused = nn.Parameter(torch.ones(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.hidden(x)))


def _net_with_grads(seed: int, scale: float) -> _Net:
    """A `_Net` whose gradients (of a loss multiplied by `scale`) are filled in."""
    torch.manual_seed(seed)
    net = _Net()
    X, y = torch.randn(64, 6) * 2, torch.randint(0, 3, (64,))
    (scale * nn.functional.cross_entropy(net(X), y)).backward()
    return net


def _grads(module: nn.Module) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.detach().clone() for p in module.parameters()]


def _global_norm(grads: list[torch.Tensor | None]) -> float:
    present = [g for g in grads if g is not None]
    return float(torch.sqrt(sum((g.double() ** 2).sum() for g in present))) if present else 0.0


def _same_grads(got: list[torch.Tensor | None], expected: list[torch.Tensor | None],
                rtol: float = 1e-5, atol: float = 1e-7) -> bool:
    if len(got) != len(expected):
        return False
    for mine, theirs in zip(got, expected):
        if theirs is None:
            if mine is not None and bool(mine.abs().sum() > 0):
                return False
            continue
        if mine is None or mine.shape != theirs.shape:
            return False
        if not torch.allclose(mine.double(), theirs.double(), rtol=rtol, atol=atol):
            return False
    return True


def _call_on_single_tensor(function, tensor: torch.Tensor, threshold: float, name: str) -> object:
    """Call a clipping function on one tensor; a crash gets the hint that a tensor is not a list."""
    try:
        return call(function, tensor, threshold, what=f"{name}(a single tensor, {threshold})")
    except CheckFailed as error:
        if "PyTorch's clipping" in str(error) or "not call torch" in str(error):
            raise
        fail(f"{error}. `parameters` may be a single tensor, as in PyTorch: treat it as "
             "[tensor] (isinstance(parameters, torch.Tensor)); iterating over a tensor gives "
             "its rows, which have no .grad.")
    return None


GLOBAL_HINT = ("Multiply every gradient by the same factor max_norm / (total_norm + 1e-6), clamped "
               "to 1, where total_norm is the L2 norm of all gradients together (as if they were "
               "concatenated into one vector: the square root of the sum of every squared entry), "
               "not each parameter's own norm.")


@hidden_test
def test_clip_grad_norm(clip_grad_norm):
    reason = ("clip_grad_norm must compute the norm and scale the gradients itself, not call "
              "torch.nn.utils.clip_grad_norm_, clip_grads_with_norm_ or get_total_norm.")
    # 1. Gradients well above max_norm, given as a list.
    for seed, scale, max_norm in [(0, 40.0, 1.0), (1, 500.0, 3.0)]:
        net, twin = _net_with_grads(seed, scale), _net_with_grads(seed, scale)
        expected_norm = float(nn.utils.clip_grad_norm_(twin.parameters(), max_norm))
        where = f"clip_grad_norm(list(model.parameters()), max_norm={max_norm})"
        with _without(NORM_FUNCTIONS, reason):
            returned = call(clip_grad_norm, list(net.parameters()), max_norm,
                            what=where + " on a model with an unused parameter (its .grad is None)")
        got = _grads(net)
        if not _same_grads(got, _grads(twin)):
            if _same_grads(got, _grads(_net_with_grads(seed, scale))):
                fail(f"{where}: the gradients did not change. Scale them in place "
                     "(g.mul_(clip_coef), or p.grad = p.grad * clip_coef): scaling a copy "
                     "leaves p.grad as it was.")
            fail(f"{where}: the clipped gradients differ from torch.nn.utils.clip_grad_norm_'s "
                 f"(global norm after clipping: {_global_norm(got):.4g}, expected {max_norm:g}). "
                 + GLOBAL_HINT)
        expect(returned is not None,
               f"{where} returned None: return the total norm measured before clipping.")
        expect_close(returned, expected_norm, what=f"{where}: the returned total norm", rtol=1e-5,
                     hint="Return the global norm measured BEFORE clipping, as PyTorch does "
                          "(it tells you how large the gradients really were).")
    # 2. Gradients below max_norm stay as they are.
    net = _net_with_grads(2, 0.5)
    before = _grads(net)
    norm = _global_norm(before)
    where = f"clip_grad_norm(params, max_norm={3 * norm:.3g}) with a total norm of {norm:.3g}"
    with _without(NORM_FUNCTIONS, reason):
        returned = call(clip_grad_norm, list(net.parameters()), 3 * norm, what=where)
    expect(_same_grads(_grads(net), before, rtol=1e-6, atol=0),
           f"{where}: the gradients changed, but their norm was already below max_norm. The "
           "factor max_norm / (total_norm + 1e-6) must be clamped to at most 1: clipping only "
           "ever scales gradients down.")
    expect_close(returned, norm, what=f"{where}: the returned total norm", rtol=1e-5)
    # 3. A generator, as model.parameters() gives, can be iterated only once.
    net, twin = _net_with_grads(3, 40.0), _net_with_grads(3, 40.0)
    nn.utils.clip_grad_norm_(twin.parameters(), 1.0)
    with _without(NORM_FUNCTIONS, reason):
        call(clip_grad_norm, net.parameters(), 1.0, what="clip_grad_norm(model.parameters(), 1.0)")
    expect(_same_grads(_grads(net), _grads(twin)),
           "clip_grad_norm(model.parameters(), 1.0) did not clip like "
           "torch.nn.utils.clip_grad_norm_. model.parameters() is a generator: it can be "
           "iterated only once, so collect the gradients in a list first "
           "(grads = [p.grad for p in parameters if p.grad is not None]).")
    # 4. A single tensor.
    torch.manual_seed(4)
    weight = torch.randn(5, 4, requires_grad=True)
    weight.grad = torch.randn(5, 4) * 10
    twin = weight.detach().clone().requires_grad_()
    twin.grad = weight.grad.clone()
    expected_norm = float(nn.utils.clip_grad_norm_(twin, 1.0))
    expected = twin.grad
    with _without(NORM_FUNCTIONS, reason):
        returned = _call_on_single_tensor(clip_grad_norm, weight, 1.0, "clip_grad_norm")
    expect(torch.allclose(weight.grad, expected, rtol=1e-5, atol=1e-7),
           "clip_grad_norm(tensor, max_norm) with a single tensor must clip that tensor's "
           "gradient: treat a tensor as [tensor] (iterating over a tensor gives its rows, "
           "which have no .grad).")
    expect_close(returned, expected_norm, what="clip_grad_norm(a single tensor, 1.0): the returned "
                 "total norm", rtol=1e-5)
    # 5. A tiny norm, where the 1e-6 in PyTorch's formula shows.
    tiny = torch.zeros(3, requires_grad=True)
    tiny.grad = torch.tensor([6e-7, 8e-7, 0.0])
    twin = tiny.detach().clone().requires_grad_()
    twin.grad = tiny.grad.clone()
    expected_norm = float(nn.utils.clip_grad_norm_([twin], 5e-7))
    with _without(NORM_FUNCTIONS, reason):
        call(clip_grad_norm, [tiny], 5e-7, what="clip_grad_norm([p], 5e-7) with a gradient of norm 1e-6")
    expect(torch.allclose(tiny.grad, twin.grad, rtol=1e-4, atol=0),
           f"clip_grad_norm([p], 5e-7) with a gradient of norm {expected_norm:.1g}: got "
           f"{[f'{v:.3g}' for v in tiny.grad.tolist()]}, PyTorch gives "
           f"{[f'{v:.3g}' for v in twin.grad.tolist()]}. Use PyTorch's exact factor, "
           "clip_coef = max_norm / (total_norm + 1e-6) clamped to 1: the 1e-6 keeps the "
           "division safe and matters when the norm is tiny.")


@hidden_test
def test_clip_grad_value(clip_grad_value):
    reason = ("clip_grad_value must clamp the gradients itself (for example with "
              "p.grad.clamp_), not call torch.nn.utils.clip_grad_value_.")
    for seed, scale, clip_value in [(0, 30.0, 0.5), (1, 3.0, 0.05)]:
        net, twin = _net_with_grads(seed, scale), _net_with_grads(seed, scale)
        nn.utils.clip_grad_value_(twin.parameters(), clip_value)
        weights = [p.detach().clone() for p in net.parameters()]
        where = f"clip_grad_value(list(model.parameters()), {clip_value})"
        with _without(VALUE_FUNCTIONS, reason):
            call(clip_grad_value, list(net.parameters()), clip_value,
                 what=where + " on a model with an unused parameter (its .grad is None)")
        for p, weight in zip(net.parameters(), weights):
            expect(torch.equal(p.detach(), weight),
                   f"{where} changed the parameters themselves: clip their gradients "
                   "(p.grad), and leave the values (p.data) to the optimizer.")
        got = _grads(net)
        if _same_grads(got, _grads(twin), rtol=0, atol=1e-7):
            continue
        if _same_grads(got, _grads(_net_with_grads(seed, scale)), rtol=0, atol=0):
            fail(f"{where}: the gradients did not change. Clamp them in place (p.grad.clamp_(...)) "
                 "or assign the result back to p.grad: clamping a copy leaves p.grad as it was.")
        present = [g for g in got if g is not None]
        if present and min(g.min().item() for g in present) < -clip_value * (1 + 1e-6):
            fail(f"{where}: some gradient entries are still below -{clip_value} (smallest "
                 f"{min(g.min().item() for g in present):.3g}). Clip both ends: every entry "
                 f"must end within [-clip_value, clip_value] (clamp(min=-clip_value, "
                 "max=clip_value)).")
        fail(f"{where}: the clipped gradients differ from torch.nn.utils.clip_grad_value_'s. "
             "Clamp each entry to [-clip_value, clip_value] and leave the others unchanged.")
    net, twin = _net_with_grads(2, 30.0), _net_with_grads(2, 30.0)
    nn.utils.clip_grad_value_(twin.parameters(), 0.1)
    with _without(VALUE_FUNCTIONS, reason):
        call(clip_grad_value, net.parameters(), 0.1, what="clip_grad_value(model.parameters(), 0.1)")
    expect(_same_grads(_grads(net), _grads(twin), rtol=0, atol=1e-7),
           "clip_grad_value(model.parameters(), 0.1) did not clip like "
           "torch.nn.utils.clip_grad_value_: it must accept a generator such as "
           "model.parameters().")
    torch.manual_seed(3)
    weight = torch.randn(4, 4, requires_grad=True)
    weight.grad = torch.randn(4, 4) * 3
    expected = weight.grad.clamp(-1.0, 1.0)
    with _without(VALUE_FUNCTIONS, reason):
        _call_on_single_tensor(clip_grad_value, weight, 1.0, "clip_grad_value")
    expect(torch.equal(weight.grad, expected),
           "clip_grad_value(tensor, clip_value) with a single tensor must clamp that tensor's "
           "gradient: treat a tensor as [tensor].")


class RecordingSGD(torch.optim.SGD):
    """Plain SGD that records, at each step(), a copy of every gradient it is about to use."""

    def __init__(self, params, lr: float = 0.1) -> None:
        super().__init__(params, lr=lr)
        self.seen: list[list[torch.Tensor | None]] = []

    def step(self, closure=None):
        self.seen.append([None if p.grad is None else p.grad.detach().clone()
                          for group in self.param_groups for p in group["params"]])
        return super().step(closure)


def _step_model(seed: int) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
    return model, torch.randn(128, 5) * 3, torch.randint(0, 3, (128,))


def _fresh_gradients(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                     loss_fn: nn.Module) -> tuple[float, nn.Module]:
    """The loss on (X, y) and a copy of `model` holding this batch's gradients."""
    twin = copy.deepcopy(model)
    for p in twin.parameters():
        p.grad = None
    loss = loss_fn(twin(X), y)
    loss.backward()
    return loss.item(), twin


def _as_float(value: object, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        fail(f"{what} must be a number (a float or a one-element tensor), got {type(value).__name__}.")
    return 0.0


def _run_step(train_step, model, X, y, loss_fn, lr: float, where: str,
              **clipping) -> tuple[dict, RecordingSGD]:
    optimizer = RecordingSGD(model.parameters(), lr=lr)
    out = call(train_step, model, X, y, loss_fn, optimizer, what=where, **clipping)
    keys = {"loss", "grad_norm_before", "grad_norm_after"}
    expect(isinstance(out, dict) and keys <= set(out),
           f"{where} must return a dict with the keys 'loss', 'grad_norm_before' and "
           f"'grad_norm_after', got {out!r:.120}.")
    expect(len(optimizer.seen) == 1,
           f"{where} called optimizer.step() {len(optimizer.seen)} times: call it exactly once.")
    leftover = [p.grad for p in model.parameters() if p.grad is not None and bool(p.grad.abs().sum() > 0)]
    expect(not leftover,
           f"{where} left non-zero gradients behind: end the step with optimizer.zero_grad(), "
           "after optimizer.step(), so the next call starts from clean gradients.")
    return out, optimizer


@hidden_test
def test_train_step(train_step):
    train_step = with_globals(train_step, clip_grad_norm=ref.clip_grad_norm,
                              clip_grad_value=ref.clip_grad_value)
    loss_fn = nn.CrossEntropyLoss()
    order = ("Order matters: forward, loss.backward() (fills the gradients), clipping, "
             "optimizer.step() (uses them), optimizer.zero_grad().")
    # 1. No clipping: step() must see this batch's gradients, and nothing else.
    model, X, y = _step_model(0)
    loss, twin = _fresh_gradients(model, X, y, loss_fn)
    fresh = _grads(twin)
    where = "train_step(model, X, y, loss_fn, optimizer)"
    out, optimizer = _run_step(train_step, model, X, y, loss_fn, 0.1, where)
    expect_close(_as_float(out["loss"], "out['loss']"), loss, what=f"{where}: out['loss']",
                 rtol=1e-5, hint="Return the loss of this batch, computed in this step's forward pass.")
    seen = optimizer.seen[0]
    if not _same_grads(seen, fresh):
        if all(g is None or not bool(g.abs().sum() > 0) for g in seen):
            fail(f"{where}: optimizer.step() saw no gradients (all None or zero). {order}")
        fail(f"{where}: optimizer.step() did not see the gradients of this batch. {order}")
    norm = _global_norm(fresh)
    for key in ("grad_norm_before", "grad_norm_after"):
        expect_close(_as_float(out[key], f"out[{key!r}]"), norm, what=f"{where}: out[{key!r}]",
                     rtol=1e-4, hint="Without clipping, both are the global L2 norm of all "
                                     "the gradients after backward().")
    # 2. Norm clipping well below the norm: step() must see the clipped gradients.
    model, X, y = _step_model(1)
    loss, twin = _fresh_gradients(model, X, y, loss_fn)
    fresh = _grads(twin)
    norm = _global_norm(fresh)
    max_norm = norm / 4
    ref.clip_grad_norm(twin.parameters(), max_norm)
    clipped = _grads(twin)
    where = f"train_step(..., max_norm={max_norm:.3g}) with a gradient norm of {norm:.3g}"
    out, optimizer = _run_step(train_step, model, X, y, loss_fn, 0.1, where, max_norm=max_norm)
    seen = optimizer.seen[0]
    if not _same_grads(seen, clipped):
        if _same_grads(seen, fresh):
            fail(f"{where}: optimizer.step() used the unclipped gradients. Clip after "
                 f"loss.backward() and before optimizer.step(). {order}")
        fail(f"{where}: optimizer.step() did not see the gradients clipped to norm {max_norm:.3g}. "
             f"Call clip_grad_norm(model.parameters(), max_norm) once, between loss.backward() "
             f"and optimizer.step().")
    expect_close(_as_float(out["grad_norm_before"], "out['grad_norm_before']"), norm,
                 what=f"{where}: out['grad_norm_before']", rtol=1e-4,
                 hint="grad_norm_before is the global norm right after backward(), before clipping.")
    expect_close(_as_float(out["grad_norm_after"], "out['grad_norm_after']"), _global_norm(seen),
                 what=f"{where}: out['grad_norm_after']", rtol=1e-4,
                 hint="grad_norm_after is the global norm of the gradients optimizer.step() uses, "
                      "after clipping.")
    # 3. max_norm above the norm: nothing to clip.
    model, X, y = _step_model(2)
    _, twin = _fresh_gradients(model, X, y, loss_fn)
    fresh = _grads(twin)
    norm = _global_norm(fresh)
    where = f"train_step(..., max_norm={10 * norm:.3g}) with a gradient norm of {norm:.3g}"
    out, optimizer = _run_step(train_step, model, X, y, loss_fn, 0.1, where, max_norm=10 * norm)
    expect(_same_grads(optimizer.seen[0], fresh),
           f"{where}: optimizer.step() should see the gradients unchanged. {order}")
    expect_close(_as_float(out["grad_norm_after"], "out['grad_norm_after']"), norm,
                 what=f"{where}: out['grad_norm_after']", rtol=1e-4)
    # 4. Value clipping.
    model, X, y = _step_model(3)
    _, twin = _fresh_gradients(model, X, y, loss_fn)
    fresh = _grads(twin)
    clip_value = 0.25 * max(g.abs().max().item() for g in fresh if g is not None)
    ref.clip_grad_value(twin.parameters(), clip_value)
    clipped = _grads(twin)
    where = f"train_step(..., clip_value={clip_value:.3g})"
    out, optimizer = _run_step(train_step, model, X, y, loss_fn, 0.1, where, clip_value=clip_value)
    seen = optimizer.seen[0]
    if not _same_grads(seen, clipped):
        if _same_grads(seen, fresh):
            fail(f"{where}: optimizer.step() used the unclipped gradients. Clip after "
                 f"loss.backward() and before optimizer.step(). {order}")
        fail(f"{where}: optimizer.step() did not see the value-clipped gradients. Call "
             "clip_grad_value(model.parameters(), clip_value) once, between loss.backward() "
             "and optimizer.step().")
    expect_close(_as_float(out["grad_norm_before"], "out['grad_norm_before']"), _global_norm(fresh),
                 what=f"{where}: out['grad_norm_before']", rtol=1e-4)
    expect_close(_as_float(out["grad_norm_after"], "out['grad_norm_after']"), _global_norm(clipped),
                 what=f"{where}: out['grad_norm_after']", rtol=1e-4,
                 hint="grad_norm_after is the global norm of the gradients optimizer.step() uses.")


@hidden_test
def test_q1_unstable_gradients(Q1):
    expect_choice(Q1, ref.Q1, question="Q1")


@hidden_test
def test_q2_value_clipping(Q2):
    expect_choice(Q2, ref.Q2, question="Q2")


@hidden_test
def test_q3_global_norm(Q3):
    expect_number(Q3, ref.Q3, question="Q3")


@hidden_test
def test_q4_clip_factor(Q4):
    expect_number(Q4, ref.Q4, question="Q4")


@hidden_test
def test_q5_where_to_clip(Q5):
    expect_choice(Q5, ref.Q5, question="Q5")


@hidden_test
def test_q6_recurrent(Q6):
    expect_choice(Q6, ref.Q6, question="Q6")
