"""Reference solutions for lab 04, Gradient clipping.

Each `# %% cell: ID` region is, word for word, the solution cell ID of
labs/04_gradient_clipping/04_gradient_clipping.ipynb: `autograder sync` copies it there and
the test suite fails on any difference.
"""

import math
from collections.abc import Sequence

import torch


# %% cell: clip_grad_norm
def clip_grad_norm(parameters, max_norm: float) -> torch.Tensor:
    """Scale all gradients in place so that their global L2 norm is at most `max_norm`.

    `parameters` is an iterable (a list, a generator such as `model.parameters()`) or a single
    tensor; parameters whose `.grad` is None are skipped. Returns the global norm measured
    *before* clipping, as `torch.nn.utils.clip_grad_norm_` does.
    """
    ### BEGIN SOLUTION
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]  # one pass: a generator runs out
    if not grads:
        return torch.tensor(0.0)
    with torch.no_grad():
        total_norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        clip_coef = torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)
        for g in grads:
            g.mul_(clip_coef)
    return total_norm
    ### END SOLUTION


# %% cell: clip_grad_value
def clip_grad_value(parameters, clip_value: float) -> None:
    """Clamp every gradient entry in place to [-clip_value, clip_value]; grads that are None are skipped."""
    ### BEGIN SOLUTION
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    with torch.no_grad():
        for p in parameters:
            if p.grad is not None:
                p.grad.clamp_(min=-clip_value, max=clip_value)
    ### END SOLUTION


# %% cell: train_step
def train_step(model, X, y, loss_fn, optimizer, max_norm=None, clip_value=None) -> dict:
    """One training step: forward, backward, clip (if asked), optimizer step, zero the gradients.

    Returns {"loss", "grad_norm_before", "grad_norm_after"} as Python floats: the loss on this
    batch and the global gradient norm right after backward() and right before step().
    """
    ### BEGIN SOLUTION
    def global_grad_norm() -> float:
        norms = [torch.linalg.vector_norm(p.grad) for p in model.parameters() if p.grad is not None]
        return torch.linalg.vector_norm(torch.stack(norms)).item() if norms else 0.0

    loss = loss_fn(model(X), y)
    loss.backward()
    grad_norm_before = global_grad_norm()
    if max_norm is not None:
        clip_grad_norm(model.parameters(), max_norm)
    if clip_value is not None:
        clip_grad_value(model.parameters(), clip_value)
    grad_norm_after = global_grad_norm()
    optimizer.step()
    optimizer.zero_grad()
    return {"loss": loss.item(), "grad_norm_before": grad_norm_before,
            "grad_norm_after": grad_norm_after}
    ### END SOLUTION


# %% cell: divergence_fraction
def divergence_fraction(histories: Sequence[Sequence[float]], blowup: float = 10.0) -> float:
    """The fraction of runs that diverged: some loss is not finite, or above `blowup` × the first.

    Every loss is tested, not only the last: a run can come back from a spike. NaN is tested
    with math.isfinite, since `nan > x` is False for every x and max() over a NaN depends on
    where it sits.
    """
    ### BEGIN SOLUTION
    if len(histories) == 0:
        raise ValueError("pass at least one run: a list of loss histories")
    diverged = 0
    for losses in histories:
        if len(losses) == 0:
            raise ValueError("each history needs at least one loss: pass every run's losses in order")
        threshold = blowup * losses[0]
        diverged += any(not math.isfinite(loss) or loss > threshold for loss in losses)
    return diverged / len(histories)
    ### END SOLUTION


# %% cell: q1_unstable_gradients
# Set Q1 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q1 = "a"
### END SOLUTION


# %% cell: q2_value_clipping
# Set Q2 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q2 = "b"
### END SOLUTION


# %% cell: q3_global_norm
# Set Q3 to a number.
### BEGIN SOLUTION
Q3 = 5.0
### END SOLUTION


# %% cell: q4_clip_factor
# Set Q4 to a number.
### BEGIN SOLUTION
Q4 = 0.25
### END SOLUTION


# %% cell: q5_where_to_clip
# Set Q5 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q5 = "c"
### END SOLUTION


# %% cell: q6_recurrent
# Set Q6 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q6 = "d"
### END SOLUTION
