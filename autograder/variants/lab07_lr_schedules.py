"""Known answers to lab 07: mistakes its tests must catch, and correct answers written differently."""

import functools

from autograder.variants import Variant, edited, right, wrong

_edit = functools.partial(edited, "lab07_lr_schedules")
_RANGE = "lr_range_test"


def _plateau_mistake(name: str, *changes: tuple[str, str]) -> Variant:
    """A mistake in the reference plateau scheduler, written as the edit that makes it."""
    return wrong(name, "plateau_scheduler", _edit("plateau_scheduler", *changes), "test_plateau_scheduler")


def _valley_mistake(name: str, *changes: tuple[str, str]) -> Variant:
    """A mistake in the reference loss_valley, written as the edit that makes it."""
    return wrong(name, "loss_valley", _edit("loss_valley", *changes), "test_loss_valley")


_VALLEY_CHECKS = """    if len(lrs) != len(losses) or len(losses) < 2:
        raise ValueError("pass two sequences of the same length, at least 2 points")
"""


def _range_mistake(name: str, *changes: tuple[str, str]) -> Variant:
    """A mistake in the reference range test, written as the edit that makes it."""
    return wrong(name, _RANGE, _edit(_RANGE, *changes), "test_lr_range_test")


# Random search drawing from the global `random` module (its state is the caller's).
_GLOBAL_RANDOM_SEARCH = '''
def random_search(train_fn, space, n_trials, seed=0):
    def sample(spec):
        if isinstance(spec, list):
            return random.choice(spec)
        if len(spec) == 3:
            return math.exp(random.uniform(math.log(spec[0]), math.log(spec[1])))
        return random.uniform(spec[0], spec[1])

    trials = []
    for trial in range(n_trials):
        params = {name: sample(spec) for name, spec in space.items()}
        trials.append({"trial": trial, "params": params, "score": train_fn(**params)})
    return sorted(trials, key=lambda e: e["score"], reverse=True)
'''

MISTAKES = [
    _range_mistake("range test growing the rate linearly",
                   ("lr = start_lr * (end_lr / start_lr) ** (i / (num_iters - 1))",
                    "lr = start_lr + (end_lr - start_lr) * i / (num_iters - 1)")),
    _range_mistake("range test leaving the model trained (weights not restored)",
                   ("        model.load_state_dict(saved_model)\n", "")),
    wrong("suggest_lr returning the minimum-loss rate itself", "suggest_lr", '''
def suggest_lr(lrs, losses):
    finite = [i for i, loss in enumerate(losses) if math.isfinite(loss)]
    return lrs[min(finite, key=lambda i: losses[i])]
''', "test_suggest_lr"),
    wrong("cosine annealing off by one period (t / (t_max - 1))", "cosine_annealing", '''
def cosine_annealing(t, t_max, lr_max, lr_min=0.0):
    return lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * t / (t_max - 1))) / 2
''', "test_cosine_annealing"),
    wrong("warm restarts without t_mult", "cosine_warm_restarts", '''
def cosine_warm_restarts(t, t_0, t_mult, lr_max, lr_min=0.0):
    t_cur = t % t_0
    return lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * t_cur / t_0)) / 2
''', "test_cosine_warm_restarts"),
    wrong("1cycle momentum moving the same way as the learning rate", "one_cycle", '''
def one_cycle(t, total_steps, max_lr, pct_start=0.3, anneal_strategy="cos", base_momentum=0.85,
              max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False):
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    if three_phase:
        phases = [(pct_start * total_steps - 1, initial_lr, max_lr, base_momentum, max_momentum),
                  (2 * pct_start * total_steps - 2, max_lr, initial_lr, max_momentum, base_momentum),
                  (total_steps - 1, initial_lr, min_lr, base_momentum, base_momentum)]
    else:
        phases = [(pct_start * total_steps - 1, initial_lr, max_lr, base_momentum, max_momentum),
                  (total_steps - 1, max_lr, min_lr, max_momentum, base_momentum)]

    def anneal(start, end, pct):
        if anneal_strategy == "cos":
            return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2
        return start + (end - start) * pct

    begin = 0.0
    for index, (end, lr_a, lr_b, m_a, m_b) in enumerate(phases):
        if t <= end or index == len(phases) - 1:
            pct = (t - begin) / (end - begin)
            return anneal(lr_a, lr_b, pct), anneal(m_a, m_b, pct)
        begin = end
''', "test_one_cycle"),
    wrong("exponential schedule applying gamma once too often", "exponential_schedule", '''
def exponential_schedule(t, lr0, gamma):
    return lr0 * gamma ** (t + 1)
''', "test_exponential_schedule"),
    _range_mistake("range test saving state_dict() without copying it",
                   ("copy.deepcopy(model.state_dict())", "model.state_dict()"),
                   ("copy.deepcopy(optimizer.state_dict())", "optimizer.state_dict()")),
    _range_mistake("range test restoring the model but not the optimizer",
                   ("        optimizer.load_state_dict(saved_optimizer)\n", "")),
    _range_mistake("range test recording raw, unsmoothed losses",
                   ("smoothed = value if smoothed is None else 0.9 * smoothed + 0.1 * value",
                    "smoothed = value")),
    _range_mistake("range test ignoring the optimizer passed in",
                   ("    if optimizer is None:\n        optimizer = torch.optim.SGD(",
                    "    optimizer = torch.optim.SGD(")),
    _range_mistake("range test that never stops on NaN",
                   ("if not math.isfinite(smoothed) or smoothed > stop_factor * best:",
                    "if smoothed > stop_factor * best:")),
    wrong("suggest_lr with torch.argmin, NaN not skipped", "suggest_lr", '''
def suggest_lr(lrs, losses):
    return lrs[int(torch.tensor(losses).argmin())] / 10
''', "test_suggest_lr"),
    wrong("power schedule raising s alone to the power c", "power_schedule", '''
def power_schedule(t, lr0, s, c=1.0):
    return lr0 / (1 + t / s**c)
''', "test_power_schedule"),
    wrong("exponential schedule as exp(-gamma t)", "exponential_schedule", '''
def exponential_schedule(t, lr0, gamma):
    return lr0 * math.exp(-gamma * t)
''', "test_exponential_schedule"),
    wrong("piecewise constant switching one step after the boundary", "piecewise_constant", '''
def piecewise_constant(t, boundaries, values):
    return values[sum(1 for b in boundaries if t > b)]
''', "test_piecewise_constant"),
    wrong("cosine annealing without the 1/2", "cosine_annealing", '''
def cosine_annealing(t, t_max, lr_max, lr_min=0.0):
    return lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * t / t_max))
''', "test_cosine_annealing"),
    wrong("warm-up that keeps growing after total_iters", "warmup_linear", '''
def warmup_linear(t, lr, start_factor, total_iters):
    return lr * (start_factor + (1 - start_factor) * t / total_iters)
''', "test_warmup_linear"),
    wrong("warm restarts one step late", "cosine_warm_restarts", '''
def cosine_warm_restarts(t, t_0, t_mult, lr_max, lr_min=0.0):
    t_cur, t_i = t, t_0
    while t_cur > t_i:
        t_cur -= t_i
        t_i *= t_mult
    return lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
''', "test_cosine_warm_restarts"),
    wrong("1cycle ending at the initial rate (final_div_factor ignored)", "one_cycle", '''
def one_cycle(t, total_steps, max_lr, pct_start=0.3, anneal_strategy="cos", base_momentum=0.85,
              max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False):
    initial_lr = max_lr / div_factor
    min_lr = initial_lr
    if three_phase:
        phases = [(pct_start * total_steps - 1, initial_lr, max_lr, max_momentum, base_momentum),
                  (2 * pct_start * total_steps - 2, max_lr, initial_lr, base_momentum, max_momentum),
                  (total_steps - 1, initial_lr, min_lr, max_momentum, max_momentum)]
    else:
        phases = [(pct_start * total_steps - 1, initial_lr, max_lr, max_momentum, base_momentum),
                  (total_steps - 1, max_lr, min_lr, base_momentum, max_momentum)]

    def anneal(start, end, pct):
        if anneal_strategy == "cos":
            return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2
        return start + (end - start) * pct

    begin = 0.0
    for index, (end, lr_a, lr_b, m_a, m_b) in enumerate(phases):
        if t <= end or index == len(phases) - 1:
            pct = (t - begin) / (end - begin)
            return anneal(lr_a, lr_b, pct), anneal(m_a, m_b, pct)
        begin = end
''', "test_one_cycle"),
    wrong("1cycle phase ending at pct_start * total_steps (no - 1)", "one_cycle", '''
def one_cycle(t, total_steps, max_lr, pct_start=0.3, anneal_strategy="cos", base_momentum=0.85,
              max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False):
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    if three_phase:
        phases = [(pct_start * total_steps, initial_lr, max_lr, max_momentum, base_momentum),
                  (2 * pct_start * total_steps, max_lr, initial_lr, base_momentum, max_momentum),
                  (total_steps, initial_lr, min_lr, max_momentum, max_momentum)]
    else:
        phases = [(pct_start * total_steps, initial_lr, max_lr, max_momentum, base_momentum),
                  (total_steps, max_lr, min_lr, base_momentum, max_momentum)]

    def anneal(start, end, pct):
        if anneal_strategy == "cos":
            return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2
        return start + (end - start) * pct

    begin = 0.0
    for index, (end, lr_a, lr_b, m_a, m_b) in enumerate(phases):
        if t <= end or index == len(phases) - 1:
            pct = (t - begin) / (end - begin)
            return anneal(lr_a, lr_b, pct), anneal(m_a, m_b, pct)
        begin = end
''', "test_one_cycle"),
    wrong("random search sampling a log range uniformly", "random_search", '''
def random_search(train_fn, space, n_trials, seed=0):
    rng = random.Random(seed)
    trials = []
    for trial in range(n_trials):
        params = {}
        for name, spec in space.items():
            params[name] = rng.choice(spec) if isinstance(spec, list) else rng.uniform(spec[0], spec[1])
        trials.append({"trial": trial, "params": params, "score": train_fn(**params)})
    return sorted(trials, key=lambda e: e["score"], reverse=True)
''', "test_random_search"),
    wrong("random search sorted worst first", "random_search", '''
def random_search(train_fn, space, n_trials, seed=0):
    rng = random.Random(seed)

    def sample(spec):
        if isinstance(spec, list):
            return rng.choice(spec)
        if len(spec) == 3:
            return math.exp(rng.uniform(math.log(spec[0]), math.log(spec[1])))
        return rng.uniform(spec[0], spec[1])

    trials = []
    for trial in range(n_trials):
        params = {name: sample(spec) for name, spec in space.items()}
        trials.append({"trial": trial, "params": params, "score": train_fn(**params)})
    return sorted(trials, key=lambda e: e["score"])
''', "test_random_search"),
    wrong("random search ignoring the seed", "random_search", _GLOBAL_RANDOM_SEARCH, "test_random_search"),
    wrong("Q1 answered with a rounded 0.9", "q1_exponential_gamma", "Q1 = 0.9", "test_q1_exponential_gamma"),
    wrong("Q3 reducing as soon as patience bad epochs are seen", "q3_plateau_lr", "Q3 = 0.025",
          "test_q3_plateau_lr"),
    wrong("Q2 answered a", "q2_one_cycle_momentum", 'Q2 = "a"', "test_q2_one_cycle_momentum"),
    _plateau_mistake("plateau scheduler cutting once patience bad epochs are seen (>= instead of >)",
                     ("if self.num_bad_epochs > self.patience:", "if self.num_bad_epochs >= self.patience:")),
    _plateau_mistake("plateau scheduler ignoring the relative threshold",
                     ("metric < self.best * (1 - self.threshold)", "metric < self.best"),
                     ("metric > self.best * (1 + self.threshold)", "metric > self.best")),
    _plateau_mistake("plateau scheduler that keeps counting after a cut",
                     ("            self.num_bad_epochs = 0\n        ### END SOLUTION",
                      "        ### END SOLUTION")),
    _plateau_mistake("plateau scheduler ignoring min_lr",
                     ('group["lr"] = max(group["lr"] * self.factor, self.min_lr)',
                      'group["lr"] = group["lr"] * self.factor')),
    _plateau_mistake("plateau scheduler cutting only the first parameter group",
                     ("            for group in self.optimizer.param_groups:\n"
                      "                group[\"lr\"] = max(group[\"lr\"] * self.factor, self.min_lr)",
                      "            group = self.optimizer.param_groups[0]\n"
                      "            group[\"lr\"] = max(group[\"lr\"] * self.factor, self.min_lr)")),
    _plateau_mistake("plateau scheduler treating mode 'max' as 'min'",
                     ('        if self.mode == "min":\n            improved',
                      '        if True:\n            improved')),
    _plateau_mistake("plateau scheduler accepting factor=1 (<= 1 instead of < 1)",
                     ("if not 0.0 < factor < 1.0:", "if not 0.0 < factor <= 1.0:")),
    _plateau_mistake("plateau scheduler counting a tie with best as an improvement",
                     ("improved = metric < self.best", "improved = metric <= self.best"),
                     ("improved = metric > self.best", "improved = metric >= self.best")),
    wrong("plateau scheduler that caches the rates it started with", "plateau_scheduler", '''
class ReduceLROnPlateauScratch:
    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, min_lr=0.0):
        if mode not in ("min", "max") or not 0 < factor < 1:
            raise ValueError("bad mode or factor")
        self.optimizer, self.mode, self.factor = optimizer, mode, factor
        self.patience, self.threshold, self.min_lr = patience, threshold, min_lr
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.lrs = [group["lr"] for group in optimizer.param_groups]

    def step(self, metric):
        metric = float(metric)
        better = (metric < self.best * (1 - self.threshold) if self.mode == "min"
                  else metric > self.best * (1 + self.threshold))
        if better:
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.num_bad_epochs > self.patience:
            self.lrs = [max(lr * self.factor, self.min_lr) for lr in self.lrs]
            for group, lr in zip(self.optimizer.param_groups, self.lrs):
                group["lr"] = lr
            self.num_bad_epochs = 0
''', "test_plateau_scheduler"),
    # Contracts: the caller's objects and generators are left as they were.
    _range_mistake("range test leaving the caller's eval-mode model in train mode",
                   ("        for module, training in saved_modes:\n"
                    "            module.training = training\n", "")),
    _range_mistake("range test leaving the last iteration's gradient in .grad",
                   ("        for p, grad in zip(model.parameters(), saved_grads):\n"
                    "            p.grad = grad\n", "")),
    _range_mistake("range test clearing the caller's gradients instead of putting them back",
                   ("        for p, grad in zip(model.parameters(), saved_grads):\n"
                    "            p.grad = grad\n", "        model.zero_grad()\n")),
    _range_mistake("range test stopping on a loss equal to stop_factor × the best (>= instead of >)",
                   ("smoothed > stop_factor * best:", "smoothed >= stop_factor * best:")),
    wrong("suggest_lr deleting the non-finite losses from the caller's lists", "suggest_lr", '''
def suggest_lr(lrs, losses):
    for i in reversed(range(len(losses))):
        if not math.isfinite(losses[i]):
            del losses[i], lrs[i]
    return lrs[losses.index(min(losses))] / 10
''', "test_suggest_lr"),
    wrong("random search reseeding the global random module", "random_search",
          _GLOBAL_RANDOM_SEARCH.replace("seed=0):\n", "seed=0):\n    random.seed(seed)\n", 1),
          "test_random_search"),
    wrong("1cycle holding the book's 0.95 momentum in the last of three phases", "one_cycle",
          _edit("one_cycle", ("(total_steps - 1, initial_lr, min_lr, max_momentum, max_momentum)",
                              "(total_steps - 1, initial_lr, min_lr, 0.95, 0.95)")), "test_one_cycle"),
    wrong("CosineAnnealingLR imported by name", "cosine_annealing", '''
from torch.optim.lr_scheduler import CosineAnnealingLR


def cosine_annealing(t, t_max, lr_max, lr_min=0.0):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr_max)
    scheduler = CosineAnnealingLR(optimizer, T_max=t_max, eta_min=lr_min)
    for _ in range(t):
        optimizer.step()
        scheduler.step()
    return scheduler.get_last_lr()[0]
''', "test_cosine_annealing"),
    # loss_valley: the longest strictly falling run of the range test's curve.
    wrong("loss_valley taking the first descent, not the longest", "loss_valley", """
def loss_valley(lrs, losses):
""" + _VALLEY_CHECKS + """    falls = [k for k in range(len(losses) - 1) if losses[k + 1] < losses[k]]
    if not falls:
        raise ValueError("no loss falls")
    start = end = falls[0]
    while end + 1 < len(losses) and losses[end + 1] < losses[end]:
        end += 1
    return lrs[start], lrs[end]
""", "test_loss_valley"),
    _valley_mistake("loss_valley resolving a tie to the last run",
                    ("elif k - start > best[1] - best[0]:", "elif k - start >= best[1] - best[0]:")),
    _valley_mistake("loss_valley letting equal losses extend the run (<= instead of <)",
                    ("if not losses[k] < losses[k - 1]:", "if not losses[k] <= losses[k - 1]:")),
    _valley_mistake("loss_valley ending one point after the valley",
                    ("return lrs[best[0]], lrs[best[1]]", "return lrs[best[0]], lrs[best[1] + 1]")),
    _valley_mistake("loss_valley ending one point before the end of the valley",
                    ("return lrs[best[0]], lrs[best[1]]", "return lrs[best[0]], lrs[best[1] - 1]")),
    _valley_mistake("loss_valley returning indices instead of rates",
                    ("return lrs[best[0]], lrs[best[1]]", "return best[0], best[1]")),
    _valley_mistake("loss_valley breaking a run only on losses[k] >= losses[k - 1] (a NaN continues it)",
                    ("if not losses[k] < losses[k - 1]:", "if losses[k] >= losses[k - 1]:")),
    _valley_mistake("loss_valley with the sign flipped (the longest rise)",
                    ("if not losses[k] < losses[k - 1]:", "if not losses[k] > losses[k - 1]:")),
    _valley_mistake("loss_valley without the ValueError when no loss falls",
                    ("    if best == (0, 0):\n", "    if best == (0, 0) and False:\n")),
    _valley_mistake("loss_valley without the length check (zip-like truncation)",
                    ("    if len(lrs) != len(losses):\n", "    if False:\n")),
    wrong("loss_valley around the global minimum", "loss_valley", """
def loss_valley(lrs, losses):
""" + _VALLEY_CHECKS + """    finite = [i for i in range(len(losses)) if math.isfinite(losses[i])]
    lowest = min(finite, key=lambda i: losses[i])
    start = lowest
    while start > 0 and losses[start - 1] > losses[start]:
        start -= 1
    if start == lowest:
        raise ValueError("no loss falls")
    return lrs[start], lrs[lowest]
""", "test_loss_valley"),
    wrong("loss_valley forgetting the run still open at the last point", "loss_valley", """
def loss_valley(lrs, losses):
""" + _VALLEY_CHECKS + """    best, start = None, 0
    for k in range(1, len(losses)):
        if not losses[k] < losses[k - 1]:
            if k - 1 > start and (best is None or k - 1 - start > best[1] - best[0]):
                best = (start, k - 1)
            start = k
    if best is None:
        raise ValueError("no loss falls")
    return lrs[best[0]], lrs[best[1]]
""", "test_loss_valley"),
    wrong("loss_valley comparing the losses in float32", "loss_valley", """
def loss_valley(lrs, losses):
""" + _VALLEY_CHECKS + """    values = torch.tensor(list(losses))
    falling = (values[1:] < values[:-1]).tolist()
    best, start = None, 0
    for k, falls in enumerate(falling, start=1):
        if not falls:
            start = k
        elif best is None or k - start > best[1] - best[0]:
            best = (start, k)
    if best is None:
        raise ValueError("no loss falls")
    return lrs[best[0]], lrs[best[1]]
""", "test_loss_valley"),
    wrong("Q5 a step late (t = 46)", "q5_warm_restarts_lr",
          "Q5 = 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * 16 / 40)) / 2", "test_q5_warm_restarts_lr"),
    wrong("Q5 with T_mult ignored (cycles of 10)", "q5_warm_restarts_lr",
          "Q5 = 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * 5 / 10)) / 2", "test_q5_warm_restarts_lr"),
    wrong("Q5 in a cycle of 20 (T_i of the second cycle)", "q5_warm_restarts_lr",
          "Q5 = 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * 15 / 20)) / 2", "test_q5_warm_restarts_lr"),
    wrong("Q5 without eta_min", "q5_warm_restarts_lr", "Q5 = 0.1 * (1 + math.cos(math.pi * 15 / 40)) / 2",
          "test_q5_warm_restarts_lr"),
    wrong("Q6 with the climb ending at step 50", "q6_one_cycle_lr",
          "Q6 = 0.0005 + (0.5 - 0.0005) * (1 + math.cos(math.pi * 99 / 149)) / 2", "test_q6_one_cycle_lr"),
    wrong("Q6 annealed linearly", "q6_one_cycle_lr", "Q6 = 0.5 - (0.5 - 0.0005) * 100 / 150",
          "test_q6_one_cycle_lr"),
    wrong("Q6 with min_lr = max_lr / final_div_factor", "q6_one_cycle_lr",
          "Q6 = 0.005 + (0.5 - 0.005) * (1 + math.cos(math.pi * 100 / 150)) / 2", "test_q6_one_cycle_lr"),
    wrong("Q6 annealing down to 0", "q6_one_cycle_lr", "Q6 = 0.5 * (1 + math.cos(math.pi * 100 / 150)) / 2",
          "test_q6_one_cycle_lr"),
]

ALTERNATIVES = [
    right("range test with ExponentialLR, own batches and cloned tensors", "lr_range_test", '''
def lr_range_test(model, loss_fn, X, y, start_lr=1e-5, end_lr=10.0, num_iters=300, batch_size=32,
                  stop_factor=4.0, optimizer=None):
    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=start_lr)
    model_copy = {name: value.detach().clone() for name, value in model.state_dict().items()}
    optimizer_copy = copy.deepcopy(optimizer.state_dict())
    grads_copy = [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()]
    for group in optimizer.param_groups:
        group["lr"] = start_lr
    gamma = (end_lr / start_lr) ** (1 / (num_iters - 1))
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)
    lrs, losses = [], []
    order, position = torch.randperm(len(X), device=X.device), 0
    for i in range(num_iters):
        if position >= len(X):
            order, position = torch.randperm(len(X), device=X.device), 0
        index = order[position:position + batch_size]
        position += batch_size
        lr = scheduler.get_last_lr()[0]
        loss = loss_fn(model(X[index]), y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        lrs.append(lr)
        losses.append(loss.item() if not losses else 0.9 * losses[-1] + 0.1 * loss.item())
        if math.isnan(losses[-1]) or math.isinf(losses[-1]) or losses[-1] > stop_factor * min(losses):
            break
    with torch.no_grad():
        for name, value in model.state_dict().items():
            value.copy_(model_copy[name])
    optimizer.load_state_dict(optimizer_copy)
    for p, grad in zip(model.parameters(), grads_copy):
        p.grad = grad
    return lrs, losses
'''),
    right("range test multiplying the rate by a constant factor", "lr_range_test", '''
def lr_range_test(model, loss_fn, X, y, start_lr=1e-5, end_lr=10.0, num_iters=300, batch_size=32,
                  stop_factor=4.0, optimizer=None):
    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=start_lr)
    saved = copy.deepcopy((model.state_dict(), optimizer.state_dict()))
    was_training = model.training
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    model.train()
    factor = math.exp(math.log(end_lr / start_lr) / (num_iters - 1))
    lr, smoothed, best = start_lr, None, float("inf")
    lrs, losses = [], []
    done = False
    while not done:
        for xb, yb in labs.batches(X, y, batch_size):
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            smoothed = loss.item() if smoothed is None else smoothed + 0.1 * (loss.item() - smoothed)
            lrs.append(lr)
            losses.append(smoothed)
            best = min(best, smoothed)
            lr *= factor
            if len(lrs) == num_iters or not math.isfinite(smoothed) or smoothed > stop_factor * best:
                done = True
                break
    model.load_state_dict(saved[0])
    optimizer.load_state_dict(saved[1])
    model.train(was_training)
    for p, grad in zip(model.parameters(), grads):
        p.grad = grad
    return lrs, losses
'''),
    right("suggest_lr dropping non-finite losses from its own copies", "suggest_lr", '''
def suggest_lr(lrs, losses):
    lrs, losses = list(lrs), list(losses)
    for i in reversed(range(len(losses))):
        if not math.isfinite(losses[i]):
            del losses[i], lrs[i]
    return lrs[losses.index(min(losses))] / 10
'''),
    right("suggest_lr with tensors", "suggest_lr", '''
def suggest_lr(lrs, losses):
    losses = torch.tensor(losses, dtype=torch.float64)
    losses = torch.where(torch.isfinite(losses), losses, torch.full_like(losses, float("inf")))
    return float(torch.tensor(lrs, dtype=torch.float64)[losses.argmin()] / 10)
'''),
    right("suggest_lr by scanning", "suggest_lr", '''
def suggest_lr(lrs, losses):
    best_lr, best_loss = None, None
    for lr, loss in zip(lrs, losses):
        if math.isfinite(loss) and (best_loss is None or loss < best_loss):
            best_lr, best_loss = lr, loss
    return 0.1 * best_lr
'''),
    right("power schedule with a negative exponent", "power_schedule", '''
def power_schedule(t, lr0, s, c=1.0):
    return lr0 * math.pow(1 + t / s, -c)
'''),
    right("exponential schedule through exp and log", "exponential_schedule", '''
def exponential_schedule(t, lr0, gamma):
    return lr0 * math.exp(t * math.log(gamma))
'''),
    right("piecewise constant with bisect", "piecewise_constant", '''
import bisect


def piecewise_constant(t, boundaries, values):
    return values[bisect.bisect_right(boundaries, t)]
'''),
    right("piecewise constant with a loop", "piecewise_constant", '''
def piecewise_constant(t, boundaries, values):
    for boundary, value in zip(boundaries, values):
        if t < boundary:
            return value
    return values[-1]
'''),
    right("cosine annealing as a squared cosine of the half angle", "cosine_annealing", '''
def cosine_annealing(t, t_max, lr_max, lr_min=0.0):
    return lr_min + (lr_max - lr_min) * math.cos(math.pi * t / (2 * t_max)) ** 2
'''),
    right("warm-up with an explicit branch", "warmup_linear", '''
def warmup_linear(t, lr, start_factor, total_iters):
    if t >= total_iters:
        return lr
    return lr * start_factor + lr * (1 - start_factor) * t / total_iters
'''),
    right("warm restarts calling cosine_annealing", "cosine_warm_restarts", '''
def cosine_warm_restarts(t, t_0, t_mult, lr_max, lr_min=0.0):
    if t_mult == 1:
        return cosine_annealing(t % t_0, t_0, lr_max, lr_min)
    start, length = 0, t_0
    while t >= start + length:
        start += length
        length *= t_mult
    return cosine_annealing(t - start, length, lr_max, lr_min)
'''),
    right("1cycle with explicit phases", "one_cycle", '''
def one_cycle(t, total_steps, max_lr, pct_start=0.3, anneal_strategy="cos", base_momentum=0.85,
              max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False):
    def anneal(start, end, pct):
        if anneal_strategy == "linear":
            return (end - start) * pct + start
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    low = max_lr / div_factor
    lowest = low / final_div_factor
    up_end = float(pct_start * total_steps) - 1
    if t <= up_end:
        pct = t / up_end
        return anneal(low, max_lr, pct), anneal(max_momentum, base_momentum, pct)
    if three_phase:
        down_end = float(2 * pct_start * total_steps) - 2
        if t <= down_end:
            pct = (t - up_end) / (down_end - up_end)
            return anneal(max_lr, low, pct), anneal(base_momentum, max_momentum, pct)
        pct = (t - down_end) / (total_steps - 1 - down_end)
        return anneal(low, lowest, pct), max_momentum
    pct = (t - up_end) / (total_steps - 1 - up_end)
    return anneal(max_lr, lowest, pct), anneal(base_momentum, max_momentum, pct)
'''),
    right("random search with numpy's generator", "random_search", '''
import numpy as np


def random_search(train_fn, space, n_trials, seed=0):
    rng = np.random.default_rng(seed)
    results = []
    for trial in range(n_trials):
        params = {}
        for name, spec in space.items():
            if isinstance(spec, list):
                params[name] = spec[int(rng.integers(len(spec)))]
            elif len(spec) == 3 and spec[2] == "log":
                params[name] = float(10 ** rng.uniform(np.log10(spec[0]), np.log10(spec[1])))
            else:
                params[name] = float(rng.uniform(spec[0], spec[1]))
        results.append({"trial": trial, "params": params, "score": train_fn(**params)})
    results.sort(key=lambda r: -r["score"])
    return results
'''),
    right("random search with a torch.Generator of its own", "random_search", '''
def random_search(train_fn, space, n_trials, seed=0):
    generator = torch.Generator().manual_seed(seed)

    def uniform(low, high):
        return low + (high - low) * torch.rand((), generator=generator, dtype=torch.float64).item()

    def sample(spec):
        if isinstance(spec, list):
            return spec[int(torch.randint(len(spec), (), generator=generator))]
        if len(spec) == 3 and spec[2] == "log":
            return math.exp(uniform(math.log(spec[0]), math.log(spec[1])))
        return uniform(spec[0], spec[1])

    trials = [{"trial": i, "params": (params := {k: sample(v) for k, v in space.items()}),
               "score": train_fn(**params)} for i in range(n_trials)]
    return sorted(trials, key=lambda e: -e["score"])
'''),
    right("Q1 to three decimals", "q1_exponential_gamma", "Q1 = 0.891"),
    right("loss_valley counting the current run's length", "loss_valley", """
def loss_valley(lrs, losses):
    if len(lrs) != len(losses):
        raise ValueError("lrs and losses differ in length")
    if len(losses) < 2:
        raise ValueError("pass at least two points")
    best_length, best_end, run = 0, None, 0
    for k in range(1, len(losses)):
        run = run + 1 if losses[k] < losses[k - 1] else 0
        if run > best_length:
            best_length, best_end = run, k
    if best_end is None:
        raise ValueError("no loss falls: lower start_lr")
    return lrs[best_end - best_length], lrs[best_end]
"""),
    right("loss_valley vectorized: torch.diff < 0, then run lengths by cumsum and cummax", "loss_valley", """
def loss_valley(lrs, losses):
""" + _VALLEY_CHECKS + """    falling = torch.diff(torch.tensor(list(losses), dtype=torch.float64)) < 0
    counts = falling.long().cumsum(0)
    resets = torch.where(falling, torch.zeros_like(counts), counts).cummax(0).values
    runs = counts - resets
    end = int(runs.argmax())
    length = int(runs[end])
    if length == 0:
        raise ValueError("no loss falls")
    return lrs[end + 1 - length], lrs[end + 1]
"""),
    right("loss_valley with itertools.groupby", "loss_valley", """
import itertools


def loss_valley(lrs, losses):
""" + _VALLEY_CHECKS + """    best, position = None, 0
    steps = (losses[k + 1] < losses[k] for k in range(len(losses) - 1))
    for falls, group in itertools.groupby(steps):
        length = len(list(group))
        if falls and (best is None or length > best[1] - best[0]):
            best = (position, position + length)
        position += length
    if best is None:
        raise ValueError("no loss falls")
    return (lrs[best[0]], lrs[best[1]])
"""),
    right("Q5 to four significant digits", "q5_warm_restarts_lr", "Q5 = 0.06944"),
    right("Q6 to four significant digits", "q6_one_cycle_lr", "Q6 = 0.1254"),
    right("plateau scheduler that counts from the epoch of the last improvement", "plateau_scheduler", '''
class ReduceLROnPlateauScratch:
    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, min_lr=0.0):
        if mode not in {"min", "max"}:
            raise ValueError(f"unknown mode {mode}")
        if factor <= 0 or factor >= 1:
            raise ValueError(f"factor {factor} outside (0, 1)")
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.min_lr = threshold, min_lr
        self.best = float("inf") if mode == "min" else float("-inf")
        self.epoch = 0
        self.last_good = 0

    @property
    def num_bad_epochs(self):
        return self.epoch - self.last_good

    def _better(self, value):
        if self.mode == "min":
            return value < self.best * (1 - self.threshold)
        return value > self.best * (1 + self.threshold)

    def step(self, metric):
        value = metric.item() if isinstance(metric, torch.Tensor) else float(metric)
        self.epoch += 1
        if self._better(value):
            self.best = value
            self.last_good = self.epoch
        if self.num_bad_epochs > self.patience:
            for group in self.optimizer.param_groups:
                group["lr"] = max(self.min_lr, self.factor * group["lr"])
            self.last_good = self.epoch
'''),
]
