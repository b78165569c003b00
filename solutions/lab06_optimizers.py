"""Reference solutions for lab 06, Faster optimizers.

Each `# %% cell: ID` region is, word for word, the solution cell ID of
labs/06_optimizers/06_optimizers.ipynb: `autograder sync` copies it there and the test suite
fails on any difference. Every optimizer follows PyTorch's own update (same hyperparameter
names and defaults), so that it matches `torch.optim` step by step.
"""


import torch
from torch import nn
from torch.nn.utils import prune


# %% cell: momentum_sgd
class MomentumSGD(torch.optim.Optimizer):
    """SGD with momentum, optionally Nesterov, in PyTorch's form: m ← βm + g, θ ← θ − η·m."""

    def __init__(self, params, lr, momentum=0.9, nesterov=False, weight_decay=0.0):
        ### BEGIN SOLUTION
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate {lr}: it must be >= 0.")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum {momentum}: it must be >= 0.")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay {weight_decay}: it must be >= 0.")
        if nesterov and momentum <= 0.0:
            raise ValueError("Nesterov momentum needs momentum > 0.")
        defaults = {"lr": lr, "momentum": momentum, "nesterov": nesterov,
                    "weight_decay": weight_decay}
        super().__init__(params, defaults)
        ### END SOLUTION

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss, if any."""
        ### BEGIN SOLUTION
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                m = state["momentum_buffer"]
                m.mul_(beta).add_(grad)
                direction = grad.add(m, alpha=beta) if group["nesterov"] else m
                p.add_(direction, alpha=-group["lr"])
        return loss
        ### END SOLUTION


# %% cell: adagrad
class AdaGrad(torch.optim.Optimizer):
    """AdaGrad: s ← s + g², θ ← θ − η·g / (√s + ε); PyTorch's Adagrad with lr_decay=0."""

    def __init__(self, params, lr=0.01, eps=1e-10):
        ### BEGIN SOLUTION
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate {lr}: it must be >= 0.")
        if eps < 0.0:
            raise ValueError(f"Invalid eps {eps}: it must be >= 0.")
        super().__init__(params, {"lr": lr, "eps": eps})
        ### END SOLUTION

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss, if any."""
        ### BEGIN SOLUTION
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "sum" not in state:
                    state["sum"] = torch.zeros_like(p)
                s = state["sum"]
                s.addcmul_(p.grad, p.grad)
                p.addcdiv_(p.grad, s.sqrt().add_(group["eps"]), value=-group["lr"])
        return loss
        ### END SOLUTION


# %% cell: rmsprop
class RMSProp(torch.optim.Optimizer):
    """RMSProp: s ← αs + (1 − α)g², θ ← θ − η·g / (√s + ε), as PyTorch's RMSprop."""

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8):
        ### BEGIN SOLUTION
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate {lr}: it must be >= 0.")
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"Invalid alpha {alpha}: it must be in [0, 1).")
        if eps < 0.0:
            raise ValueError(f"Invalid eps {eps}: it must be >= 0.")
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps})
        ### END SOLUTION

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss, if any."""
        ### BEGIN SOLUTION
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            alpha = group["alpha"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "square_avg" not in state:
                    state["square_avg"] = torch.zeros_like(p)
                s = state["square_avg"]
                s.mul_(alpha).addcmul_(p.grad, p.grad, value=1 - alpha)
                p.addcdiv_(p.grad, s.sqrt().add_(group["eps"]), value=-group["lr"])
        return loss
        ### END SOLUTION


# %% cell: adam
class Adam(torch.optim.Optimizer):
    """Adam: momentum and RMSProp, with both moving averages corrected for their zero start."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        ### BEGIN SOLUTION
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate {lr}: it must be >= 0.")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Invalid betas {betas}: both must be in [0, 1).")
        if eps < 0.0:
            raise ValueError(f"Invalid eps {eps}: it must be >= 0.")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})
        ### END SOLUTION

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss, if any."""
        ### BEGIN SOLUTION
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                m_hat = m / (1 - beta1**t)
                v_hat = v / (1 - beta2**t)
                p.addcdiv_(m_hat, v_hat.sqrt().add_(group["eps"]), value=-group["lr"])
        return loss
        ### END SOLUTION


# %% cell: adam_first_step
def adam_first_step(grad: torch.Tensor, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                    eps: float = 1e-8, bias_correction: bool = True) -> torch.Tensor:
    """θ₁ − θ₀ of Adam's first step from m₀ = v₀ = 0, in closed form: how big the first step is."""
    ### BEGIN SOLUTION
    beta1, beta2 = betas
    m = (1 - beta1) * grad
    v = (1 - beta2) * grad * grad
    if bias_correction:
        m, v = m / (1 - beta1), v / (1 - beta2)
    return -lr * m / (v.sqrt() + eps)
    ### END SOLUTION


# %% cell: adamax
class AdaMax(torch.optim.Optimizer):
    """AdaMax: Adam with the ℓ∞ norm, u ← max(β₂u, |g| + ε), θ ← θ − η·m̂ / u, as PyTorch's Adamax."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8):
        ### BEGIN SOLUTION
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate {lr}: it must be >= 0.")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Invalid betas {betas}: both must be in [0, 1).")
        if eps < 0.0:
            raise ValueError(f"Invalid eps {eps}: it must be >= 0.")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})
        ### END SOLUTION

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss, if any."""
        ### BEGIN SOLUTION
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_inf"] = torch.zeros_like(p)
                state["step"] += 1
                m, u = state["exp_avg"], state["exp_inf"]
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                torch.maximum(u.mul_(beta2), p.grad.abs().add_(group["eps"]), out=u)
                step_size = group["lr"] / (1 - beta1 ** state["step"])
                p.addcdiv_(m, u, value=-step_size)
        return loss
        ### END SOLUTION


# %% cell: nadam
class NAdam(torch.optim.Optimizer):
    """NAdam: Adam with Nesterov momentum and Dozat's momentum schedule, as PyTorch's NAdam."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, momentum_decay=4e-3):
        ### BEGIN SOLUTION
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate {lr}: it must be >= 0.")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Invalid betas {betas}: both must be in [0, 1).")
        if eps < 0.0:
            raise ValueError(f"Invalid eps {eps}: it must be >= 0.")
        if momentum_decay < 0.0:
            raise ValueError(f"Invalid momentum_decay {momentum_decay}: it must be >= 0.")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "momentum_decay": momentum_decay}
        super().__init__(params, defaults)
        ### END SOLUTION

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss, if any."""
        ### BEGIN SOLUTION
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, psi = group["lr"], group["momentum_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["mu_product"] = 1.0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
                mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
                mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
                state["mu_product"] *= mu
                mu_product = state["mu_product"]
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                denom = (v / (1 - beta2**t)).sqrt().add_(group["eps"])
                p.addcdiv_(p.grad, denom, value=-lr * (1 - mu) / (1 - mu_product))
                p.addcdiv_(m, denom, value=-lr * mu_next / (1 - mu_product * mu_next))
        return loss
        ### END SOLUTION


# %% cell: adamw
class AdamW(torch.optim.Optimizer):
    """AdamW: Adam plus decoupled weight decay, θ ← θ − ηλθ, applied outside the adaptive step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        ### BEGIN SOLUTION
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate {lr}: it must be >= 0.")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Invalid betas {betas}: both must be in [0, 1).")
        if eps < 0.0:
            raise ValueError(f"Invalid eps {eps}: it must be >= 0.")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay {weight_decay}: it must be >= 0.")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)
        ### END SOLUTION

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss, if any."""
        ### BEGIN SOLUTION
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
                p.mul_(1 - group["lr"] * group["weight_decay"])
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                m_hat = m / (1 - beta1**t)
                v_hat = v / (1 - beta2**t)
                p.addcdiv_(m_hat, v_hat.sqrt().add_(group["eps"]), value=-group["lr"])
        return loss
        ### END SOLUTION


# %% cell: prune_smallest
def prune_smallest(model: nn.Module, amount: float) -> float:
    """Prune the fraction `amount` of smallest-magnitude nn.Linear weights, ranked across all layers.

    Returns the achieved sparsity: the fraction of those weights that are now zero.
    """
    ### BEGIN SOLUTION
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be a fraction between 0 and 1, got {amount}.")
    linears = [module for module in model.modules() if isinstance(module, nn.Linear)]
    prune.global_unstructured([(layer, "weight") for layer in linears],
                              pruning_method=prune.L1Unstructured, amount=amount)
    zeros = sum(int((layer.weight == 0).sum()) for layer in linears)
    total = sum(layer.weight.numel() for layer in linears)
    return zeros / total
    ### END SOLUTION


# %% cell: q1_momentum_near_one
# Set Q1 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q1 = "a"
### END SOLUTION


# %% cell: q2_terminal_velocity
# Set Q2 to a number.
### BEGIN SOLUTION
Q2 = 10
### END SOLUTION


# %% cell: q3_adam_first_step
# Set Q3 to a number.
### BEGIN SOLUTION
Q3 = 0.001
### END SOLUTION


# %% cell: q4_adagrad_stops
# Set Q4 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q4 = "c"
### END SOLUTION


# %% cell: q5_decoupled_decay
# Set Q5 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q5 = "b"
### END SOLUTION


# %% cell: q6_momentum_two_steps
# Set Q6 to a number.
### BEGIN SOLUTION
Q6 = 0.1 * 1 + 0.1 * (0.9 * 1 + 1)
### END SOLUTION

