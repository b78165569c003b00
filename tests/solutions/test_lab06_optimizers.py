"""Lab 06's reference optimizers and Adam's first step against torch.optim, and its pruning against
torch.nn.utils.prune."""

import copy
import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from solutions import lab06_optimizers as ref

STEPS = 50

# (reference class, PyTorch class, arguments for both)
PAIRS = [
    (ref.MomentumSGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    (ref.MomentumSGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (ref.MomentumSGD, torch.optim.SGD, {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.05}),
    (ref.MomentumSGD, torch.optim.SGD, {"lr": 0.1, "momentum": 0.0}),
    (ref.AdaGrad, torch.optim.Adagrad, {}),
    (ref.AdaGrad, torch.optim.Adagrad, {"lr": 0.1, "eps": 1e-2}),
    (ref.RMSProp, torch.optim.RMSprop, {}),
    (ref.RMSProp, torch.optim.RMSprop, {"lr": 0.02, "alpha": 0.9, "eps": 1e-3}),
    (ref.Adam, torch.optim.Adam, {}),
    (ref.Adam, torch.optim.Adam, {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6}),
    (ref.AdaMax, torch.optim.Adamax, {}),
    (ref.AdaMax, torch.optim.Adamax, {"lr": 0.01, "betas": (0.8, 0.99)}),
    (ref.NAdam, torch.optim.NAdam, {}),
    (ref.NAdam, torch.optim.NAdam, {"lr": 0.01, "momentum_decay": 0.1}),
    (ref.AdamW, torch.optim.AdamW, {}),
    (ref.AdamW, torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}),
]
IDS = [f"{mine.__name__}-{'-'.join(f'{k}={v}' for k, v in kwargs.items()) or 'defaults'}"
       for mine, _, kwargs in PAIRS]


def make_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))
    model.register_parameter("unused", nn.Parameter(torch.randn(2)))  # its grad stays None
    return model.double()


def groups_of(model: nn.Module, lr: float) -> list[dict]:
    return [{"params": list(model[0].parameters()), "lr": lr / 2},
            {"params": [*model[2].parameters(), *model[4].parameters(), model.unused]}]


def train(model, optimizer, steps=STEPS, loss_scale=1.0, schedule=False):
    generator = torch.Generator().manual_seed(1)
    for step in range(steps):
        if schedule and step == steps // 2:
            for group in optimizer.param_groups:
                group["lr"] *= 0.3
        X = torch.randn(16, 6, generator=generator, dtype=torch.float64)
        y = torch.randint(0, 3, (16,), generator=generator)
        optimizer.zero_grad()
        (loss_scale * F.cross_entropy(model(X), y)).backward()
        optimizer.step()
    return [p.detach() for p in model.parameters()]


def assert_same_parameters(mine, theirs):
    for a, b in zip(mine, theirs):  # 1e-7, not less: PyTorch's NAdam keeps Πμ in float32
        assert torch.allclose(a, b, rtol=1e-7, atol=1e-7), (a - b).abs().max()


@pytest.mark.parametrize(("mine", "theirs", "kwargs"), PAIRS, ids=IDS)
def test_matches_pytorch_step_by_step_with_groups_and_a_schedule(mine, theirs, kwargs):
    lr = kwargs.get("lr", inspect.signature(mine).parameters["lr"].default)
    model_a, model_b = make_model(), make_model()
    a = train(model_a, mine(groups_of(model_a, lr), **kwargs), schedule=True)
    b = train(model_b, theirs(groups_of(model_b, lr), **kwargs), schedule=True)
    assert_same_parameters(a, b)
    assert model_a.unused.grad is None


@pytest.mark.parametrize(("mine", "theirs", "kwargs"), PAIRS[::2], ids=IDS[::2])
def test_matches_pytorch_with_tiny_gradients(mine, theirs, kwargs):
    # Where √v is comparable to ε, the place of ε matters.
    lr = kwargs.get("lr", 0.05)
    model_a, model_b = make_model(), make_model()
    a = train(model_a, mine(model_a.parameters(), **{**kwargs, "lr": lr}), loss_scale=1e-6)
    b = train(model_b, theirs(model_b.parameters(), **{**kwargs, "lr": lr}), loss_scale=1e-6)
    assert_same_parameters(a, b)


@pytest.mark.parametrize("cls", [ref.AdaGrad, ref.RMSProp, ref.Adam, ref.AdaMax, ref.NAdam, ref.AdamW])
def test_state_survives_a_state_dict_round_trip(cls):
    model = make_model()
    optimizer = cls(model.parameters())
    train(model, optimizer, steps=10)
    copy_model = copy.deepcopy(model)
    resumed = cls(copy_model.parameters())
    resumed.load_state_dict(copy.deepcopy(optimizer.state_dict()))  # state_dict() shares tensors
    assert_same_parameters(train(copy_model, resumed, steps=10), train(model, optimizer, steps=10))


def test_step_calls_the_closure_and_returns_its_loss():
    model = make_model()
    optimizer = ref.Adam(model.parameters(), lr=0.01)
    X, y = torch.randn(8, 6, dtype=torch.float64), torch.randint(0, 3, (8,))

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        return loss

    before = model[0].weight.detach().clone()
    loss = optimizer.step(closure)
    assert loss.item() == pytest.approx(F.cross_entropy(make_model()(X), y).item())
    assert not torch.equal(before, model[0].weight)


def test_defaults_are_pytorchs():
    param = [nn.Parameter(torch.zeros(2))]
    for mine, theirs in [(ref.AdaGrad, torch.optim.Adagrad), (ref.RMSProp, torch.optim.RMSprop),
                         (ref.Adam, torch.optim.Adam), (ref.AdaMax, torch.optim.Adamax),
                         (ref.NAdam, torch.optim.NAdam), (ref.AdamW, torch.optim.AdamW)]:
        ours, pytorchs = mine(param).defaults, theirs(param).defaults
        assert {key: pytorchs[key] for key in ours} == ours, mine.__name__


@pytest.mark.parametrize(("cls", "kwargs"), [
    (ref.MomentumSGD, {"lr": -1.0}),
    (ref.MomentumSGD, {"lr": 0.1, "momentum": -0.1}),
    (ref.MomentumSGD, {"lr": 0.1, "weight_decay": -0.1}),
    (ref.MomentumSGD, {"lr": 0.1, "momentum": 0.0, "nesterov": True}),
    (ref.AdaGrad, {"eps": -1.0}),
    (ref.RMSProp, {"alpha": 1.0}),
    (ref.Adam, {"betas": (1.0, 0.999)}),
    (ref.AdaMax, {"betas": (0.9, -0.5)}),
    (ref.NAdam, {"momentum_decay": -1.0}),
    (ref.AdamW, {"weight_decay": -1.0}),
])
def test_invalid_hyperparameters_raise_value_error(cls, kwargs):
    with pytest.raises(ValueError, match=r"Invalid|needs"):
        cls([nn.Parameter(torch.zeros(2))], **kwargs)


def pruning_model() -> nn.Module:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(20, 30), nn.LayerNorm(30), nn.ReLU(),
                          nn.Sequential(nn.Linear(30, 30), nn.ReLU()), nn.Linear(30, 5))
    with torch.no_grad():
        model[3][0].weight.mul_(10)
    return model


@pytest.mark.parametrize("amount", [0.0, 0.3, 0.8, 1.0])
def test_prune_smallest_is_global_magnitude_pruning_of_linear_weights(amount):
    mine, theirs = pruning_model(), pruning_model()
    layers = [theirs[0], theirs[3][0], theirs[4]]
    prune.global_unstructured([(layer, "weight") for layer in layers], pruning_method=prune.L1Unstructured,
                              amount=amount)
    sparsity = ref.prune_smallest(mine, amount)
    for a, b in zip([mine[0], mine[3][0], mine[4]], layers):
        assert torch.equal(a.weight == 0, b.weight == 0)
        assert torch.equal(a.bias, b.bias)
    assert torch.equal(mine[1].weight, theirs[1].weight)
    total = sum(layer.weight.numel() for layer in layers)
    assert sparsity == pytest.approx(round(amount * total) / total)


def test_prune_smallest_refuses_amounts_outside_zero_one():
    with pytest.raises(ValueError, match="fraction"):
        ref.prune_smallest(pruning_model(), 1.5)


def test_answer_key_agrees_with_pytorch():
    # Q2: the terminal velocity of momentum 0.9 under a constant gradient, in units of SGD's step.
    p = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=1.0, momentum=0.9)
    for _ in range(500):
        p.grad = torch.ones(1)
        before = p.item()
        optimizer.step()
    assert before - p.item() == pytest.approx(ref.Q2)
    # Q3: Adam's first step is η whatever the gradient.
    p = nn.Parameter(torch.zeros(1))
    p.grad = torch.full((1,), 0.02)
    torch.optim.Adam([p], lr=0.001, eps=0.0).step()
    assert abs(p.item()) == pytest.approx(ref.Q3)


def adam_one_step(grad: torch.Tensor, **kwargs) -> torch.Tensor:
    """θ₁ − θ₀ of one step of torch.optim.Adam from the zero state and θ₀ = 0."""
    param = torch.zeros_like(grad, requires_grad=True)
    param.grad = grad.clone()
    torch.optim.Adam([param], foreach=False, **kwargs).step()
    return param.detach()


FIRST_GRADS = [
    torch.tensor([[0.3, -2.0, 1e-3], [-7.5, 400.0, -0.02]], dtype=torch.float64),
    torch.tensor([1e-8, -3e-9, 2e-7, 0.0, -0.0, 2.5e30], dtype=torch.float64),
    torch.tensor(-0.7, dtype=torch.float64),
]
FIRST_SETTINGS = [(1e-3, (0.9, 0.999), 1e-8), (0.01, (0.8, 0.99), 1e-6), (0.1, (0.9, 0.99999), 1e-8),
                  (2e-4, (0.0, 0.5), 1e-3), (0.05, (0.95, 0.0), 1e-12)]


@pytest.mark.parametrize("grad", FIRST_GRADS, ids=["mixed", "near eps, zeros, huge", "0-dim"])
@pytest.mark.parametrize(("lr", "betas", "eps"), FIRST_SETTINGS)
def test_adam_first_step_is_one_step_of_torch_adam(grad, lr, betas, eps):
    original = grad.clone()
    change = ref.adam_first_step(grad, lr=lr, betas=betas, eps=eps)
    assert change.dtype == grad.dtype and change.shape == grad.shape
    assert torch.equal(grad, original)
    torch.testing.assert_close(change, adam_one_step(grad, lr=lr, betas=betas, eps=eps), rtol=1e-12, atol=0)


@pytest.mark.parametrize("grad", FIRST_GRADS, ids=["mixed", "near eps, zeros, huge", "0-dim"])
@pytest.mark.parametrize(("lr", "betas", "eps"), FIRST_SETTINGS)
def test_adam_first_step_uncorrected_is_adam_with_the_corrections_undone(grad, lr, betas, eps):
    # At t = 1 PyTorch divides m by 1 − β₁ and √v by √(1 − β₂) before adding ε: with the rate
    # lr·(1 − β₁)/√(1 − β₂) and ε/√(1 − β₂), its step is the uncorrected one.
    root = math.sqrt(1 - betas[1])
    undone = adam_one_step(grad, lr=lr * (1 - betas[0]) / root, betas=betas, eps=eps / root)
    change = ref.adam_first_step(grad, lr=lr, betas=betas, eps=eps, bias_correction=False)
    torch.testing.assert_close(change, undone, rtol=1e-12, atol=0)


def test_adam_first_step_keeps_float32_and_its_defaults_are_torch_adams():
    grad = torch.tensor([0.5, -1e-3, 3e3, 0.0])
    assert ref.adam_first_step(grad).dtype == torch.float32
    torch.testing.assert_close(ref.adam_first_step(grad), adam_one_step(grad))

