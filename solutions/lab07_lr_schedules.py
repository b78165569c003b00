"""Reference solutions for lab 07, Learning-rate scheduling.

Each `# %% cell: ID` region is, word for word, the solution cell ID of
labs/07_lr_schedules/07_lr_schedules.ipynb: `autograder sync` copies it there and the
test suite fails on any difference. Lab 09 includes the regions `lr_range_test` and
`suggest_lr` by name, so those two use only `torch`, `nn`, `math`, `copy` and `labs`.
"""

import copy
import math
import random
from collections.abc import Sequence

import torch
from torch import nn

import labs


# %% cell: lr_range_test
def lr_range_test(model: nn.Module, loss_fn, X: torch.Tensor, y: torch.Tensor,
                  start_lr: float = 1e-5, end_lr: float = 10.0, num_iters: int = 300,
                  batch_size: int = 32, stop_factor: float = 4.0,
                  optimizer: torch.optim.Optimizer | None = None) -> tuple[list[float], list[float]]:
    """Smoothed training loss while the learning rate grows exponentially from start_lr to end_lr.

    Trains with `optimizer` (plain SGD when None), stops once the smoothed loss is not finite
    or exceeds stop_factor × the best one, then restores the model (its state, its modules'
    modes and its parameters' .grad) and the optimizer.
    """
    ### BEGIN SOLUTION
    if num_iters < 2:
        raise ValueError(f"num_iters must be at least 2, got {num_iters}.")
    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=start_lr)
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved_grads = [copy.deepcopy(p.grad) for p in model.parameters()]
    saved_modes = [(module, module.training) for module in model.modules()]

    def endless_batches():
        while True:
            yield from labs.batches(X, y, batch_size)

    batches = endless_batches()
    lrs, losses = [], []
    smoothed, best = None, math.inf
    model.train()
    try:
        for i in range(num_iters):
            lr = start_lr * (end_lr / start_lr) ** (i / (num_iters - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            xb, yb = next(batches)
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            value = loss.item()
            smoothed = value if smoothed is None else 0.9 * smoothed + 0.1 * value
            lrs.append(lr)
            losses.append(smoothed)
            best = min(best, smoothed)
            if not math.isfinite(smoothed) or smoothed > stop_factor * best:
                break
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        for p, grad in zip(model.parameters(), saved_grads):
            p.grad = grad
        for module, training in saved_modes:
            module.training = training
    return lrs, losses
    ### END SOLUTION


# %% cell: suggest_lr
def suggest_lr(lrs: list[float], losses: list[float]) -> float:
    """The rate to train with: ten times below the rate of the lowest finite loss of a range test."""
    ### BEGIN SOLUTION
    finite = [i for i, loss in enumerate(losses) if math.isfinite(loss)]
    if not finite:
        raise ValueError("Every loss of the range test is NaN or infinite: lower start_lr.")
    lowest = min(finite, key=lambda i: losses[i])
    return lrs[lowest] / 10
    ### END SOLUTION


# %% cell: loss_valley
def loss_valley(lrs: Sequence[float], losses: Sequence[float]) -> tuple[float, float]:
    """The valley of a range test: the rates where its longest strictly falling run of losses
    starts and ends (the first such run on a tie)."""
    ### BEGIN SOLUTION
    if len(lrs) != len(losses):
        raise ValueError(f"lrs and losses must have the same length, got {len(lrs)} and {len(losses)}: "
                         "pass the two lists lr_range_test returned.")
    if len(losses) < 2:
        raise ValueError(f"A valley needs at least 2 points, got {len(losses)}: pass a whole range test.")
    start, best = 0, (0, 0)
    for k in range(1, len(losses)):
        if not losses[k] < losses[k - 1]:  # a rise, a tie or a NaN ends the run
            start = k
        elif k - start > best[1] - best[0]:
            best = (start, k)
    if best == (0, 0):
        raise ValueError("The loss never falls from one point to the next: pass a range test that "
                         "starts at a smaller start_lr.")
    return lrs[best[0]], lrs[best[1]]
    ### END SOLUTION


# %% cell: power_schedule
def power_schedule(t: int, lr0: float, s: float, c: float = 1.0) -> float:
    """Power scheduling: lr0 / (1 + t/s)**c, the learning rate after t steps."""
    ### BEGIN SOLUTION
    return lr0 / (1 + t / s) ** c
    ### END SOLUTION


# %% cell: exponential_schedule
def exponential_schedule(t: int, lr0: float, gamma: float) -> float:
    """Exponential scheduling: lr0 · gamma**t, as ExponentialLR gives after t steps."""
    ### BEGIN SOLUTION
    return lr0 * gamma**t
    ### END SOLUTION


# %% cell: piecewise_constant
def piecewise_constant(t: int, boundaries: list[int], values: list[float]) -> float:
    """values[i] while boundaries[i-1] <= t < boundaries[i]: the rate switches AT each boundary."""
    ### BEGIN SOLUTION
    if len(values) != len(boundaries) + 1:
        raise ValueError(f"Need one value more than boundaries: got {len(boundaries)} boundaries "
                         f"and {len(values)} values.")
    passed = sum(1 for boundary in boundaries if t >= boundary)
    return values[passed]
    ### END SOLUTION


# %% cell: cosine_annealing
def cosine_annealing(t: int, t_max: int, lr_max: float, lr_min: float = 0.0) -> float:
    """Cosine annealing (Eq. 11-10) from lr_max at t = 0 down to lr_min at t = t_max."""
    ### BEGIN SOLUTION
    return lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * t / t_max)) / 2
    ### END SOLUTION


# %% cell: warmup_linear
def warmup_linear(t: int, lr: float, start_factor: float, total_iters: int) -> float:
    """Linear warm-up (LinearLR): from start_factor · lr at t = 0 to lr at t = total_iters, then lr."""
    ### BEGIN SOLUTION
    progress = min(t, total_iters) / total_iters
    return lr * (start_factor + (1 - start_factor) * progress)
    ### END SOLUTION


# %% cell: cosine_warm_restarts
def cosine_warm_restarts(t: int, t_0: int, t_mult: int, lr_max: float, lr_min: float = 0.0) -> float:
    """Cosine annealing with warm restarts: cycles of t_0, t_0·t_mult, t_0·t_mult², ... steps."""
    ### BEGIN SOLUTION
    t_cur, t_i = t, t_0
    while t_cur >= t_i:
        t_cur -= t_i
        t_i *= t_mult
    return lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
    ### END SOLUTION


# %% cell: one_cycle
def one_cycle(t: int, total_steps: int, max_lr: float, pct_start: float = 0.3,
              anneal_strategy: str = "cos", base_momentum: float = 0.85,
              max_momentum: float = 0.95, div_factor: float = 25.0,
              final_div_factor: float = 1e4, three_phase: bool = False) -> tuple[float, float]:
    """Learning rate and momentum of the 1cycle policy at step t, as OneCycleLR computes them."""
    ### BEGIN SOLUTION
    if anneal_strategy not in ("cos", "linear"):
        raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}.")
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    # (last step of the phase, lr at its start, lr at its end, momentum at start, at end)
    if three_phase:
        phases = [(pct_start * total_steps - 1, initial_lr, max_lr, max_momentum, base_momentum),
                  (2 * pct_start * total_steps - 2, max_lr, initial_lr, base_momentum, max_momentum),
                  (total_steps - 1, initial_lr, min_lr, max_momentum, max_momentum)]
    else:
        phases = [(pct_start * total_steps - 1, initial_lr, max_lr, max_momentum, base_momentum),
                  (total_steps - 1, max_lr, min_lr, base_momentum, max_momentum)]

    def anneal(start: float, end: float, pct: float) -> float:
        if anneal_strategy == "cos":
            return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2
        return start + (end - start) * pct

    phase_start = 0.0
    for index, (phase_end, lr_start, lr_end, momentum_start, momentum_end) in enumerate(phases):
        if t <= phase_end or index == len(phases) - 1:
            pct = (t - phase_start) / (phase_end - phase_start)
            return anneal(lr_start, lr_end, pct), anneal(momentum_start, momentum_end, pct)
        phase_start = phase_end
    ### END SOLUTION


# %% cell: plateau_scheduler
class ReduceLROnPlateauScratch:
    """Performance scheduling: multiply each group's rate by `factor` once the metric stops improving."""

    def __init__(self, optimizer: torch.optim.Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, min_lr: float = 0.0) -> None:
        ### BEGIN SOLUTION
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be between 0 and 1 (exclusive), got {factor}.")
        self.optimizer, self.mode, self.factor = optimizer, mode, factor
        self.patience, self.threshold, self.min_lr = patience, threshold, min_lr
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        ### END SOLUTION

    def step(self, metric: float) -> None:
        """Record this epoch's metric; cut the rates after more than `patience` epochs without progress."""
        ### BEGIN SOLUTION
        metric = float(metric)
        if self.mode == "min":
            improved = metric < self.best * (1 - self.threshold)
        else:
            improved = metric > self.best * (1 + self.threshold)
        if improved:
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.num_bad_epochs > self.patience:
            for group in self.optimizer.param_groups:
                group["lr"] = max(group["lr"] * self.factor, self.min_lr)
            self.num_bad_epochs = 0
        ### END SOLUTION

    def get_last_lr(self) -> list[float]:
        """The current rate of each parameter group."""
        return [group["lr"] for group in self.optimizer.param_groups]


# %% cell: random_search
def random_search(train_fn, space: dict, n_trials: int, seed: int = 0) -> list[dict]:
    """Evaluate `train_fn(**params)` at `n_trials` random points of `space`; best score first.

    A value of `space` is a list (pick one), a (low, high) tuple (uniform) or a
    (low, high, "log") tuple (log-uniform). Each trial is {"trial", "params", "score"}.
    """
    ### BEGIN SOLUTION
    rng = random.Random(seed)

    def sample(spec):
        if isinstance(spec, list):
            return rng.choice(spec)
        if isinstance(spec, tuple) and len(spec) == 3 and spec[2] == "log":
            low, high, _ = spec
            return math.exp(rng.uniform(math.log(low), math.log(high)))
        if isinstance(spec, tuple) and len(spec) == 2:
            low, high = spec
            return rng.uniform(low, high)
        raise ValueError(f"Unknown search-space entry {spec!r}: use a list of choices, "
                         "(low, high) or (low, high, 'log').")

    trials = []
    for trial in range(n_trials):
        params = {name: sample(spec) for name, spec in space.items()}
        trials.append({"trial": trial, "params": params, "score": float(train_fn(**params))})
    return sorted(trials, key=lambda entry: entry["score"], reverse=True)
    ### END SOLUTION


# %% cell: q1_exponential_gamma
# Set Q1 to a number.
### BEGIN SOLUTION
Q1 = 0.1 ** (1 / 20)
### END SOLUTION


# %% cell: q2_one_cycle_momentum
# Set Q2 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q2 = "b"
### END SOLUTION


# %% cell: q3_plateau_lr
# Set Q3 to a number.
### BEGIN SOLUTION
Q3 = 0.05
### END SOLUTION


# %% cell: q4_random_vs_grid
# Set Q4 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q4 = "c"
### END SOLUTION


# %% cell: q5_warm_restarts_lr
# Set Q5 to a number.
### BEGIN SOLUTION
# Cycles of 10, 20, 40 steps: [0, 10), [10, 30), [30, 70). Step 45 is T_cur = 15 steps into the
# third cycle, of T_i = 40 steps.
Q5 = 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * 15 / 40)) / 2
### END SOLUTION


# %% cell: q6_one_cycle_lr
# Set Q6 to a number.
### BEGIN SOLUTION
# min_lr = 0.5 / 10 / 100 = 0.0005. The climb ends at step 0.25 * 200 - 1 = 49, the descent at
# step 199: step 149 is pct = (149 - 49) / (199 - 49) = 2/3 of the way down, by cosine.
Q6 = 0.0005 + (0.5 - 0.0005) * (1 + math.cos(math.pi * 100 / 150)) / 2
### END SOLUTION
