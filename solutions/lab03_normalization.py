"""Reference solutions for lab 03, Batch norm and layer norm.

Each `# %% cell: ID` region is, word for word, the solution cell ID of
labs/03_normalization/03_normalization.ipynb: `autograder sync` copies it there and the
test suite fails on any difference. The `standardize` region uses only `torch`, so a later
lab can include it by name.
"""

import torch
from torch import Tensor, nn


# %% cell: standardize
def standardize(train: torch.Tensor, *others: torch.Tensor) -> tuple:
    """Standardize `train` and every split in `others` with the per-feature mean and std of `train`."""
    ### BEGIN SOLUTION
    mean = train.mean(dim=0)
    std = train.std(dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return tuple((split - mean) / std for split in (train, *others))
    ### END SOLUTION


# %% cell: zca_whiten
def zca_whiten(X: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """ZCA-whiten the rows of X (N, D): return (centered X) @ W and the symmetric matrix W."""
    ### BEGIN SOLUTION
    centered = X - X.mean(dim=0)
    covariance = centered.T @ centered / (len(X) - 1)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    scale = 1 / torch.sqrt(eigenvalues.clamp_min(0) + eps)
    W = eigenvectors @ torch.diag(scale) @ eigenvectors.T
    return centered @ W, W
    ### END SOLUTION


# %% cell: batch_norm_1d_scratch
class BatchNorm1dScratch(nn.Module):
    """Batch normalization of (N, C) or (N, C, L) inputs, computed as nn.BatchNorm1d does."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        ### BEGIN SOLUTION
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        if x.dim() not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(f"Expected an input of shape (N, {self.num_features}) or "
                             f"(N, {self.num_features}, L), got {tuple(x.shape)}.")
        dims = (0, 2) if x.dim() == 3 else (0,)
        shape = (1, -1, 1) if x.dim() == 3 else (1, -1)
        if self.training:
            mean = x.mean(dim=dims)
            var = x.var(dim=dims, correction=0)
            n = x.numel() // self.num_features
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * n / (n - 1))
                self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        return self.weight.view(shape) * x_hat + self.bias.view(shape)
        ### END SOLUTION

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


# %% cell: layer_norm
def layer_norm(x: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize each sample of `x` over its trailing `normalized_shape` dimensions, as F.layer_norm."""
    ### BEGIN SOLUTION
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if tuple(x.shape[x.dim() - k:]) != normalized_shape:
        raise ValueError(f"The last {k} dimensions of x {tuple(x.shape)} must be {normalized_shape}.")
    dims = tuple(range(-k, 0))
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, correction=0)
    out = (x - mean) / torch.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out
    ### END SOLUTION


# %% cell: batch_norm_function
class BatchNormFunction(torch.autograd.Function):
    """Training-mode batch norm of (N, C) inputs, with its backward pass written by hand."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
        ### BEGIN SOLUTION
        mean = x.mean(dim=0)
        var = x.var(dim=0, correction=0)
        inv_std = 1 / torch.sqrt(var + eps)
        x_hat = (x - mean) * inv_std
        ctx.save_for_backward(x_hat, weight, inv_std)
        return weight * x_hat + bias
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> tuple:
        ### BEGIN SOLUTION
        x_hat, weight, inv_std = ctx.saved_tensors
        n = grad_out.shape[0]
        grad_bias = grad_out.sum(dim=0)
        grad_weight = (grad_out * x_hat).sum(dim=0)
        grad_x = weight * inv_std / n * (n * grad_out - grad_bias - x_hat * grad_weight)
        return grad_x, grad_weight, grad_bias, None
        ### END SOLUTION


# %% cell: layer_norm_function
class LayerNormFunction(torch.autograd.Function):
    """Layer norm over the last dimension of (..., D) inputs, with its backward pass written by hand."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
        ### BEGIN SOLUTION
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, correction=0)
        inv_std = 1 / torch.sqrt(var + eps)
        x_hat = (x - mean) * inv_std
        ctx.save_for_backward(x_hat, weight, inv_std)
        return weight * x_hat + bias
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> tuple:
        ### BEGIN SOLUTION
        x_hat, weight, inv_std = ctx.saved_tensors
        d = grad_out.shape[-1]
        grad_bias = grad_out.reshape(-1, d).sum(dim=0)
        grad_weight = (grad_out * x_hat).reshape(-1, d).sum(dim=0)
        grad_x_hat = grad_out * weight
        grad_x = inv_std / d * (d * grad_x_hat - grad_x_hat.sum(dim=-1, keepdim=True)
                                - x_hat * (grad_x_hat * x_hat).sum(dim=-1, keepdim=True))
        return grad_x, grad_weight, grad_bias, None
        ### END SOLUTION


# %% cell: fuse_linear_bn
def fuse_linear_bn(linear: nn.Linear, bn: nn.BatchNorm1d) -> nn.Linear:
    """A new nn.Linear equal to `bn(linear(x))` with `bn` in eval mode; the inputs stay unchanged."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        bias = linear.bias if linear.bias is not None else torch.zeros_like(bn.running_mean)
        fused = nn.Linear(linear.in_features, linear.out_features,
                          device=linear.weight.device, dtype=linear.weight.dtype)
        fused.weight.copy_(scale[:, None] * linear.weight)
        fused.bias.copy_(scale * (bias - bn.running_mean) + bn.bias)
    return fused
    ### END SOLUTION


# %% cell: q1_momentum
# Set Q1 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q1 = "c"
### END SOLUTION


# %% cell: q2_keras_momentum
# Set Q2 to a number.
### BEGIN SOLUTION
Q2 = 0.01
### END SOLUTION


# %% cell: q3_state_dict_size
# Set Q3 to a number.
### BEGIN SOLUTION
Q3 = 401
### END SOLUTION


# %% cell: q4_no_bias
# Set Q4 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q4 = "b"
### END SOLUTION


# %% cell: q5_batch_of_two
# Set Q5 to a number.
### BEGIN SOLUTION
Q5 = 1
### END SOLUTION


# %% cell: q6_layer_norm
# Set Q6 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q6 = "d"
### END SOLUTION
