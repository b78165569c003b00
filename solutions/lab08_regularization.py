"""Reference solutions for lab 08, Regularization.

Each `# %% cell: ID` region is, word for word, the solution cell ID of
labs/08_regularization/08_regularization.ipynb: `autograder sync` copies it there and the
test suite fails on any difference. Lab 09 includes the regions `early_stopping`,
`mc_dropout` and `mc_predict` by name, so those use only `torch`, `nn`, `math`, `copy` and
`labs`.
"""

import copy
from collections.abc import Sequence

import torch
from torch import nn


# %% cell: l1_penalty
def l1_penalty(model: nn.Module) -> torch.Tensor:
    """ℓ1 penalty Σ|w| over the weights of every nn.Linear and nn.Conv1d/2d/3d (no biases)."""
    ### BEGIN SOLUTION
    total = torch.zeros(())
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            total = total + module.weight.abs().sum()
    return total
    ### END SOLUTION


# %% cell: l2_penalty
def l2_penalty(model: nn.Module) -> torch.Tensor:
    """ℓ2 penalty Σw² (no ½) over the weights of every nn.Linear and nn.Conv1d/2d/3d."""
    ### BEGIN SOLUTION
    total = torch.zeros(())
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            total = total + module.weight.pow(2).sum()
    return total
    ### END SOLUTION


# %% cell: decay_param_groups
def decay_param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two optimizer parameter groups: weights with `weight_decay`, biases and norm layers without."""
    ### BEGIN SOLUTION
    norm_layers = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)
    decay, no_decay = [], []
    for module in model.modules():
        for name, parameter in module.named_parameters(recurse=False):
            if isinstance(module, norm_layers) or name == "bias":
                no_decay.append(parameter)
            else:
                decay.append(parameter)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]
    ### END SOLUTION


# %% cell: dropout
def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout: zero each entry with probability p, scale the rest by 1/(1-p)."""
    ### BEGIN SOLUTION
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"The dropout rate p must be between 0 and 1, got {p}.")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return torch.zeros_like(x)
    keep = torch.rand_like(x) >= p  # True with probability 1 - p
    return x * keep / (1.0 - p)
    ### END SOLUTION


# %% cell: dropout_function
class DropoutFunction(torch.autograd.Function):
    """Inverted dropout in training mode, with its backward written by hand."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, p: float) -> torch.Tensor:
        ### BEGIN SOLUTION
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"The dropout rate p must be between 0 and 1, got {p}.")
        keep = torch.rand_like(x) >= p  # True with probability 1 - p; never when p = 1
        ctx.save_for_backward(keep)
        ctx.p = p
        if p == 1.0:
            return torch.zeros_like(x)
        return x * keep / (1.0 - p)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor) -> tuple[torch.Tensor, None]:
        ### BEGIN SOLUTION
        (keep,) = ctx.saved_tensors
        if ctx.p == 1.0:
            return torch.zeros_like(grad_out), None
        return grad_out * keep / (1.0 - ctx.p), None
        ### END SOLUTION


# %% cell: mc_dropout
class McDropout(nn.Dropout):
    """Dropout that stays active in eval mode, for Monte Carlo dropout."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        return nn.functional.dropout(input, self.p, training=True, inplace=self.inplace)
        ### END SOLUTION


# %% cell: mc_predict
def mc_predict(model: nn.Module, X: torch.Tensor,
               n_samples: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std over `n_samples` passes of the class probabilities, only dropout active."""
    ### BEGIN SOLUTION
    was_training = model.training
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.train()
    with torch.no_grad():
        probas = torch.stack([torch.softmax(model(X), dim=-1) for _ in range(n_samples)])
    model.train(was_training)
    return probas.mean(dim=0), probas.std(dim=0, correction=0)
    ### END SOLUTION


# %% cell: apply_max_norm
def apply_max_norm_(model: nn.Module, max_norm: float = 2.0, dim: int = 1,
                    eps: float = 1e-8) -> None:
    """Rescale in place the rows (dim=1 norms) of every nn.Linear weight whose norm exceeds max_norm."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                norms = module.weight.norm(dim=dim, keepdim=True)
                module.weight.mul_(norms.clamp(max=max_norm) / (norms + eps))
    ### END SOLUTION


# %% cell: early_stopping
class EarlyStopping:
    """Stop training when a monitored metric stops improving; restore the best weights."""

    def __init__(self, patience: int, min_delta: float = 0.0, mode: str = "min") -> None:
        ### BEGIN SOLUTION
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
        self.patience = patience
        self.min_delta = min_delta
        self.mode = mode
        self.best = None
        self.best_state = None
        self.epochs_without_improvement = 0
        ### END SOLUTION

    def step(self, metric: float, model: nn.Module) -> bool:
        """Record this epoch's `metric` (and the weights, if best so far); True means stop."""
        ### BEGIN SOLUTION
        if self.best is None:
            improved = True
        elif self.mode == "min":
            improved = metric < self.best - self.min_delta
        else:
            improved = metric > self.best + self.min_delta
        if improved:
            self.best = metric
            self.best_state = copy.deepcopy(model.state_dict())
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        return self.epochs_without_improvement >= self.patience
        ### END SOLUTION

    def restore(self, model: nn.Module) -> None:
        """Load the weights saved at the best epoch into `model`."""
        ### BEGIN SOLUTION
        if self.best_state is not None:
            model.load_state_dict(self.best_state)
        ### END SOLUTION


# %% cell: restored_epoch
def restored_epoch(metrics: Sequence[float], patience: int, min_delta: float = 0.0,
                   mode: str = "min") -> int:
    """The epoch (from 1) whose weights EarlyStopping(patience, min_delta, mode) would restore."""
    ### BEGIN SOLUTION
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
    if len(metrics) == 0:
        raise ValueError("The history is empty: there is no epoch to restore.")
    best, best_epoch, epochs_without_improvement = None, 0, 0
    for epoch, metric in enumerate(metrics, start=1):
        if best is None:
            improved = True
        elif mode == "min":
            improved = metric < best - min_delta
        else:
            improved = metric > best + min_delta
        if improved:
            best, best_epoch, epochs_without_improvement = metric, epoch, 0
        else:
            epochs_without_improvement += 1
        if epochs_without_improvement >= patience:
            break
    return best_epoch
    ### END SOLUTION


# %% cell: q1_dropout_inference
# Set Q1 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q1 = "a"
### END SOLUTION


# %% cell: q2_sparse_model
# Set Q2 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q2 = "d"
### END SOLUTION


# %% cell: q3_dropout_scale
# Set Q3 to a number.
### BEGIN SOLUTION
Q3 = 1 / (1 - 0.2)
### END SOLUTION


# %% cell: q4_sgd_weight_decay
# Set Q4 to a number.
### BEGIN SOLUTION
Q4 = 2 * 5e-4
### END SOLUTION


# %% cell: q5_adamw
# Set Q5 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q5 = "c"
### END SOLUTION
