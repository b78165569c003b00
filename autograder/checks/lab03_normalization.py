"""Checks of lab 03, Batch norm and layer norm: one per grade cell, named after it, reading the
records of the probes in autograder/probes/lab03_normalization.py (the student's as `got`, the
reference's as `want`).

Outputs, gradients and running statistics are compared with the reference's record, and so is
each contract the probes try (dtype kept for float64 and bfloat16 inputs, a float64 module and
fused layer, the module's state_dict(), layer_norm's lone weight or bias, the caller's layers left
in their modes): a contract that fails says which one in one sentence. ZCA and
the fused Linear layer are compared with what PyTorch gives here (`torch.cov` and
`torch.linalg.eigh` in float64, a Linear layer followed by a BatchNorm1d layer in eval mode).
BatchNormFunction and LayerNormFunction are judged against autograd of F.batch_norm and
F.layer_norm in float64, to 1e-10 relative, so that float32 arithmetic anywhere fails.
When an answer is wrong, the checks compute the usual wrong answers from the probe's inputs
(rebuilt here from the same seeded functions) to say which mistake it makes.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from autograder.checks.core import (
    choice_question,
    expect,
    expect_close,
    expect_tensor,
    fail,
    number_question,
)
from autograder.probes.lab03_normalization import (
    BN_CASES,
    BN_DOUBLE_CALLS,
    BN_DOUBLE_WHAT,
    BN_EVAL_BATCHES,
    BN_STEPS,
    FUSE_CASES,
    FUSE_CONTRACTS,
    LN_CASES,
    LN_CONTRACTS,
    NORM_FUNCTION_CASES,
    NORM_GRADCHECK,
    NORM_INPUT_NAMES,
    STANDARDIZE_DTYPES,
    ZCA_CASES,
    ZCA_DEFAULT_WHAT,
    ZCA_DOUBLE_WHAT,
    ZCA_SMALL_SHAPE,
    ZCA_SMALL_WHAT,
    bn_inputs,
    bn_view,
    bn_where,
    fuse_contract_inputs,
    fuse_contract_where,
    fuse_inputs,
    fuse_where,
    ln_contract_inputs,
    ln_contract_where,
    ln_inputs,
    ln_where,
    norm_function_inputs,
    norm_function_where,
    standardize_images,
    standardize_splits,
    standardize_where,
    trailing,
    zca_input,
    zca_small_input,
    zca_where,
)


def _close(a: object, b: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """Whether tensor `a` matches `b` in shape and values (False for anything that is not a tensor)."""
    if type(a) is not torch.Tensor or a.shape != b.shape:
        return False
    return torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol, equal_nan=False)


def _diagnose(actual: object, expected: torch.Tensor, *, what: str, hint: str,
              known_mistakes: dict[str, torch.Tensor], rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Pass if `actual` matches `expected`; otherwise name the known mistake it matches, if any."""
    if _close(actual, expected, rtol, atol):
        return
    for message, wrong_value in known_mistakes.items():
        if _close(actual, wrong_value, rtol, atol):
            fail(f"{what}: {message}")
    expect_close(actual, expected, what=what, rtol=rtol, atol=atol, hint=hint)


def _kind(value: object) -> str:
    if type(value) is dict and set(value) == {"type"}:
        return str(value["type"])
    return type(value).__name__


def _returned_tuple(got, key: str, length: int, message: str) -> list:
    """The recorded result under `key` if it was a tuple of `length` items; else fail."""
    returned = got[key]
    expect(got[f"{key} is a tuple"] is True and type(returned) is list and len(returned) == length,
           message)
    return returned


# --- Contracts: what the student's code returned on a contract's input, or what it raised -------

DTYPE_ADVICE = ("keep the input's dtype: compute with the input's own tensors and build any new one "
                "with dtype=x.dtype (or torch.zeros_like, x.new_zeros), never casting with .float()")


def _name(dtype: object) -> str:
    return str(dtype).removeprefix("torch.")


def _contract_result(got, key: str, advice: str) -> object:
    """What the student's code returned on the contract's input `key`; fail if it raised."""
    outcome = got[key]
    expect(type(outcome) is dict and ("returned" in outcome or "raised" in outcome),
           f"{key}: the hidden tests could not read what your code returned.")
    if "raised" in outcome:
        fail(f"{key} raised {outcome['raised']} ({outcome.get('message')}): {advice}.")
    return outcome["returned"]


def _facts(value: object) -> str:
    """A recorded tensor_facts as words: "float32", or what it was instead."""
    if type(value) is dict and "dtype" in value:
        return _name(value["dtype"])
    return "missing" if _kind(value) == "NoneType" else f"a {_kind(value)}"


# --- Exercise 1: standardize -------------------------------------------------------------------

def test_standardize(got, want):
    where = "standardize(train, valid, test)"
    returned = got[where]
    kind = got[f"{where} type"]
    expect(got[f"{where} is a tuple"] is True and type(returned) is list and len(returned) == 3,
           "standardize(train, valid, test) must return a tuple of 3 tensors (train first, then the "
           f"others in order), got {kind if type(kind) is str else _kind(returned)}"
           f"{f' of length {len(returned)}' if type(returned) is list else ''}.")
    unchanged = got[f"{where} left its inputs unchanged"]
    splits = standardize_splits()
    for name in splits:
        expect(type(unchanged) is dict and unchanged.get(name) is True,
               "standardize must not modify its inputs: return new tensors (x = x - mean, not "
               f"x -= mean) ({name} changed).")
    train = splits["train"]
    mean = train.mean(0)
    everything = torch.cat(list(splits.values()))
    all_mean, all_std = everything.mean(0), everything.std(0)
    for (name, split), mine, theirs in zip(splits.items(), returned, want[where]):
        own_mean, own_std = split.mean(0), split.std(0)
        _diagnose(mine, theirs, what=f"standardize: the {name} split", rtol=3e-3, atol=1e-4,
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
    _returned_tuple(got, "standardize(train)", 1,
                    "standardize(train) with no other split must return a tuple of one tensor: "
                    "(train_std,).")

    where = "standardize(images, more_images)"
    images, more = _returned_tuple(got, where, 2, "standardize must return one tensor per split.")
    _, more_images = standardize_images()
    expect(type(more) is torch.Tensor and more.shape == more_images.shape,
           "standardize must keep each split's shape (statistics per feature over dimension 0).")
    expect(type(images) is torch.Tensor and bool(torch.isfinite(images).all())
           and bool(torch.isfinite(more).all()),
           "standardize returned inf or NaN: a feature that is constant in the training split has "
           "std 0; divide it by 1 instead (it is only centered), as scikit-learn's StandardScaler does.")
    expect_close(more, want[where][1], what="standardize on images: a pixel constant in the training split",
                 rtol=3e-3, atol=1e-4,
                 hint="Per-pixel statistics over dimension 0; a pixel whose training std is 0 is only "
                      "centered (divided by 1).")

    for dtype in STANDARDIZE_DTYPES:
        where = standardize_where(dtype)
        _expect_dtypes_kept(got, want, where, f"{where} left its inputs unchanged",
                            "its inputs: return new tensors (x = x - mean, not x -= mean)")



def _expect_dtypes_kept(got, want, where: str, unchanged_key: str, modified: str) -> None:
    """A float64 or bfloat16 call: its inputs left as they were, its tensors in the reference's dtypes."""
    dtypes = _contract_result(got, where, DTYPE_ADVICE)
    expect(got[unchanged_key] is True, f"{where} modified {modified}.")
    shown = ", ".join(_name(d) for d in dtypes) if type(dtypes) is list else dtypes
    expect(type(dtypes) is list and dtypes == want[where]["returned"],
           f"{where} returned {shown} tensors: {DTYPE_ADVICE}.")

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


def _zca_small_W(got, where: str) -> torch.Tensor:
    """The W that zca_whiten returned on the small batch, in float64; fail if it is no (D, D) tensor."""
    d = ZCA_SMALL_SHAPE[1]
    _, W = _returned_tuple(got, where, 2, f"{where} must return a tuple (whitened, W).")
    expect(type(W) is torch.Tensor and W.shape == (d, d), f"{where}: W must be a ({d}, {d}) matrix.")
    return W.double()


def _check_zca_small(got) -> None:
    """On 10 samples, W is the reference's with the covariance divided by N − 1 or by N (both
    accepted, 5% apart), and the default eps is the signature's 1e-5."""
    n, _ = ZCA_SMALL_SHAPE
    W = _zca_small_W(got, ZCA_SMALL_WHAT)
    centered = zca_small_input().double()
    centered = centered - centered.mean(0)
    accepted = []
    for divisor in (n - 1, n):
        eigenvalues, U = torch.linalg.eigh(centered.T @ centered / divisor)
        accepted.append(U @ torch.diag(1 / torch.sqrt(eigenvalues.clamp_min(0) + 1e-5)) @ U.T)
    scale = accepted[0].abs().max().item()
    expect(any(_close(W, wanted, rtol=1e-3, atol=1e-3 * scale) for wanted in accepted),
           f"{ZCA_SMALL_WHAT}: W matches neither the covariance divided by N − 1 nor by N: compute "
           "C = Xcᵀ Xc / (N − 1) (as torch.cov does) or / N, with N the number of rows of X.")
    default = _zca_small_W(got, ZCA_DEFAULT_WHAT)
    expect(_close(default, W, rtol=1e-4, atol=1e-4 * scale),
           f"{ZCA_DEFAULT_WHAT} returned another W than with eps=1e-05: keep the signature's "
           "default, zca_whiten(X, eps=1e-5).")


def test_zca_whiten(got, want):
    for case, (n, d, eps) in enumerate(ZCA_CASES):
        where = zca_where(n, d, eps)
        whitened, W = _returned_tuple(got, where, 2, f"{where} must return a tuple (whitened, W).")
        expect(got[f"{where} left X unchanged"] is True, f"{where} modified X: return new tensors instead.")
        expect(type(whitened) is torch.Tensor and whitened.shape == (n, d),
               f"{where}: whitened must have the shape of X, ({n}, {d}).")
        expect(type(W) is torch.Tensor and W.shape == (d, d), f"{where}: W must be a ({d}, {d}) matrix.")
        X = zca_input(case)
        expected_whitened, expected_W = _zca_reference(X, eps)
        scale = expected_W.abs().max().item()
        W64 = W.double()
        expect(torch.allclose(W64, W64.T, atol=1e-4 * scale),
               f"{where}: W is not symmetric. ZCA rotates back after scaling: W = U diag(1/√(λ + ε)) Uᵀ. "
               "Without the final Uᵀ you get PCA whitening, which also decorrelates but rotates the data.")
        whitened64 = whitened.double()
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
    _expect_dtypes_kept(got, want, ZCA_DOUBLE_WHAT, f"{ZCA_DOUBLE_WHAT} left X unchanged",
                        "X: return new tensors instead")
    _check_zca_small(got)


# --- Exercise 3: BatchNorm1dScratch ------------------------------------------------------------

def _check_bn_structure(state: object, num_features: int) -> None:
    expect(type(state) is dict and type(state.get("parameters")) is dict
           and type(state.get("buffers")) is dict, "BatchNorm1dScratch must subclass nn.Module.")
    parameters, buffers = state["parameters"], state["buffers"]
    expect(set(parameters) == {"weight", "bias"},
           f"BatchNorm1dScratch's nn.Parameters should be exactly weight (γ) and bias (β), found "
           f"{sorted(parameters) or 'none'}. The running statistics are not learned by gradient "
           "descent: register them with self.register_buffer, not as nn.Parameter.")
    expect(set(buffers) == {"running_mean", "running_var", "num_batches_tracked"},
           f"BatchNorm1dScratch's buffers should be running_mean, running_var and num_batches_tracked, "
           f"found {sorted(buffers) or 'none'}. Register each with self.register_buffer(name, tensor): "
           "a plain tensor attribute is not saved in state_dict() and does not move with .to(device).")
    for name, value in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
        tensor = expect_tensor(parameters.get(name, buffers.get(name)), what=f"BatchNorm1dScratch's {name}")
        expect(tensor.shape == (num_features,),
               f"{name} should have shape ({num_features},), one value per feature, "
               f"got {tuple(tensor.shape)}.")
        expect(bool((tensor == value).all()), f"{name} should start at {value:g} for every feature, "
                                              "as in nn.BatchNorm1d.")
    count = buffers["num_batches_tracked"]
    expect(type(count) is torch.Tensor and count.numel() == 1 and int(count) == 0,
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


def _attributes(got, key: str) -> dict:
    seen = got[key]
    expect(type(seen) is dict, f"{key}: the hidden tests could not read your module's attributes.")
    return seen


def _count(value: object) -> int | None:
    if type(value) is torch.Tensor and value.numel() == 1:
        return int(value)
    return None


def _check_bn_run(got, want, case: int) -> None:
    shape, eps, momentum, _ = BN_CASES[case]
    channels = shape[1]
    where = bn_where(shape, eps, momentum)
    inputs = bn_inputs(case)
    weight, bias, view = inputs["weight"], inputs["bias"], bn_view(shape)
    dims = (0, 2) if len(shape) == 3 else (0,)
    got[f"{where}: built"]
    expect(got[f"{where}: is an nn.Module"] is True, "BatchNorm1dScratch must subclass nn.Module.")
    _check_bn_structure(got[f"{where}: initial state"], channels)
    got[f"{where}: weight and bias set"]
    got[f"{where}: train()"]
    old_mean, old_var = torch.zeros(channels), torch.ones(channels)
    for step in BN_STEPS:
        x = inputs[f"x{step}"]
        key = f"{where}, training step {step}"
        x_hat_unbiased = (x - x.mean(dims, keepdim=True)) / torch.sqrt(x.var(dims, keepdim=True) + eps)
        _diagnose(got[f"{key}: output"], want[f"{key}: output"], what=f"{key}: the output",
                  hint="In training mode normalize each feature with the mean and the BIASED variance "
                       "(divide by n) of the current batch, then scale by weight and shift by bias. "
                       "For (N, C, L) inputs the statistics of channel c are over dims 0 and 2.",
                  known_mistakes={
                      "normalize with the biased variance of the batch (divide by n, "
                      "x.var(dim, correction=0)), as nn.BatchNorm1d does; only running_var uses the "
                      "unbiased one.": x_hat_unbiased * weight.view(view) + bias.view(view),
                      "in training mode, normalize with the statistics of the current batch, not "
                      "with the running statistics.": F.batch_norm(
                          x, old_mean, old_var, weight, bias, False, 0.0, eps),
                  })
        got[f"{key}: backward"]
        grad = got[f"{key}: gradient of the input"]
        expect(grad is not None,
               f"{where}: no gradient reached the input: keep the computation differentiable "
               "(no .detach() or torch.no_grad() on the output path).")
        expect_close(grad, want[f"{key}: gradient of the input"],
                     what=f"{where}, step {step}: gradient of the input", rtol=1e-3, atol=1e-4,
                     hint="Let autograd flow through the batch mean and variance: compute them from x "
                          "without .detach() or torch.no_grad() (only the running statistics are updated "
                          "outside autograd).")
        mine, theirs = _attributes(got, f"{where}, after step {step}"), want[f"{where}, after step {step}"]
        expect(all(mine.get(f"{name} requires grad") is False for name in ("running_mean", "running_var")),
               f"{where}: running_mean or running_var requires grad after a training step: update the "
               "running statistics inside `with torch.no_grad():` (or from detached statistics), or "
               "every step keeps the previous step's autograd graph alive.")
        mean_mistakes, var_mistakes = _bn_step_mistakes(old_mean, old_var, x, momentum)
        _diagnose(mine.get("running_mean"), theirs["running_mean"],
                  what=f"{where}, after step {step}: running_mean",
                  hint="running_mean = (1 − momentum) · running_mean + momentum · batch mean.",
                  known_mistakes=mean_mistakes)
        _diagnose(mine.get("running_var"), theirs["running_var"],
                  what=f"{where}, after step {step}: running_var", rtol=1e-4, atol=1e-5,
                  hint="running_var = (1 − momentum) · running_var + momentum · unbiased batch variance.",
                  known_mistakes=var_mistakes)
        count = mine.get("num_batches_tracked")
        expect(_count(count) == step,
               f"{where}: num_batches_tracked should be {step} after {step} training batches, got "
               f"{count.tolist() if type(count) is torch.Tensor else _kind(count)}: add 1 to it at every "
               "forward pass in training mode (in place: self.num_batches_tracked += 1).")
        old_mean, old_var = theirs["running_mean"], theirs["running_var"]
    for name, hint in (("weight", "The output is weight · x̂ + bias, with x̂ the normalized input."),
                       ("bias", "The output is weight · x̂ + bias.")):
        symbol = "γ" if name == "weight" else "β"
        expect_close(mine.get(f"{name} grad"), want[f"{where}, after step {BN_STEPS[-1]}"][f"{name} grad"],
                     what=f"{where}: gradient of {name} ({symbol})", rtol=1e-3, atol=1e-4, hint=hint)

    got[f"{where}: eval()"]
    before = _attributes(got, f"{where}: after eval()")
    expect(got[f"{where}: eval() returns the module"] is True and before.get("training") is False,
           "mine.eval() should switch your module to evaluation mode (do not override train() or eval()).")
    for n in BN_EVAL_BATCHES:
        key = f"{where}: eval-mode output on a batch of {n}"
        x = inputs[f"eval{n}"]
        batch_stats = F.batch_norm(x, None, None, weight, bias, True, 0.0, eps) if n > 1 else None
        _diagnose(got[key], want[key], what=f"{where}: eval-mode output on a batch of {n}",
                  hint="In eval mode normalize with running_mean and running_var (self.training is False).",
                  known_mistakes={"in eval mode (self.training is False) normalize with running_mean and "
                                  "running_var, not with the statistics of the batch: a model must give "
                                  "the same prediction for an input whatever else is in its batch.":
                                      batch_stats} if n > 1 else {})
        after = _attributes(got, f"{where}: after the eval batch of {n}")
        for name in ("running_mean", "running_var"):
            value, previous = after.get(name), before.get(name)
            expect(type(value) is torch.Tensor and type(previous) is torch.Tensor
                   and torch.equal(value, previous),
                   f"{where}: {name} changed in eval mode: update the running statistics in training "
                   "mode only.")
        expect(_count(after.get("num_batches_tracked")) == _count(before.get("num_batches_tracked")),
               f"{where}: num_batches_tracked changed in eval mode: count training batches only.")
        before = after
    got[f"{where}: train() again"]
    key = f"{where}: output back in training mode"
    expect_close(got[key], want[key], rtol=1e-4, atol=1e-5, what=key,
                 hint="Decide between batch and running statistics from self.training at every call.")


BN_ADVICE = ("build every tensor your module or its forward pass creates like the input (x.new_zeros(C), "
             "torch.zeros_like, dtype=x.dtype, device=x.device) and register what the module holds as a "
             "parameter or buffer, so that .double() and .to(device) convert it")


def _check_bn_state_dict(keys: object, expected: list) -> None:
    expect(type(keys) is list,
           "BatchNorm1dScratch(3).state_dict(): the hidden tests could not read its keys.")
    missing = [key for key in expected if key not in keys]
    expect(not missing,
           f"BatchNorm1dScratch's state_dict() lacks {', '.join(missing)}: register it with "
           "self.register_buffer(name, tensor) (persistent, the default), so that it is saved and "
           "loaded with the model as in nn.BatchNorm1d.")
    extra = [str(key) for key in keys if key not in expected]
    expect(not extra,
           f"BatchNorm1dScratch's state_dict() holds {', '.join(extra)}, which nn.BatchNorm1d's does not: "
           f"keep exactly {', '.join(expected)}.")


def _check_bn_double(got, want) -> None:
    """The module after .double() keeps every tensor and output in float64, to float64 precision."""
    what = BN_DOUBLE_WHAT
    _contract_result(got, f"{what}: built", BN_ADVICE)
    for call, (shape, training) in enumerate(BN_DOUBLE_CALLS):
        key = f"{what}: call {call}"
        mode = "training" if training else "eval"
        output, expected = _contract_result(got, key, BN_ADVICE), want[key]["returned"]
        expect_tensor(output, what=f"{what}: the output in {mode} mode")
        expect(output.dtype == expected.dtype and output.shape == expected.shape,
               f"{what}: the output on a {shape} input in {mode} mode is {_name(output.dtype)} of shape "
               f"{tuple(output.shape)}, not float64 of shape {shape}: {BN_ADVICE}.")
        gap = (output - expected).abs().max().item() if output.numel() else 0.0
        expect(gap <= 1e-9 * (1 + expected.abs().max().item()),
               f"{what}: the output on a {shape} input in {mode} mode is off by {gap:.2g} from batch "
               f"norm computed in float64, as if part of it were computed in float32: {BN_ADVICE}.")
        held, wanted = got[f"{key}: held"], want[f"{key}: held"]
        expect(type(held) is dict, f"{what}: the hidden tests could not read its parameters and buffers.")
        for name, value in wanted.items():
            mine = held.get(name)
            if not value.is_floating_point():  # a count: its dtype is not judged
                continue
            expect(type(mine) is torch.Tensor and mine.dtype == value.dtype and mine.shape == value.shape
                   and bool(((mine - value).abs() <= 1e-9 * (1 + value.abs())).all()),
                   f"{what}: after a call in {mode} mode its {name} is "
                   f"{_name(mine.dtype) if type(mine) is torch.Tensor else _kind(mine)} (or off in value), "
                   f"not float64 as the reference's: {BN_ADVICE}.")


def test_batch_norm_1d_scratch(got, want):
    expect(got["is an nn.Module class"] is True,
           "BatchNorm1dScratch must be a class that subclasses nn.Module: run the exercise's cell.")
    for case in range(len(BN_CASES)):
        _check_bn_run(got, want, case)
    _check_bn_state_dict(got["state_dict keys"], want["state_dict keys"])
    got["loaded: built"]
    got["loaded: load_state_dict"]
    got["loaded: eval()"]
    expect_close(got["loaded: eval-mode output"], want["loaded: eval-mode output"], rtol=1e-4, atol=1e-5,
                 what="eval-mode output after load_state_dict from a trained nn.BatchNorm1d",
                 hint="Your state_dict must hold the same things as nn.BatchNorm1d's, used the same way.")
    got["double: built"]
    expect(got["double: running_mean dtype"] == "torch.float64",
           "after .double(), running_mean should be float64: register it as a buffer.")
    _check_bn_double(got, want)


# --- Exercise 4: layer_norm --------------------------------------------------------------------

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


AFFINE_ADVICE = ("apply weight and bias each on its own whenever it is given (out = out * weight if "
                 "weight is not None; out = out + bias if bias is not None)")
# Per dtype of a contract's input: (rtol, atol) against the reference's output in that dtype.
LN_TOLERANCES = {torch.float32: (1e-4, 1e-5), torch.float64: (1e-9, 1e-9), torch.bfloat16: (2e-2, 5e-2)}


def _check_ln_contract(got, want, contract: int) -> None:
    _, _, normalized_shape, dtype, given = LN_CONTRACTS[contract]
    where = ln_contract_where(contract)
    affine = dtype == torch.float32  # the float32 contracts are those of a lone weight or bias
    output = _contract_result(got, where, AFFINE_ADVICE if affine else DTYPE_ADVICE)
    expected = want[where]["returned"]
    expect_tensor(output, what=where)
    expect(output.shape == expected.shape,
           f"{where} returned a tensor of shape {tuple(output.shape)}: keep x's shape "
           f"{tuple(expected.shape)}.")
    expect(output.dtype == expected.dtype,
           f"{where} returned {_name(output.dtype)}, not {_name(expected.dtype)}: {DTYPE_ADVICE}.")
    rtol, atol = LN_TOLERANCES[dtype]
    if _close(output, expected, rtol, atol):
        return
    if affine:
        inputs = ln_contract_inputs(contract)
        x, dims = inputs["x"], tuple(range(-len(trailing(normalized_shape)), 0))
        plain = (x - x.mean(dims, keepdim=True)) / torch.sqrt(x.var(dims, keepdim=True, correction=0) + 1e-5)
        alone = given[0]
        expect(not _close(output, plain, rtol, atol),
               f"{where} ignored the {alone} given without {'bias' if alone == 'weight' else 'weight'}: "
               f"{AFFINE_ADVICE}.")
        fail(f"{where}: the output is wrong: {AFFINE_ADVICE}.")
    gap = (output.double() - expected.double()).abs().max().item()
    fail(f"{where}: the output is off by {gap:.2g} from layer norm computed in {_name(dtype)}, as if "
         f"part of it were computed in another precision: {DTYPE_ADVICE}.")


def test_layer_norm(got, want):
    for case, (_, normalized_shape, _, eps) in enumerate(LN_CASES):
        where = ln_where(case)
        inputs = ln_inputs(case)
        mistakes = _ln_mistakes(inputs["x"], trailing(normalized_shape), inputs["weight"],
                                inputs["bias"], eps)
        _diagnose(got[where], want[where], what=where, known_mistakes=mistakes,
                  hint="For each sample, mean and biased variance over the last len(normalized_shape) "
                       "dimensions, (x − μ) / √(σ² + ε), then times weight and plus bias when given.")
        expect(got[f"{where}: output requires grad"] is True,
               f"{where}: the output is cut off from autograd: keep it differentiable.")
        mine_grads, theirs_grads = got[f"{where}: gradients"], want[f"{where}: gradients"]
        expect(type(mine_grads) is list and len(mine_grads) == len(theirs_grads),
               f"{where}: the hidden tests could not read the gradients of your output.")
        for name, mine_grad, theirs_grad in zip(("x", "weight", "bias"), mine_grads, theirs_grads):
            expect(mine_grad is not None, f"{where}: no gradient reached {name}.")
            expect_close(mine_grad, theirs_grad, rtol=1e-3, atol=1e-4, what=f"{where}: gradient of {name}",
                         hint="Compute the mean and the variance from x without .detach(): autograd "
                              "must see them.")
    for contract in range(len(LN_CONTRACTS)):
        _check_ln_contract(got, want, contract)


# --- Exercises 5 and 6: BatchNormFunction and LayerNormFunction --------------------------------

# Recorded gradients against autograd of F.batch_norm / F.layer_norm in float64: the compact form
# and every correct rewriting of it agree with it to about 1e-14; float32 anywhere costs 1e-7.
NORM_FUNCTION_RTOL = 1e-10
FLOAT32_RTOL = 1e-4
FLOAT64_ADVICE = ("keep float64 throughout, forward and backward: compute with the input's own tensors, "
                  "never .float()")
NORM_FUNCTION_FORMULAS = {
    "BatchNormFunction": "dβ = Σₙ dy, dγ = Σₙ dy·x̂ (sums over the batch, dimension 0) and "
                         "dx = γ/(Nσ)·(N·dy − Σₙ dy − x̂·Σₙ dy·x̂)",
    "LayerNormFunction": "with dx̂ = γ·dy: dx = 1/(Dσ)·(D·dx̂ − Σ_d dx̂ − x̂·Σ_d dx̂·x̂) (sums over the last "
                         "dimension, keepdim=True), dγ = Σ dy·x̂ and dβ = Σ dy over every leading dimension",
}


def _norm_axis(kind: str) -> int:
    """The dimension the statistics run over: the batch for BN, the last one for LN."""
    return 0 if kind == "BatchNormFunction" else -1


def _norm_function_reference(kind: str, inputs: dict[str, torch.Tensor], eps: float,
                             requires_grad: tuple[bool, ...]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """PyTorch's output, and autograd's gradients of the inputs that require grad, in float64."""
    leaves = [inputs[name].clone().requires_grad_(flag)
              for name, flag in zip(NORM_INPUT_NAMES, requires_grad)]
    x, weight, bias = leaves
    if kind == "BatchNormFunction":
        output = F.batch_norm(x, None, None, weight, bias, training=True, eps=eps)
    else:
        output = F.layer_norm(x, (x.shape[-1],), weight, bias, eps)
    wanted = [leaf for leaf in leaves if leaf.requires_grad]
    return output.detach(), list(torch.autograd.grad(output, wanted, inputs["upstream"]))


def _normalized(x: torch.Tensor, axis: int, eps: float, *, unbiased: bool = False,
                eps_outside: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(x̂, σ) over `axis`, the right way or with one of the usual mistakes."""
    centered = x - x.mean(axis, keepdim=True)
    var = x.var(axis, keepdim=True, correction=1 if unbiased else 0)
    sigma = var.sqrt() + eps if eps_outside else torch.sqrt(var + eps)
    return centered / sigma, sigma


def _output_mistakes(kind: str, inputs: dict[str, torch.Tensor], eps: float) -> dict[str, torch.Tensor]:
    x, weight, bias = (inputs[name] for name in NORM_INPUT_NAMES)
    axis = _norm_axis(kind)
    other = -1 if axis == 0 else 0
    over = "over the batch (dimension 0)" if axis == 0 else "over the last dimension of each row"
    return {
        "use the biased variance (divide by the number of values, x.var(..., correction=0)), as "
        f"{'F.batch_norm' if axis == 0 else 'F.layer_norm'} does.":
            weight * _normalized(x, axis, eps, unbiased=True)[0] + bias,
        "ε goes inside the square root: σ = √(variance + ε).":
            weight * _normalized(x, axis, eps, eps_outside=True)[0] + bias,
        f"the mean and the variance must be taken {over}, not over the other dimension.":
            weight * _normalized(x, other, eps)[0] + bias if x.dim() == 2 else torch.zeros(0),
        "the output is γ·x̂ + β: apply weight and bias.": _normalized(x, axis, eps)[0],
    }


def _x_gradient_mistakes(kind: str, inputs: dict[str, torch.Tensor], eps: float) -> dict[str, torch.Tensor]:
    """dx of the usual mistakes, each computed from the probe's inputs in float64."""
    x, weight, upstream = inputs["x"], inputs["weight"], inputs["upstream"]
    axis = _norm_axis(kind)
    n = x.shape[axis]
    x_hat, sigma = _normalized(x, axis, eps)

    def compact(dy_hat: torch.Tensor, x_hat: torch.Tensor, sigma: torch.Tensor, *, direct: float = 1.0,
                mean_sign: float = -1.0, var_sign: float = -1.0, scale: float | None = None) -> torch.Tensor:
        """1/(Nσ)·(N·dx̂ − Σ dx̂ − x̂·Σ dx̂·x̂) over `axis`, with one of its parts changed."""
        mean_term = dy_hat.sum(axis, keepdim=True)
        var_term = x_hat * (dy_hat * x_hat).sum(axis, keepdim=True)
        factor = 1 / (n * sigma) if scale is None else scale / sigma
        return factor * (direct * n * dy_hat + mean_sign * mean_term + var_sign * var_term)

    dy_hat = weight * upstream
    total = "Σₙ dy" if axis == 0 else "Σ_d dx̂"
    product = "Σₙ dy·x̂" if axis == 0 else "Σ_d dx̂·x̂"
    mistakes = {
        f"dx is missing the mean-gradient term −{total}: moving one input moves the mean, "
        "which shifts every x̂.": compact(dy_hat, x_hat, sigma, mean_sign=0.0),
        f"dx is missing the variance term −x̂·{product}: moving one input changes σ, which "
        "rescales every x̂ (a test with dy = 1 cannot see it).": compact(dy_hat, x_hat, sigma, var_sign=0.0),
        f"the mean-gradient term −{total} has the wrong sign: it is subtracted.":
            compact(dy_hat, x_hat, sigma, mean_sign=1.0),
        f"the variance term −x̂·{product} has the wrong sign: it is subtracted.":
            compact(dy_hat, x_hat, sigma, var_sign=1.0),
        "dx is N times too large: the factor in front is 1/(Nσ), with N the number of values summed.":
            compact(dy_hat, x_hat, sigma, scale=1.0),
        "the direct term is N·dy, not dy: dx = 1/(Nσ)·(N·dy − ...).":
            compact(dy_hat, x_hat, sigma, direct=1 / n),
        "dx is missing the factor γ (weight): the gradient reaches x̂ as dx̂ = γ·dy.":
            compact(upstream, x_hat, sigma),
        "the backward uses σ = √variance + ε: ε goes inside the square root, σ = √(variance + ε), "
        "as in the forward pass.": compact(dy_hat, *_normalized(x, axis, eps, eps_outside=True)),
    }
    if kind == "LayerNormFunction":
        bn_form = weight / (x.shape[0] * sigma) * (x.shape[0] * upstream - upstream.sum(0, keepdim=True)
                                                   - x_hat * (upstream * x_hat).sum(0, keepdim=True))
        mistakes |= {
            "γ varies along the last dimension, so it cannot be taken out of the sums as in batch norm: "
            "use dx̂ = γ·dy inside them, dx = 1/(Dσ)·(D·dx̂ − Σ_d dx̂ − x̂·Σ_d dx̂·x̂).":
                weight * compact(upstream, x_hat, sigma),
            "the sums of dx run over the batch dimension, as in batch norm: layer norm's run over the last "
            "dimension of each row (sum(dim=-1, keepdim=True)), with D = x.shape[-1].": bn_form,
        }
    return mistakes


def _affine_gradient_mistakes(kind: str, inputs: dict[str, torch.Tensor], eps: float,
                              name: str) -> dict[str, torch.Tensor]:
    x, upstream = inputs["x"], inputs["upstream"]
    x_hat, _ = _normalized(x, _norm_axis(kind), eps)
    features = x.shape[-1]
    if name == "weight":
        return {"dγ must be Σ dy·x̂ (this is dβ's Σ dy: are they swapped?).":
                upstream.reshape(-1, features).sum(0)}
    return {"dβ must be Σ dy (this is dγ's Σ dy·x̂: are they swapped?).":
            (upstream * x_hat).reshape(-1, features).sum(0)}


def _tight(actual: object, expected: torch.Tensor, rtol: float = NORM_FUNCTION_RTOL) -> bool:
    scale = max(1.0, expected.abs().max().item()) if expected.numel() else 1.0
    return _close(actual, expected, rtol=rtol, atol=rtol * scale)


def _judge_norm_value(actual: object, expected: torch.Tensor, *, what: str, hint: str,
                      known_mistakes: dict[str, torch.Tensor]) -> None:
    """Pass on float64 agreement; else name the known mistake, or float32 precision, or the gap."""
    expect_tensor(actual, what=what)
    expect(actual.shape == expected.shape,
           f"{what}: expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}.")
    expect(actual.dtype == expected.dtype,
           f"{what} is {_name(actual.dtype)}, not float64 like the inputs: {FLOAT64_ADVICE}.")
    if _tight(actual, expected):
        return
    for message, wrong_value in known_mistakes.items():
        if _tight(actual, wrong_value, rtol=1e-8):
            fail(f"{what}: {message}")
    gap = (actual - expected).abs().max().item()
    if _tight(actual, expected, rtol=FLOAT32_RTOL):
        fail(f"{what} is off by {gap:.2g} from the float64 answer, as if part of it were computed in "
             f"float32 (gradcheck would fail): {FLOAT64_ADVICE}.")
    fail(f"{what}: largest difference {gap:.3g} from PyTorch's in float64. {hint}")


_INVALID_GRADIENT = re.compile(r"invalid gradient at index (\d+) - got \[([^\]]*)\] but expected shape "
                               r"compatible with \[([^\]]*)\]")


def _gradients_outcome(got, key: str, kind: str) -> list:
    """The recorded gradients; a backward that raised fails with what it raised, in words."""
    outcome = got[key]
    expect(type(outcome) is dict and ("returned" in outcome or "raised" in outcome),
           f"{key}: the hidden tests could not read the gradients.")
    if "raised" in outcome:
        message = str(outcome.get("message"))
        shape = _INVALID_GRADIENT.search(message)
        if shape is not None and int(shape.group(1)) < len(NORM_INPUT_NAMES):
            name = NORM_INPUT_NAMES[int(shape.group(1))]
            fail(f"{key}: your backward returned a gradient of shape [{shape.group(2)}] for {name}, whose "
                 f"shape is [{shape.group(3)}]: each gradient has its input's shape; "
                 f"{NORM_FUNCTION_FORMULAS[kind]}.")
        fail(f"{key}: the backward pass raised {outcome['raised']}: {message}")
    return outcome["returned"]


def _check_norm_function_case(got, kind: str, case: int) -> None:
    _, eps, _, requires_grad = NORM_FUNCTION_CASES[kind][case]
    where = norm_function_where(kind, case)
    inputs = norm_function_inputs(kind, case)
    output, expected_gradients = _norm_function_reference(kind, inputs, eps, requires_grad)
    _judge_norm_value(got[f"{where}: output"], output, what=f"{where}: the output",
                      hint="Mean and biased variance over "
                           f"{'dimension 0' if kind == 'BatchNormFunction' else 'the last dimension'}, "
                           "x̂ = (x − μ)/√(σ² + ε), output γ·x̂ + β.",
                      known_mistakes=_output_mistakes(kind, inputs, eps))
    grads = _gradients_outcome(got, f"{where}: gradients", kind)
    names = [name for name, flag in zip(NORM_INPUT_NAMES, requires_grad) if flag]
    expect(type(grads) is list and len(grads) == len(names),
           f"{where}: the hidden tests could not read the gradients.")
    for name, grad, expected in zip(names, grads, expected_gradients):
        expect(grad is not None,
               f"{where}: your backward returned None for {name}, which requires grad: return a gradient "
               "for every input whose ctx.needs_input_grad is True.")
        mistakes = (_x_gradient_mistakes(kind, inputs, eps) if name == "x"
                    else _affine_gradient_mistakes(kind, inputs, eps, name))
        _judge_norm_value(grad, expected, what=f"{where}: the gradient of {name}",
                          hint=f"{NORM_FUNCTION_FORMULAS[kind]}.", known_mistakes=mistakes)
    unchanged = got[f"{where}: left its inputs unchanged"]
    for name in (*NORM_INPUT_NAMES, "grad_out"):
        expect(type(unchanged) is dict and unchanged.get(name) is True,
               f"{where} modified {name}: compute new tensors (y = x - mean, not x -= mean; "
               "g = grad_out * weight, not grad_out *= weight).")


def _check_norm_function(got, kind: str) -> None:
    expect(got["is an autograd.Function"] is True,
           f"{kind} must be a class that subclasses torch.autograd.Function: run the exercise's cell.")
    for case in range(len(NORM_FUNCTION_CASES[kind])):
        _check_norm_function_case(got, kind, case)
    shape, eps = NORM_GRADCHECK[kind]
    what = f"torch.autograd.gradcheck({kind}.apply, (x of shape {shape}, weight, bias, {eps:g})) in float64"
    outcome = got["gradcheck"]
    expect(type(outcome) is dict and ("returned" in outcome or "raised" in outcome),
           f"{what}: the hidden tests could not read its result.")
    expect("raised" not in outcome, f"{what} raised {outcome.get('raised')}: {outcome.get('message')}")
    expect(outcome["returned"] is True,
           f"{what} returned False: your backward disagrees with finite differences; "
           f"{NORM_FUNCTION_FORMULAS[kind]}.")


def test_batch_norm_function(got, want):
    _check_norm_function(got, "BatchNormFunction")


def test_layer_norm_function(got, want):
    _check_norm_function(got, "LayerNormFunction")


# --- Exercise 7: fuse_linear_bn ----------------------------------------------------------------

FUSED_ADVICE = ("build the fused layer like linear: nn.Linear(in_features, out_features, "
                "device=linear.weight.device, dtype=linear.weight.dtype), or a copy.deepcopy of linear")


def _check_fuse_modes(where: str, modes: object, expected: dict) -> None:
    """The caller's pair keeps its modes and requires_grad flags."""
    expect(type(modes) is dict, f"{where}: the hidden tests could not read the modes of linear and bn.")
    for layer in ("linear", "bn"):
        was = expected[layer]
        expect(modes.get(layer) is was,
               f"{where} switched the caller's {layer} to {'eval' if was else 'training'} mode "
               f"({layer}.training was {was}): leave the caller's layers in their modes and read "
               "bn.running_mean and bn.running_var directly (or work on copy.deepcopy of the pair).")
    flags = modes.get("requires_grad")
    for name, was in expected["requires_grad"].items():
        expect(type(flags) is dict and flags.get(name) is was,
               f"{where} changed requires_grad of the caller's {name}: leave the caller's parameters "
               "as they were (compute the fused values under torch.no_grad() instead).")


def _check_fuse_contract(got, want, contract: int) -> None:
    """The fused layer of a float64 pair is float64, and computes what the pair computes."""
    where = fuse_contract_where(contract)
    facts = _contract_result(got, where, FUSED_ADVICE)
    expected = want[where]["returned"]
    expect(type(facts) is dict and facts.get("is an nn.Linear") is True,
           f"{where} must return an nn.Linear, got "
           f"{facts.get('type') if type(facts) is dict else _kind(facts)}.")
    for name in ("weight", "bias"):
        mine, theirs = facts.get(name), expected[name]
        expect(type(mine) is dict and mine.get("dtype") == theirs["dtype"]
               and mine.get("device") == theirs["device"],
               f"{where}: the fused layer's {name} is {_facts(mine)}, not {_facts(theirs)} like the pair: "
               f"{FUSED_ADVICE}.")
    output = _contract_result(got, f"{where}: fused(x)", FUSED_ADVICE)
    linear, bn, x = fuse_contract_inputs(contract)
    with torch.no_grad():
        pair = nn.Sequential(linear, bn).eval()(x)
    expect_close(output, pair, rtol=1e-9, atol=1e-9, check_dtype=True,
                 what=f"{where}: fused(x) against bn(linear(x))",
                 hint="In float64 the fused layer must compute what the pair computes, to float64 "
                      f"precision: {FUSED_ADVICE}.")


def test_fuse_linear_bn(got, want):
    for case, (n_in, n_out, has_bias, _, _) in enumerate(FUSE_CASES):
        where = fuse_where(case)
        got[where]
        linear, bn, x = fuse_inputs(case)
        snapshot = {f"linear.{k}": v for k, v in linear.state_dict().items()}
        snapshot.update({f"bn.{k}": v for k, v in bn.state_dict().items()})
        current = got[f"{where}: linear and bn afterwards"]
        expect(type(current) is dict and set(current) == set(snapshot),
               f"{where} added or removed parameters of its inputs.")
        for name, tensor in snapshot.items():
            expect(type(current[name]) is torch.Tensor and current[name].shape == tensor.shape
                   and torch.equal(current[name], tensor),
                   f"{where} must not modify linear or bn: build and return a new nn.Linear (the "
                   f"original pair may still be in use) ({name} changed).")
        _check_fuse_modes(where, got[f"{where}: modes afterwards"], want[f"{where}: modes afterwards"])
        facts = got[f"{where}: the returned layer"]
        expect(type(facts) is dict and facts.get("is an nn.Linear") is True,
               f"{where} must return an nn.Linear, got "
               f"{facts.get('type') if type(facts) is dict else _kind(facts)}.")
        weight, bias = facts.get("weight"), facts.get("bias")
        expect(type(weight) is torch.Tensor and weight.shape == (n_out, n_in),
               f"{where}: the fused weight should have shape ({n_out}, {n_in}), "
               f"got {tuple(weight.shape) if type(weight) is torch.Tensor else _kind(weight)}.")
        expect(bias is not None,
               f"{where}: the fused layer needs a bias, even when linear has none: BN's shift becomes it.")
        with torch.no_grad():
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            b = linear.bias if has_bias else torch.zeros(n_out)
            expected_weight = scale[:, None] * linear.weight
            expected_bias = scale * (b - bn.running_mean) + bn.bias
            _diagnose(weight, expected_weight, what=f"{where}: the fused weight",
                      hint="Scale row i of W by γᵢ / √(σ²ᵢ + ε) (running_var and bn.eps): "
                           "W' = diag(γ / √(σ² + ε)) W.",
                      known_mistakes={
                          "ε is missing: the scale is γ / √(running_var + eps).":
                              (bn.weight / torch.sqrt(bn.running_var))[:, None] * linear.weight,
                          "scale the ROWS of W (one per output feature), not its columns: "
                          "scale[:, None] * W.": linear.weight * scale[None, :]
                          if n_in == n_out else torch.zeros(0),
                      })
            _diagnose(bias, expected_bias, what=f"{where}: the fused bias",
                      hint="b' = γ · (b − running_mean) / √(running_var + ε) + β "
                           "(b = 0 when linear has no bias).",
                      known_mistakes={
                          "the fused bias is missing the − running_mean term: b' = γ · (b − μ) / √(σ² + ε) "
                          "+ β, with μ = bn.running_mean.": scale * b + bn.bias,
                          "the fused bias is missing BN's shift β (bn.bias): "
                          "b' = γ · (b − μ) / √(σ² + ε) + β.": scale * (b - bn.running_mean),
                      })
            pair = nn.Sequential(linear, bn).eval()
            expect_close(got[f"{where}: fused(x)"], pair(x), rtol=1e-4, atol=1e-5,
                         what=f"{where}: fused(x) against bn(linear(x))",
                         hint="The fused layer must compute exactly what the pair computes in eval mode.")
    for contract in range(len(FUSE_CONTRACTS)):
        _check_fuse_contract(got, want, contract)


# --- Concept questions ---------------------------------------------------------------------------

test_q1_momentum = choice_question("Q1")
test_q2_keras_momentum = number_question("Q2")
test_q3_state_dict_size = number_question("Q3", rel_tol=1e-9)
test_q4_no_bias = choice_question("Q4")
test_q5_batch_of_two = number_question("Q5")
test_q6_layer_norm = choice_question("Q6")
