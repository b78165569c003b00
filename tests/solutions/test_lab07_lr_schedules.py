"""Lab 07's reference solutions against PyTorch's own schedulers."""

import bisect
import copy
import math

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler

from solutions import lab07_lr_schedules as ref

STEPS = 1000


def scheduler_rates(make_scheduler, steps: int, lr: float = 1.0, momentum: float = 0.0):
    """get_last_lr() (and the momentum) at steps 0 .. steps-1 of a freshly built scheduler."""
    parameter = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=lr, momentum=momentum)
    scheduler = make_scheduler(optimizer)
    rates, momenta = [], []
    for _ in range(steps):
        rates.append(scheduler.get_last_lr()[0])
        momenta.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        scheduler.step()
    return rates, momenta


def assert_same_rates(mine, theirs, scale=1.0):
    for t, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12 * scale), f"step {t}: {a} vs {b}"


@pytest.mark.parametrize(("s", "c"), [(20, 1.0), (100, 0.5), (7, 2.0)])
def test_power_schedule_matches_lambda_lr(s, c):
    rates, _ = scheduler_rates(lambda o: lr_scheduler.LambdaLR(o, lambda t: 1 / (1 + t / s) ** c),
                               STEPS, lr=0.1)
    assert_same_rates([ref.power_schedule(t, 0.1, s, c) for t in range(STEPS)], rates)


@pytest.mark.parametrize("gamma", [0.99, 0.9, 0.1 ** (1 / 300)])
def test_exponential_schedule_matches_exponential_lr(gamma):
    rates, _ = scheduler_rates(lambda o: lr_scheduler.ExponentialLR(o, gamma), STEPS, lr=0.05)
    assert_same_rates([ref.exponential_schedule(t, 0.05, gamma) for t in range(STEPS)], rates)


def test_piecewise_constant_matches_multistep_lr():
    boundaries = [100, 250, 600]
    rates, _ = scheduler_rates(lambda o: lr_scheduler.MultiStepLR(o, boundaries, gamma=0.5), STEPS,
                               lr=0.1)
    values = [0.1, 0.05, 0.025, 0.0125]
    assert_same_rates([ref.piecewise_constant(t, boundaries, values) for t in range(STEPS)], rates)


def test_piecewise_constant_matches_a_lambda_lr_with_any_values():
    boundaries, values = [5, 30, 31, 400], [0.3, 0.01, 0.2, 0.002, 0.05]
    rates, _ = scheduler_rates(lambda o: lr_scheduler.LambdaLR(
        o, lambda t: values[bisect.bisect_right(boundaries, t)] / values[0]), STEPS, lr=values[0])
    assert_same_rates([ref.piecewise_constant(t, boundaries, values) for t in range(STEPS)], rates)


def test_step_decay_is_piecewise_constant():
    rates, _ = scheduler_rates(lambda o: lr_scheduler.StepLR(o, step_size=30, gamma=0.1), 200, lr=1.0)
    boundaries = [30, 60, 90, 120, 150, 180]
    values = [0.1**k for k in range(7)]
    assert_same_rates([ref.piecewise_constant(t, boundaries, values) for t in range(200)], rates)


def test_piecewise_constant_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="one value more"):
        ref.piecewise_constant(3, [10, 20], [1.0, 0.1])


@pytest.mark.parametrize(("t_max", "lr_min"), [(300, 0.0), (97, 1e-4), (10, 0.02)])
def test_cosine_annealing_matches_cosine_annealing_lr(t_max, lr_min):
    rates, _ = scheduler_rates(lambda o: lr_scheduler.CosineAnnealingLR(o, t_max, eta_min=lr_min),
                               t_max + 1, lr=0.1)
    assert_same_rates([ref.cosine_annealing(t, t_max, 0.1, lr_min) for t in range(t_max + 1)], rates,
                      scale=0.1)


@pytest.mark.parametrize(("start_factor", "total_iters"), [(0.01, 50), (1 / 3, 5), (0.1, 1)])
def test_warmup_linear_matches_linear_lr(start_factor, total_iters):
    rates, _ = scheduler_rates(lambda o: lr_scheduler.LinearLR(o, start_factor, 1.0, total_iters),
                               400, lr=0.2)
    assert_same_rates([ref.warmup_linear(t, 0.2, start_factor, total_iters) for t in range(400)],
                      rates)


@pytest.mark.parametrize(("t_0", "t_mult", "lr_min"), [(10, 2, 0.0), (7, 1, 1e-3), (5, 3, 0.0)])
def test_cosine_warm_restarts_matches_pytorch(t_0, t_mult, lr_min):
    rates, _ = scheduler_rates(lambda o: lr_scheduler.CosineAnnealingWarmRestarts(
        o, t_0, t_mult, eta_min=lr_min), STEPS, lr=0.1)
    assert_same_rates([ref.cosine_warm_restarts(t, t_0, t_mult, 0.1, lr_min) for t in range(STEPS)],
                      rates, scale=0.1)


@pytest.mark.parametrize("options", [
    {},
    {"three_phase": True},
    {"anneal_strategy": "linear", "pct_start": 0.25},
    {"div_factor": 10.0, "final_div_factor": 100.0, "base_momentum": 0.8, "max_momentum": 0.9},
])
def test_one_cycle_matches_one_cycle_lr_rates_and_momenta(options):
    total = 537
    rates, momenta = scheduler_rates(lambda o: lr_scheduler.OneCycleLR(
        o, 0.5, total_steps=total, **options), total, lr=0.1, momentum=0.9)
    mine = [ref.one_cycle(t, total, 0.5, **options) for t in range(total)]
    assert_same_rates([lr for lr, _ in mine], rates, scale=0.5)
    assert_same_rates([momentum for _, momentum in mine], momenta)


def test_one_cycle_momentum_moves_against_the_learning_rate():
    values = [ref.one_cycle(t, 100, 1.0) for t in range(100)]
    peak = max(range(100), key=lambda t: values[t][0])
    assert values[0][1] == pytest.approx(0.95) and values[peak][1] == pytest.approx(0.85)
    assert values[-1][1] == pytest.approx(0.95)


def toy_problem(dtype=torch.float64):
    torch.manual_seed(0)
    X = torch.randn(64, 5, dtype=dtype)
    y = (X[:, 0] + X[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2)).to(dtype)
    return model, X, y


def test_range_test_grows_the_rate_exponentially_and_stops_when_the_loss_explodes():
    model, X, y = toy_problem()
    lrs, losses = ref.lr_range_test(model, nn.CrossEntropyLoss(), X, y, start_lr=1e-3, end_lr=1e3,
                                    num_iters=100, batch_size=16)
    expected = [1e-3 * 1e6 ** (i / 99) for i in range(len(lrs))]
    assert lrs == pytest.approx(expected, rel=1e-12)
    assert len(lrs) == len(losses) < 100
    assert losses[-1] > 4 * min(losses)
    assert all(loss <= 4 * min(losses[:i + 1]) for i, loss in enumerate(losses[:-1]))


def test_range_test_follows_pytorchs_exponential_lr_with_an_ema_of_the_losses():
    """Full batch, so the batch order does not matter: replay it with ExponentialLR."""
    model, X, y = toy_problem()
    replay = copy.deepcopy(model)
    lrs, losses = ref.lr_range_test(model, nn.CrossEntropyLoss(), X, y, start_lr=1e-3, end_lr=10.0,
                                    num_iters=60, batch_size=64)
    optimizer = torch.optim.SGD(replay.parameters(), lr=1e-3)
    scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=(10.0 / 1e-3) ** (1 / 59))
    smoothed = None
    for lr, loss in zip(lrs, losses, strict=True):
        assert scheduler.get_last_lr()[0] == pytest.approx(lr, rel=1e-9)
        raw = nn.CrossEntropyLoss()(replay(X), y)
        optimizer.zero_grad()
        raw.backward()
        optimizer.step()
        scheduler.step()
        smoothed = raw.item() if smoothed is None else 0.9 * smoothed + 0.1 * raw.item()
        assert loss == pytest.approx(smoothed, rel=1e-6)


def test_range_test_restores_the_model_and_the_optimizer():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    X, y = torch.randn(128, 5), torch.randint(0, 2, (128,))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    nn.CrossEntropyLoss()(model(X), y).backward()
    optimizer.step()
    model_before = copy.deepcopy(model.state_dict())
    optimizer_before = copy.deepcopy(optimizer.state_dict())
    ref.lr_range_test(model, nn.CrossEntropyLoss(), X, y, num_iters=50, optimizer=optimizer)
    for name, value in model.state_dict().items():
        assert torch.equal(value, model_before[name]), name
    after = optimizer.state_dict()
    assert after["param_groups"] == optimizer_before["param_groups"]
    for index, state in optimizer_before["state"].items():
        for key, value in state.items():
            assert torch.equal(after["state"][index][key], value), (index, key)


def test_range_test_stops_at_the_first_non_finite_loss():
    model, X, y = toy_problem()
    calls = []

    def nan_from_the_tenth_call(outputs, targets):
        calls.append(1)
        loss = nn.functional.cross_entropy(outputs, targets)
        return loss * math.nan if len(calls) >= 10 else loss

    lrs, losses = ref.lr_range_test(model, nan_from_the_tenth_call, X, y, num_iters=100)
    assert len(lrs) == 10 and math.isnan(losses[-1])


def test_suggest_lr_is_a_tenth_of_the_rate_at_the_lowest_finite_loss():
    lrs = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    assert ref.suggest_lr(lrs, [2.3, 2.0, 1.1, 0.9, 5.0]) == pytest.approx(1e-2)
    assert ref.suggest_lr(lrs, [math.nan, 2.0, 0.7, 0.9, math.inf]) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="start_lr"):
        ref.suggest_lr(lrs[:2], [math.nan, math.inf])



LRS = [1e-4 * 10 ** (i / 10) for i in range(12)]


@pytest.mark.parametrize(("losses", "run"), [
    ([2.0, 1.5, 1.0, 0.8, 1.2, 3.0], (0, 3)),                              # a clean U
    ([2.0, 2.1, 1.9, 2.2, 2.1, 2.0, 1.9, 1.8, 2.5], (3, 7)),               # the longest, not the first
    ([1.0, 1.5, 1.4, 1.3, 1.6, 1.5, 1.4, 1.7], (1, 3)),                    # a tie: the first
    ([2.0, 1.8, 1.6, 1.6, 1.4, 1.2, 1.0, 1.1], (3, 6)),                    # a plateau ends a run
    ([1.0, 1.2, 1.1, 2.0, 1.9, 1.8, 1.7], (3, 6)),                         # to the last point
    ([3.0, 2.5, 2.0, 1.6, 1.4, 1.2, 1.0, math.nan], (0, 6)),               # NaN at the end
    ([2.0, 1.9, 1.8, math.nan, 1.7, 1.6, 1.5, 1.4, 1.5], (4, 7)),          # NaN inside
])
def test_loss_valley_is_the_longest_strictly_falling_run(losses, run):
    lrs = LRS[:len(losses)]
    assert ref.loss_valley(lrs, losses) == (lrs[run[0]], lrs[run[1]])
    assert ref.loss_valley(tuple(lrs), tuple(losses)) == (lrs[run[0]], lrs[run[1]])


@pytest.mark.parametrize(("lrs", "losses", "says"), [
    (LRS[:4], [1.0, 1.1, 1.2, 1.3], "start_lr"),
    (LRS[:3], [math.nan] * 3, "start_lr"),
    (LRS[:1], [1.0], "at least 2"),
    (LRS[:5], [3.0, 2.0, 1.0, 0.5], "same length"),
])
def test_loss_valley_refuses_what_has_no_valley(lrs, losses, says):
    with pytest.raises(ValueError, match=says):
        ref.loss_valley(lrs, losses)


def test_loss_valley_of_a_range_test_lies_on_its_smoothed_curve():
    model, X, y = toy_problem()
    lrs, losses = ref.lr_range_test(model, nn.CrossEntropyLoss(), X, y, start_lr=1e-3, end_lr=1e3,
                                    num_iters=100, batch_size=16)
    start, end = ref.loss_valley(lrs, losses)
    i, j = lrs.index(start), lrs.index(end)
    assert i < j and all(losses[k + 1] < losses[k] for k in range(i, j))

def test_random_search_samples_the_space_and_sorts_best_first():
    space = {"lr": (1e-4, 1.0, "log"), "momentum": (0.0, 0.99), "width": [32, 64, 128]}
    trials = ref.random_search(lambda lr, momentum, width: -abs(math.log10(lr) + 2), space, 400, seed=3)
    scores = [trial["score"] for trial in trials]
    assert scores == sorted(scores, reverse=True) and len(trials) == 400
    lrs = [trial["params"]["lr"] for trial in trials]
    assert all(1e-4 <= lr <= 1.0 for lr in lrs)
    assert 0.4 < sum(lr < 1e-2 for lr in lrs) / 400 < 0.6, "log-uniform: half below the geometric mean"
    assert {trial["params"]["width"] for trial in trials} == {32, 64, 128}
    assert sorted(trial["trial"] for trial in trials) == list(range(400))
    assert ref.random_search(lambda **p: p["lr"], space, 5, seed=3) == \
        ref.random_search(lambda **p: p["lr"], space, 5, seed=3)


def test_answer_key_agrees_with_pytorch():
    rates, _ = scheduler_rates(lambda o: lr_scheduler.ExponentialLR(o, ref.Q1), 41)
    assert rates[20] == pytest.approx(0.1) and rates[40] == pytest.approx(0.01)
    parameter = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.1)
    plateau = lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=2)
    for accuracy in (0.80, 0.85, 0.84, 0.83, 0.86, 0.85, 0.84, 0.84):
        plateau.step(accuracy)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(ref.Q3)


def rate_at(make_scheduler, t: int, lr: float) -> float:
    """get_last_lr() after t calls to scheduler.step()."""
    rates, _ = scheduler_rates(make_scheduler, t + 1, lr=lr, momentum=0.9)
    return rates[t]


def test_derived_rates_of_the_answer_key_agree_with_pytorch():
    restarts = rate_at(lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2,
                                                                         eta_min=0.001), 45, lr=0.1)
    assert math.isclose(ref.Q5, restarts, rel_tol=1e-12)
    one_cycle = rate_at(lambda o: lr_scheduler.OneCycleLR(
        o, max_lr=0.5, total_steps=200, pct_start=0.25, div_factor=10, final_div_factor=100,
        anneal_strategy="cos"), 149, lr=0.1)
    assert math.isclose(ref.Q6, one_cycle, rel_tol=1e-12)


@pytest.mark.parametrize(("slip", "make_scheduler", "t", "answer"), [
    ("a step early", lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, 10, 2, 0.001), 44, "Q5"),
    ("a step late", lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, 10, 2, 0.001), 46, "Q5"),
    ("T_mult ignored", lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, 10, 1, 0.001), 45, "Q5"),
    ("eta_min forgotten", lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, 10, 2), 45, "Q5"),
    ("a step early", lambda o: lr_scheduler.OneCycleLR(o, 0.5, 200, pct_start=0.25, div_factor=10,
                                                        final_div_factor=100), 148, "Q6"),
    ("linear for cos", lambda o: lr_scheduler.OneCycleLR(o, 0.5, 200, pct_start=0.25, div_factor=10,
                                                          final_div_factor=100,
                                                          anneal_strategy="linear"), 149, "Q6"),
    ("min_lr = max_lr / final_div_factor", lambda o: lr_scheduler.OneCycleLR(
        o, 0.5, 200, pct_start=0.25, div_factor=1, final_div_factor=100), 149, "Q6"),
    ("min_lr forgotten", lambda o: lr_scheduler.OneCycleLR(
        o, 0.5, 200, pct_start=0.25, div_factor=10, final_div_factor=1e12), 149, "Q6"),
])
def test_the_usual_slips_fall_outside_the_answers_tolerance(slip, make_scheduler, t, answer):
    assert not math.isclose(rate_at(make_scheduler, t, lr=0.1), getattr(ref, answer), rel_tol=1e-3), slip
