"""Hidden tests of lab 03, Batch norm and layer norm: one function per grade cell, named after it.

Expected values come from PyTorch where it has the thing (`nn.BatchNorm1d`, `F.layer_norm`,
a Linear layer followed by a BatchNorm1d layer in eval mode, `torch.cov`, `torch.linalg.eigh`
in float64) and from `solutions` for the answer key. When an answer is wrong, the checks
compare it with the usual wrong answers to say which mistake it makes.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
import torch.nn.utils.fusion
from torch import nn

from autograder.checks.core import (
    call,
    expect,
    expect_choice,
    expect_close,
    expect_number,
    fail,
    forbidden,
    hidden_test,
    reference,
)

ref = reference("solutions.lab03_normalization")


def _close(a: object, b: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """Whether tensor `a` matches `b` in shape and values (False for anything that is not a tensor)."""
    if not isinstance(a, torch.Tensor) or a.shape != b.shape:
        return False
    return torch.allclose(a.detach().double().cpu(), b.detach().double().cpu(), rtol=rtol, atol=atol,
                          equal_nan=False)


def _diagnose(actual: object, expected: torch.Tensor, *, what: str, hint: str,
              known_mistakes: dict[str, torch.Tensor], rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Pass if `actual` matches `expected`; otherwise name the known mistake it matches, if any."""
    if _close(actual, expected, rtol, atol):
        return
    for message, wrong_value in known_mistakes.items():
        if _close(actual, wrong_value, rtol, atol):
            fail(f"{what}: {message}")
    expect_close(actual, expected, what=what, rtol=rtol, atol=atol, hint=hint)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run a check's tiny tensor operations on one thread: on a busy CPU, waking a second thread
    for each of them costs more than the operation itself (several times the check's time)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _on_one_thread(check: Callable[..., None]) -> Callable[..., None]:
    """Decorator: run the whole check inside `_one_thread()`."""

    @functools.wraps(check)
    def run(*args: object, **kwargs: object) -> None:
        with _one_thread():
            check(*args, **kwargs)

    return run


def _unchanged(tensors: dict[str, torch.Tensor], snapshot: dict[str, torch.Tensor], message: str) -> None:
    for name, tensor in tensors.items():
        expect(torch.equal(tensor, snapshot[name]), f"{message} ({name} changed).")


# --- Exercise 1: standardize -------------------------------------------------------------------

@hidden_test
@_on_one_thread
def test_standardize(standardize):
    torch.manual_seed(0)
    scales = torch.tensor([1.0, 2.0, 0.5, 10.0, 3.0, 1.0])
    train = torch.randn(500, 6) * scales + torch.tensor([0.0, 5.0, -3.0, 100.0, 1.0, 2.0])
    valid = torch.randn(120, 6) * 2 + 3
    test = torch.randn(80, 6) * 5 - 20
    splits = {"train": train, "valid": valid, "test": test}
    snapshot = {name: split.clone() for name, split in splits.items()}
    got = call(standardize, train, valid, test, what="standardize(train, valid, test)")
    expect(isinstance(got, tuple) and len(got) == 3,
           "standardize(train, valid, test) must return a tuple of 3 tensors (train first, then the "
           f"others in order), got {type(got).__name__}"
           f"{f' of length {len(got)}' if hasattr(got, '__len__') else ''}.")
    _unchanged(splits, snapshot, "standardize must not modify its inputs: return new tensors "
                                 "(x = x - mean, not x -= mean)")
    mean, std = train.mean(0), train.std(0)
    everything = torch.cat([train, valid, test])
    all_mean, all_std = everything.mean(0), everything.std(0)
    for (name, split), mine in zip(splits.items(), got):
        own_mean, own_std = split.mean(0), split.std(0)
        _diagnose(mine, (split - mean) / std, what=f"standardize: the {name} split", rtol=3e-3, atol=1e-4,
                  hint="Subtract the training split's per-feature mean and divide by its per-feature "
                       "std (statistics over dimension 0, one per feature).",
                  known_mistakes={
                      "the statistics must come from the training split only; these come from all "
                      "the splits together, which leaks the validation and test data into the "
                      "preprocessing.": (split - all_mean) / all_std,
                      "every split must be standardized with the TRAINING mean and std, not with its "
                      "own: the model was trained on inputs scaled the training way.":
                          (split - own_mean) / own_std,
                      "compute one mean and one std per feature (over dimension 0), not a single "
                      "mean and std for the whole tensor.": (split - train.mean()) / train.std(),
                      "divide by the std as well: subtracting the mean only centers the data.":
                          split - mean,
                  })
    single = call(standardize, train, what="standardize(train)")
    expect(isinstance(single, tuple) and len(single) == 1,
           "standardize(train) with no other split must return a tuple of one tensor: (train_std,).")

    torch.manual_seed(1)
    images = torch.rand(200, 1, 4, 4)
    images[:, 0, 0, 0] = 0.5
    more = torch.rand(30, 1, 4, 4)
    got = call(standardize, images, more, what="standardize(images, more_images) on (N, 1, 4, 4) tensors")
    expect(isinstance(got, tuple) and len(got) == 2, "standardize must return one tensor per split.")
    pixel_std = images.std(0)
    pixel_std[0, 0, 0] = 1.0
    expected = (more - images.mean(0)) / pixel_std
    expect(isinstance(got[1], torch.Tensor) and got[1].shape == more.shape,
           "standardize must keep each split's shape (statistics per feature over dimension 0).")
    expect(bool(torch.isfinite(got[0]).all()) and bool(torch.isfinite(got[1]).all()),
           "standardize returned inf or NaN: a feature that is constant in the training split has "
           "std 0; divide it by 1 instead (it is only centered), as scikit-learn's StandardScaler does.")
    expect_close(got[1], expected, what="standardize on images: a pixel constant in the training split",
                 rtol=3e-3, atol=1e-4,
                 hint="Per-pixel statistics over dimension 0; a pixel whose training std is 0 is only "
                      "centered (divided by 1).")


# --- Exercise 2: zca_whiten --------------------------------------------------------------------

def _zca_reference(X: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """ZCA in float64 from torch.cov and torch.linalg.eigh: (whitened, W)."""
    X64 = X.double()
    centered = X64 - X64.mean(0)
    eigenvalues, U = torch.linalg.eigh(torch.cov(centered.T))
    W = U @ torch.diag(1 / torch.sqrt(eigenvalues.clamp_min(0) + eps)) @ U.T
    return centered @ W, W


def _zca_mistakes(X: torch.Tensor, eps: float) -> dict[str, torch.Tensor]:
    X64 = X.double()
    centered = X64 - X64.mean(0)
    eigenvalues, U = torch.linalg.eigh(torch.cov(centered.T))
    return {
        "ε must be added to the eigenvalues inside the square root: W = U diag(1/√(λᵢ + ε)) Uᵀ.":
            U @ torch.diag(1 / (torch.sqrt(eigenvalues) + eps)) @ U.T,
        "scale each eigen-direction by 1/√(λᵢ + ε), not by 1/(λᵢ + ε): the whitened variance must be 1.":
            U @ torch.diag(1 / (eigenvalues + eps)) @ U.T,
    }


@hidden_test
@_on_one_thread
def test_zca_whiten(zca_whiten):
    for case, (n, d, eps) in enumerate([(2000, 6, 1e-5), (800, 12, 1e-5), (3000, 4, 0.5)]):
        torch.manual_seed(10 + case)
        mixing = torch.randn(d, d) + 2 * torch.eye(d)
        X = torch.randn(n, d) @ mixing + torch.linspace(-3, 5, d)
        snapshot = X.clone()
        where = f"zca_whiten(X of shape ({n}, {d}), eps={eps})"
        got = call(zca_whiten, X, eps=eps, what=where)
        expect(isinstance(got, tuple) and len(got) == 2,
               f"{where} must return a tuple (whitened, W).")
        whitened, W = got
        expect(torch.equal(X, snapshot), f"{where} modified X: return new tensors instead.")
        expect(isinstance(whitened, torch.Tensor) and whitened.shape == (n, d),
               f"{where}: whitened must have the shape of X, ({n}, {d}).")
        expect(isinstance(W, torch.Tensor) and W.shape == (d, d),
               f"{where}: W must be a ({d}, {d}) matrix.")
        expected_whitened, expected_W = _zca_reference(X, eps)
        scale = expected_W.abs().max().item()
        W64 = W.detach().double().cpu()
        expect(torch.allclose(W64, W64.T, atol=1e-4 * scale),
               f"{where}: W is not symmetric. ZCA rotates back after scaling: W = U diag(1/√(λ + ε)) Uᵀ. "
               "Without the final Uᵀ you get PCA whitening, which also decorrelates but rotates the data.")
        whitened64 = whitened.detach().double().cpu()
        expect(whitened64.mean(0).abs().max().item() < 1e-3 * max(1.0, whitened64.abs().max().item()),
               f"{where}: the whitened data should have mean 0: center X (subtract its mean) before "
               "computing the covariance and before multiplying by W.")
        _diagnose(W64, expected_W, what=f"{where}: W", rtol=2e-3, atol=2e-3 * scale,
                  hint="W = U diag(1/√(λ + ε)) Uᵀ, with C = U diag(λ) Uᵀ the covariance of the "
                       "centered X (torch.linalg.eigh); dividing by N or by N − 1 are both accepted.",
                  known_mistakes=_zca_mistakes(X, eps))
        if eps < 1e-3:
            expect_close(torch.cov(whitened64.T), torch.eye(d, dtype=torch.float64), rtol=0, atol=2e-2,
                         what=f"{where}: covariance of the whitened data against the identity",
                         hint="Use W = C^(-1/2) = U diag(1/√(λ + ε)) Uᵀ from the eigendecomposition "
                              "C = U diag(λ) Uᵀ of the covariance of the centered data.")
        expect_close(whitened64, expected_whitened, rtol=2e-3,
                     atol=2e-3 * expected_whitened.abs().max().item(), what=f"{where}: the whitened data",
                     hint="Return (X − mean) @ W, the centered data times the matrix you return.")


# --- Exercise 3: BatchNorm1dScratch ------------------------------------------------------------

_BN_REASON = ("BatchNorm1dScratch must compute batch norm itself: do not use nn.BatchNorm1d, "
              "F.batch_norm or torch.batch_norm (torch.mean, torch.var, torch.sqrt are fine).")


@contextlib.contextmanager
def _no_builtin_norms(reason: str) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        stack.enter_context(forbidden(F, ("batch_norm", "instance_norm", "layer_norm", "group_norm"), reason))
        stack.enter_context(forbidden(torch, ("batch_norm", "native_batch_norm", "instance_norm",
                                              "layer_norm", "native_layer_norm", "group_norm",
                                              "native_group_norm"), reason))
        stack.enter_context(forbidden(nn, ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d",
                                           "SyncBatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm1d"),
                                      reason))
        yield


def _new_student_bn(cls, *args, **kwargs) -> nn.Module:
    with _no_builtin_norms(_BN_REASON):
        module = call(cls, *args, **kwargs,
                      what=f"BatchNorm1dScratch({', '.join(map(repr, args))}"
                           f"{', ' if kwargs else ''}{', '.join(f'{k}={v!r}' for k, v in kwargs.items())})")
    expect(isinstance(module, nn.Module), "BatchNorm1dScratch must subclass nn.Module.")
    return module


def _check_bn_structure(module: nn.Module, num_features: int) -> None:
    parameters = dict(module.named_parameters())
    buffers = dict(module.named_buffers())
    expect(set(parameters) == {"weight", "bias"},
           f"BatchNorm1dScratch's nn.Parameters should be exactly weight (γ) and bias (β), found "
           f"{sorted(parameters) or 'none'}. The running statistics are not learned by gradient "
           "descent: register them with self.register_buffer, not as nn.Parameter.")
    expect(set(buffers) == {"running_mean", "running_var", "num_batches_tracked"},
           f"BatchNorm1dScratch's buffers should be running_mean, running_var and num_batches_tracked, "
           f"found {sorted(buffers) or 'none'}. Register each with self.register_buffer(name, tensor): "
           "a plain tensor attribute is not saved in state_dict() and does not move with .to(device).")
    for name, value in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
        tensor = parameters.get(name, buffers.get(name))
        expect(tensor.shape == (num_features,),
               f"{name} should have shape ({num_features},), one value per feature, "
               f"got {tuple(tensor.shape)}.")
        expect(bool((tensor == value).all()), f"{name} should start at {value:g} for every feature, "
                                              "as in nn.BatchNorm1d.")
    expect(buffers["num_batches_tracked"].numel() == 1 and int(buffers["num_batches_tracked"]) == 0,
           "num_batches_tracked should be a single number starting at 0 (torch.tensor(0)).")


def _bn_step_mistakes(old_mean: torch.Tensor, old_var: torch.Tensor, x: torch.Tensor,
                      momentum: float) -> tuple[dict, dict]:
    dims = (0, 2) if x.dim() == 3 else (0,)
    mean, biased, unbiased = x.mean(dims), x.var(dims, correction=0), x.var(dims, correction=1)
    mean_mistakes = {
        "the momentum is the wrong way round. PyTorch's convention is running = (1 − momentum) · "
        "running + momentum · batch statistic, so momentum=0.1 moves 10% of the way to the batch "
        "(the conventional, Keras-style form uses momentum for the OLD value).":
            momentum * old_mean + (1 - momentum) * mean,
    }
    var_mistakes = {
        "running_var must use the unbiased variance of the batch (divide by n − 1, where n is the "
        "number of values per channel: N, or N·L), as nn.BatchNorm1d does; the normalization itself "
        "uses the biased variance.": (1 - momentum) * old_var + momentum * biased,
        "the momentum is the wrong way round. PyTorch's convention is running = (1 − momentum) · "
        "running + momentum · batch statistic.": momentum * old_var + (1 - momentum) * unbiased,
    }
    return mean_mistakes, var_mistakes


def _bn_run(cls, shape: tuple[int, ...], eps: float, momentum: float, seed: int) -> None:
    torch.manual_seed(seed)
    channels = shape[1]
    where = f"BatchNorm1dScratch({channels}, eps={eps:g}, momentum={momentum:g}) on {shape} inputs"
    theirs = nn.BatchNorm1d(channels, eps=eps, momentum=momentum)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 2.0)
        theirs.bias.normal_()
    mine = _new_student_bn(cls, channels, eps=eps, momentum=momentum)
    _check_bn_structure(mine, channels)
    with torch.no_grad():
        mine.weight.copy_(theirs.weight)
        mine.bias.copy_(theirs.bias)
    mine.train()
    view = (1, -1, 1) if len(shape) == 3 else (1, -1)
    for step in range(1, 4):
        spread = torch.rand(channels).add(0.5).view(view) * step
        x = torch.randn(shape) * spread + torch.randn(channels).view(view) * 3
        old_mean, old_var = theirs.running_mean.clone(), theirs.running_var.clone()
        x_mine, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
        with _no_builtin_norms(_BN_REASON):
            out_mine = call(mine, x_mine, what=f"{where}: forward pass in training mode")
        out_theirs = theirs(x_theirs)
        dims = (0, 2) if len(shape) == 3 else (0,)
        x_hat_unbiased = (x - x.mean(dims, keepdim=True)) / torch.sqrt(x.var(dims, keepdim=True) + eps)
        _diagnose(out_mine, out_theirs, what=f"{where}, training step {step}: the output",
                  hint="In training mode normalize each feature with the mean and the BIASED variance "
                       "(divide by n) of the current batch, then scale by weight and shift by bias. "
                       "For (N, C, L) inputs the statistics of channel c are over dims 0 and 2.",
                  known_mistakes={
                      "normalize with the biased variance of the batch (divide by n, "
                      "x.var(dim, correction=0)), as nn.BatchNorm1d does; only running_var uses the "
                      "unbiased one.": x_hat_unbiased * theirs.weight.detach().view(view)
                                        + theirs.bias.detach().view(view),
                      "in training mode, normalize with the statistics of the current batch, not "
                      "with the running statistics.": F.batch_norm(
                          x, old_mean, old_var, theirs.weight.detach(), theirs.bias.detach(),
                          False, 0.0, eps),
                  })
        upstream = torch.randn_like(out_theirs)
        out_theirs.backward(upstream)
        with _no_builtin_norms(_BN_REASON):
            call(out_mine.backward, upstream, what=f"{where}: backward pass")
        expect(x_mine.grad is not None,
               f"{where}: no gradient reached the input: keep the computation differentiable "
               "(no .detach() or torch.no_grad() on the output path).")
        expect_close(x_mine.grad, x_theirs.grad, what=f"{where}, step {step}: gradient of the input",
                     rtol=1e-3, atol=1e-4,
                     hint="Let autograd flow through the batch mean and variance: compute them from x "
                          "without .detach() or torch.no_grad() (only the running statistics are updated "
                          "outside autograd).")
        mean_mistakes, var_mistakes = _bn_step_mistakes(old_mean, old_var, x, momentum)
        expect(not mine.running_mean.requires_grad and not mine.running_var.requires_grad,
               f"{where}: running_mean or running_var requires grad after a training step: update the "
               "running statistics inside `with torch.no_grad():` (or from detached statistics), or "
               "every step keeps the previous step's autograd graph alive.")
        _diagnose(mine.running_mean, theirs.running_mean, what=f"{where}, after step {step}: running_mean",
                  hint="running_mean = (1 − momentum) · running_mean + momentum · batch mean.",
                  known_mistakes=mean_mistakes)
        _diagnose(mine.running_var, theirs.running_var, what=f"{where}, after step {step}: running_var",
                  rtol=1e-4, atol=1e-5,
                  hint="running_var = (1 − momentum) · running_var + momentum · unbiased batch variance.",
                  known_mistakes=var_mistakes)
        count = mine.num_batches_tracked
        expect(isinstance(count, torch.Tensor) and count.numel() == 1 and int(count) == step,
               f"{where}: num_batches_tracked should be {step} after {step} training batches, got "
               f"{count.tolist() if isinstance(count, torch.Tensor) else count}: add 1 to it at every "
               "forward pass in training mode (in place: self.num_batches_tracked += 1).")
    expect_close(mine.weight.grad, theirs.weight.grad, what=f"{where}: gradient of weight (γ)",
                 rtol=1e-3, atol=1e-4, hint="The output is weight · x̂ + bias, with x̂ the normalized input.")
    expect_close(mine.bias.grad, theirs.bias.grad, what=f"{where}: gradient of bias (β)",
                 rtol=1e-3, atol=1e-4, hint="The output is weight · x̂ + bias.")

    returned = mine.eval()
    expect(returned is mine and not mine.training,
           "mine.eval() should switch your module to evaluation mode (do not override train() or eval()).")
    theirs.eval()
    for n in (7, 1):
        eval_shape = (n, *shape[1:])
        x = torch.randn(eval_shape) * 2 + 1
        before = {name: getattr(mine, name).clone() for name in ("running_mean", "running_var")}
        count = int(mine.num_batches_tracked)
        with _no_builtin_norms(_BN_REASON), torch.no_grad():
            out_mine = call(mine, x, what=f"{where}: forward pass in eval mode on a batch of {n}")
        with torch.no_grad():
            out_theirs = theirs(x)
        batch_stats = (F.batch_norm(x, None, None, theirs.weight.detach(), theirs.bias.detach(),
                                    True, 0.0, eps) if n > 1 else out_theirs)
        _diagnose(out_mine, out_theirs, what=f"{where}: eval-mode output on a batch of {n}",
                  hint="In eval mode normalize with running_mean and running_var (self.training is False).",
                  known_mistakes={"in eval mode (self.training is False) normalize with running_mean and "
                                  "running_var, not with the statistics of the batch: a model must give "
                                  "the same prediction for an input whatever else is in its batch.":
                                      batch_stats} if n > 1 else {})
        for name, value in before.items():
            expect(torch.equal(getattr(mine, name), value),
                   f"{where}: {name} changed in eval mode: update the running statistics in training "
                   "mode only.")
        expect(int(mine.num_batches_tracked) == count,
               f"{where}: num_batches_tracked changed in eval mode: count training batches only.")
    mine.train()
    theirs.train()
    x = torch.randn(shape) + 2
    with _no_builtin_norms(_BN_REASON), torch.no_grad():
        out_mine = call(mine, x, what=f"{where}: training mode again after eval()")
    expect_close(out_mine, theirs(x), rtol=1e-4, atol=1e-5,
                 what=f"{where}: output back in training mode after .train()",
                 hint="Decide between batch and running statistics from self.training at every call.")


@hidden_test
@_on_one_thread
def test_batch_norm_1d_scratch(BatchNorm1dScratch):
    expect(isinstance(BatchNorm1dScratch, type) and issubclass(BatchNorm1dScratch, nn.Module),
           "BatchNorm1dScratch must be a class that subclasses nn.Module: run the exercise's cell.")
    _bn_run(BatchNorm1dScratch, (16, 6), 1e-5, 0.1, seed=0)
    _bn_run(BatchNorm1dScratch, (8, 4, 10), 1e-3, 0.3, seed=2)
    _bn_run(BatchNorm1dScratch, (3, 5, 6), 1e-2, 0.25, seed=3)
    torch.manual_seed(4)
    mine = _new_student_bn(BatchNorm1dScratch, 5)
    theirs = nn.BatchNorm1d(5)
    for _ in range(3):
        theirs(torch.randn(10, 5) * 2 + 1)
    call(mine.load_state_dict, theirs.state_dict(),
         what="BatchNorm1dScratch(5).load_state_dict(nn.BatchNorm1d(5).state_dict())")
    mine.eval()
    theirs.eval()
    x = torch.randn(6, 5)
    with _no_builtin_norms(_BN_REASON), torch.no_grad():
        out = call(mine, x,
                   what="BatchNorm1dScratch loaded from an nn.BatchNorm1d's state_dict, in eval mode")
    expect_close(out, theirs(x).detach(), rtol=1e-4, atol=1e-5,
                 what="eval-mode output after load_state_dict from a trained nn.BatchNorm1d",
                 hint="Your state_dict must hold the same things as nn.BatchNorm1d's, used the same way.")
    double = _new_student_bn(BatchNorm1dScratch, 3).double()
    expect(double.running_mean.dtype == torch.float64,
           "after .double(), running_mean should be float64: register it as a buffer.")


# --- Exercise 4: layer_norm --------------------------------------------------------------------

_LN_REASON = ("layer_norm must compute the normalization itself: do not use F.layer_norm, nn.LayerNorm "
              "or another normalization function of PyTorch (torch.mean, torch.var, torch.sqrt are fine).")


def _trailing(normalized_shape) -> tuple[int, ...]:
    return (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)


def _ln_mistakes(x: torch.Tensor, shape: tuple[int, ...], weight, bias,
                 eps: float) -> dict[str, torch.Tensor]:
    dims = tuple(range(-len(shape), 0))

    def affine(out: torch.Tensor) -> torch.Tensor:
        out = out * weight if weight is not None else out
        return out + bias if bias is not None else out

    mistakes = {
        "layer norm normalizes each sample over its own trailing dimensions (the last "
        "len(normalized_shape) ones), not over the batch dimension: that is batch norm.":
            affine((x - x.mean(0, keepdim=True)) / torch.sqrt(x.var(0, keepdim=True, correction=0) + eps)),
        "use the biased variance (divide by the number of values normalized, x.var(..., correction=0)), "
        "as F.layer_norm does.":
            affine((x - x.mean(dims, keepdim=True)) / torch.sqrt(x.var(dims, keepdim=True) + eps)),
        "ε goes inside the square root: (x − μ) / √(σ² + ε).":
            affine((x - x.mean(dims, keepdim=True)) / (x.var(dims, keepdim=True, correction=0).sqrt() + eps)),
    }
    if len(shape) > 1:
        mistakes[f"normalized_shape={shape} means statistics over the last {len(shape)} dimensions "
                 "together, not over the last one only."] = affine(
            (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, correction=0) + eps))
    return mistakes


@hidden_test
@_on_one_thread
def test_layer_norm(layer_norm):
    cases = [((4, 10), 10, False, 1e-5), ((4, 10), (10,), True, 1e-5), ((3, 5, 6), (6,), True, 1e-5),
             ((3, 5, 6), (5, 6), True, 1e-5), ((2, 3, 4, 4), (3, 4, 4), False, 1e-5),
             ((2, 3, 4, 4), torch.Size([4, 4]), True, 0.1), ((6, 3), (3,), False, 1e-5),
             ((5, 4), 4, False, 0.5)]
    for index, (shape, normalized_shape, affine, eps) in enumerate(cases):
        torch.manual_seed(20 + index)
        trailing = _trailing(normalized_shape)
        x = torch.randn(shape) * 3 + torch.randn(shape[-1]) * 2
        if eps >= 0.5:
            x = x * 0.3
        weight = torch.randn(trailing).requires_grad_() if affine else None
        bias = torch.randn(trailing).requires_grad_() if affine else None
        where = (f"layer_norm(x of shape {shape}, {normalized_shape!r}"
                 f"{', weight, bias' if affine else ''}, eps={eps:g})")
        x_mine, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
        kwargs = {"weight": weight, "bias": bias} if affine else {}
        with _no_builtin_norms(_LN_REASON):
            got = call(layer_norm, x_mine, normalized_shape, eps=eps, what=where, **kwargs)
        expected = F.layer_norm(x_theirs, trailing, weight, bias, eps)
        with torch.no_grad():
            mistakes = _ln_mistakes(x, trailing, weight, bias, eps)
        _diagnose(got, expected, what=where, known_mistakes=mistakes,
                  hint="For each sample, mean and biased variance over the last len(normalized_shape) "
                       "dimensions, (x − μ) / √(σ² + ε), then times weight and plus bias when given.")
        upstream = torch.randn(shape)
        theirs_grads = torch.autograd.grad(expected, [x_theirs] + ([weight, bias] if affine else []),
                                           upstream)
        expect(got.requires_grad, f"{where}: the output is cut off from autograd: keep it differentiable.")
        mine_grads = torch.autograd.grad(got, [x_mine] + ([weight, bias] if affine else []), upstream,
                                         allow_unused=True)
        for name, mine_grad, theirs_grad in zip(("x", "weight", "bias"), mine_grads, theirs_grads):
            expect(mine_grad is not None, f"{where}: no gradient reached {name}.")
            expect_close(mine_grad, theirs_grad, rtol=1e-3, atol=1e-4, what=f"{where}: gradient of {name}",
                         hint="Compute the mean and the variance from x without .detach(): autograd "
                              "must see them.")


# --- Exercise 5: fuse_linear_bn ----------------------------------------------------------------

@hidden_test
@_on_one_thread
def test_fuse_linear_bn(fuse_linear_bn):
    cases = [(5, 4, True, 1e-5, False), (6, 6, False, 1e-3, False), (3, 7, True, 1e-1, True),
             (8, 2, False, 1e-5, True)]
    for index, (n_in, n_out, has_bias, eps, bn_training) in enumerate(cases):
        torch.manual_seed(30 + index)
        linear = nn.Linear(n_in, n_out, bias=has_bias)
        bn = nn.BatchNorm1d(n_out, eps=eps)
        with torch.no_grad():
            if has_bias:
                linear.bias.normal_(0, 2)
            bn.weight.uniform_(0.5, 2.0)
            bn.bias.normal_()
            bn.running_mean.normal_(0, 2)
            bn.running_var.uniform_(0.05, 3.0)
        bn.train(bn_training)
        where = (f"fuse_linear_bn(nn.Linear({n_in}, {n_out}{'' if has_bias else ', bias=False'}), "
                 f"nn.BatchNorm1d({n_out}, eps={eps:g}){' in training mode' if bn_training else ''})")
        snapshot = {f"linear.{k}": v.clone() for k, v in linear.state_dict().items()}
        snapshot.update({f"bn.{k}": v.clone() for k, v in bn.state_dict().items()})
        pair = nn.Sequential(copy.deepcopy(linear), copy.deepcopy(bn)).eval()
        with forbidden(torch.nn.utils.fusion, ("fuse_linear_bn_eval", "fuse_linear_bn_weights"),
                       "fuse_linear_bn must compute the fused weight and bias itself, not call "
                       "torch.nn.utils.fusion."):
            fused = call(fuse_linear_bn, linear, bn, what=where)
        current = {f"linear.{k}": v for k, v in linear.state_dict().items()}
        current.update({f"bn.{k}": v for k, v in bn.state_dict().items()})
        expect(set(current) == set(snapshot), f"{where} added or removed parameters of its inputs.")
        _unchanged(current, snapshot, f"{where} must not modify linear or bn: build and return a new "
                                      "nn.Linear (the original pair may still be in use)")
        expect(isinstance(fused, nn.Linear), f"{where} must return an nn.Linear, got {type(fused).__name__}.")
        expect(fused.weight.shape == (n_out, n_in),
               f"{where}: the fused weight should have shape ({n_out}, {n_in}), "
               f"got {tuple(fused.weight.shape)}.")
        expect(fused.bias is not None,
               f"{where}: the fused layer needs a bias, even when linear has none: BN's shift becomes it.")
        scale = bn.weight.detach() / torch.sqrt(bn.running_var + eps)
        b = linear.bias.detach() if has_bias else torch.zeros(n_out)
        expected_weight = scale[:, None] * linear.weight.detach()
        expected_bias = scale * (b - bn.running_mean) + bn.bias.detach()
        _diagnose(fused.weight, expected_weight, what=f"{where}: the fused weight",
                  hint="Scale row i of W by γᵢ / √(σ²ᵢ + ε) (running_var and bn.eps): "
                       "W' = diag(γ / √(σ² + ε)) W.",
                  known_mistakes={
                      "ε is missing: the scale is γ / √(running_var + eps).":
                          (bn.weight.detach() / torch.sqrt(bn.running_var))[:, None] * linear.weight.detach(),
                      "scale the ROWS of W (one per output feature), not its columns: "
                      "scale[:, None] * W.": linear.weight.detach() * scale[None, :]
                      if n_in == n_out else torch.zeros(0),
                  })
        _diagnose(fused.bias, expected_bias, what=f"{where}: the fused bias",
                  hint="b' = γ · (b − running_mean) / √(running_var + ε) + β "
                       "(b = 0 when linear has no bias).",
                  known_mistakes={
                      "the fused bias is missing the − running_mean term: b' = γ · (b − μ) / √(σ² + ε) + β, "
                      "with μ = bn.running_mean.": scale * b + bn.bias.detach(),
                      "the fused bias is missing BN's shift β (bn.bias): b' = γ · (b − μ) / √(σ² + ε) + β.":
                          scale * (b - bn.running_mean),
                  })
        x = torch.randn(9, n_in)
        with torch.no_grad():
            expect_close(fused(x), pair(x), rtol=1e-4, atol=1e-5,
                         what=f"{where}: fused(x) against bn(linear(x))",
                         hint="The fused layer must compute exactly what the pair computes in eval mode.")


# --- Concept questions ---------------------------------------------------------------------------

@hidden_test
def test_q1_momentum(Q1):
    expect_choice(Q1, ref.Q1, question="Q1")


@hidden_test
def test_q2_keras_momentum(Q2):
    expect_number(Q2, ref.Q2, question="Q2")


@hidden_test
def test_q3_state_dict_size(Q3):
    expect_number(Q3, ref.Q3, question="Q3", rel_tol=1e-9)


@hidden_test
def test_q4_no_bias(Q4):
    expect_choice(Q4, ref.Q4, question="Q4")


@hidden_test
def test_q5_batch_of_two(Q5):
    expect_number(Q5, ref.Q5, question="Q5")


@hidden_test
def test_q6_layer_norm(Q6):
    expect_choice(Q6, ref.Q6, question="Q6")
