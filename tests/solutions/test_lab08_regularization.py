"""Lab 08's reference solutions against PyTorch's own optimizers, dropout layers and renorm."""

import copy

import pytest
import torch
from torch import nn

import labs
from solutions import lab08_regularization as ref


def small_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def test_penalties_sum_the_linear_and_conv_weights_only():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3),
                          nn.LayerNorm(3))
    weights = [model[0].weight, model[3].weight]
    assert ref.l1_penalty(model).item() == pytest.approx(sum(w.abs().sum().item() for w in weights))
    assert ref.l2_penalty(model).item() == pytest.approx(sum((w**2).sum().item() for w in weights))


def test_l1_penalty_gradient_is_the_sign_of_the_weights():
    model = small_net()
    ref.l1_penalty(model).backward()
    assert torch.equal(model[0].weight.grad, torch.sign(model[0].weight.detach()))
    assert model[0].bias.grad is None and model[1].weight.grad is None


def test_l2_penalty_under_sgd_is_weight_decay_of_twice_the_strength():
    torch.manual_seed(1)
    X, y = torch.randn(16, 6), torch.randint(0, 3, (16,))
    strength = 5e-3
    penalized, decayed = small_net(), small_net()
    loss_fn = nn.CrossEntropyLoss()
    sgd = torch.optim.SGD(penalized.parameters(), lr=0.1)
    (loss_fn(penalized(X), y) + strength * ref.l2_penalty(penalized)).backward()
    sgd.step()
    sgd_wd = torch.optim.SGD(ref.decay_param_groups(decayed, 2 * strength), lr=0.1)
    loss_fn(decayed(X), y).backward()
    sgd_wd.step()
    for mine, theirs in zip(penalized.parameters(), decayed.parameters()):
        assert torch.allclose(mine, theirs, atol=1e-7)


def test_decay_param_groups_are_accepted_by_adamw_and_spare_biases_and_norms():
    model = small_net()
    groups = ref.decay_param_groups(model, 0.5)
    optimizer = torch.optim.AdamW(groups, lr=0.1)
    before = copy.deepcopy(model.state_dict())
    for parameter in model.parameters():
        parameter.grad = torch.zeros_like(parameter)
    optimizer.step()
    after = model.state_dict()
    assert torch.allclose(after["0.weight"], before["0.weight"] * (1 - 0.1 * 0.5))
    for key in ("0.bias", "1.weight", "1.bias", "3.bias"):
        assert torch.equal(after[key], before[key]), key
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_has_the_statistics_of_nn_dropout(p):
    torch.manual_seed(2)
    x = torch.ones(200, 500)
    mine = ref.dropout(x, p, training=True)
    theirs = nn.Dropout(p).train()(x)
    assert torch.allclose(mine.unique(), theirs.unique())
    assert (mine == 0).float().mean().item() == pytest.approx((theirs == 0).float().mean().item(),
                                                              abs=0.01)
    assert mine.mean().item() == pytest.approx(1.0, abs=0.02)


def test_dropout_edge_cases():
    x = torch.randn(4, 5)
    assert torch.equal(ref.dropout(x, 0.5, training=False), x)
    assert torch.equal(ref.dropout(x, 0.0, training=True), x)
    assert torch.equal(ref.dropout(x, 1.0, training=True), torch.zeros_like(x))
    for p in (-0.1, 1.1):
        with pytest.raises(ValueError, match="between 0 and 1"):
            ref.dropout(x, p, training=True)


def test_dropout_function_passes_gradcheck_with_a_fixed_seed():
    def seeded(x):
        torch.manual_seed(8)
        return ref.DropoutFunction.apply(x, 0.3)

    x = (torch.rand(6, 7, dtype=torch.float64) + 0.5).requires_grad_()
    assert torch.autograd.gradcheck(seeded, (x,))


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_dropout_function_backward_is_autograds_for_the_same_mask(dtype):
    torch.manual_seed(9)
    x = (torch.rand(50, 40) + 0.5).to(dtype).requires_grad_()
    upstream = torch.randn(50, 40).to(dtype)
    out = ref.DropoutFunction.apply(x, 0.4)
    (grad,) = torch.autograd.grad(out, x, upstream)
    keep = out != 0
    leaf = x.detach().clone().requires_grad_()
    (expected,) = torch.autograd.grad(leaf * keep / 0.6, leaf, upstream)
    assert out.dtype == grad.dtype == dtype
    assert torch.equal(grad, expected)
    assert (~keep).float().mean().item() == pytest.approx(0.4, abs=0.05)


def test_dropout_function_edge_rates():
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(4, 5, dtype=torch.float64)
    out = ref.DropoutFunction.apply(x, 0.0)
    assert torch.equal(out, x) and torch.equal(torch.autograd.grad(out, x, upstream)[0], upstream)
    out = ref.DropoutFunction.apply(x, 1.0)
    assert torch.equal(out, torch.zeros_like(x))
    assert torch.equal(torch.autograd.grad(out, x, upstream)[0], torch.zeros_like(x))
    for p in (-0.1, 1.1):
        with pytest.raises(ValueError, match="between 0 and 1"):
            ref.DropoutFunction.apply(x, p)


def replayed(metrics, patience, min_delta=0.0, mode="min"):
    """The epoch (from 1) whose weights the reference EarlyStopping restores on `metrics`."""
    stopper, model = ref.EarlyStopping(patience, min_delta, mode), nn.Linear(1, 1)
    for epoch, metric in enumerate(metrics, start=1):
        with torch.no_grad():
            model.weight.fill_(epoch)
        if stopper.step(metric, model):
            break
    stopper.restore(model)
    return int(model.weight.item())


def test_restored_epoch_agrees_with_early_stopping_on_random_histories():
    generator = torch.Generator().manual_seed(10)
    for _ in range(200):
        n = int(torch.randint(1, 15, (1,), generator=generator))
        metrics = torch.randint(0, 6, (n,), generator=generator).div(4).tolist()  # many ties
        patience = int(torch.randint(1, 5, (1,), generator=generator))
        for options in ({}, {"min_delta": 0.3}, {"mode": "max"}, {"min_delta": 0.3, "mode": "max"}):
            assert ref.restored_epoch(metrics, patience, **options) == replayed(metrics, patience, **options)
    nan = float("nan")
    assert ref.restored_epoch([0.9, 0.6, nan, 0.65, 0.7], 3) == replayed([0.9, 0.6, nan, 0.65, 0.7], 3) == 2


def test_restored_epoch_refuses_an_empty_history_and_an_unknown_mode():
    with pytest.raises(ValueError, match="empty"):
        ref.restored_epoch([], 2)
    with pytest.raises(ValueError, match="'min' or 'max'"):
        ref.restored_epoch([0.5], 2, mode="median")


def test_mc_dropout_is_nn_dropout_that_ignores_eval_mode():
    torch.manual_seed(3)
    layer = ref.McDropout(0.3).eval()
    out = layer(torch.ones(100, 100))
    assert isinstance(layer, nn.Dropout)
    assert torch.allclose(out.unique(), torch.tensor([0.0, 1 / 0.7]))


def test_mc_predict_equals_manual_sampling_with_the_same_seed():
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.4),
                          nn.Linear(16, 3))
    model[1].running_mean.fill_(0.3)
    X = torch.randn(10, 6)
    torch.manual_seed(4)
    mean, std = ref.mc_predict(model, X, n_samples=20)
    assert model.training and model[3].training
    torch.manual_seed(4)
    model.eval()
    model[3].train()
    with torch.no_grad():
        probas = torch.stack([torch.softmax(model(X), dim=-1) for _ in range(20)])
    assert torch.allclose(mean, probas.mean(0)) and torch.allclose(std, probas.std(0, correction=0))
    assert torch.allclose(model[1].running_mean, torch.full((16,), 0.3))


def test_apply_max_norm_matches_torch_renorm():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 4))
    with torch.no_grad():
        model[0].weight.normal_(0, 1)
    for dim in (1, 0):
        weight = model[0].weight.detach().clone()
        ref.apply_max_norm_(model, max_norm=2.0, dim=dim)
        assert torch.allclose(model[0].weight, torch.renorm(weight, 2, 1 - dim, 2.0), atol=1e-6)
    assert model[0].weight.norm(dim=1).max().item() <= 2.0 + 1e-5


def test_early_stopping_in_labs_fit_restores_the_best_epoch():
    torch.manual_seed(6)
    X_train, y_train = torch.randn(32, 5), torch.randint(0, 2, (32,))
    X_valid, y_valid = torch.randn(64, 5), torch.randint(0, 2, (64,))
    net = nn.Sequential(nn.Linear(5, 64), nn.ReLU(), nn.Linear(64, 2))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
    history = labs.fit(net, optimizer, (X_train, y_train), (X_valid, y_valid), epochs=30,
                       batch_size=8, early_stopping=ref.EarlyStopping(3), progress=False)
    losses = history["valid_loss"]
    assert history.stopped_early and len(losses) == losses.index(min(losses)) + 4
    assert labs.evaluate(net, X_valid, y_valid)[0] == pytest.approx(min(losses))
    assert ref.restored_epoch(losses, 3) == losses.index(min(losses)) + 1


def test_early_stopping_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="'min' or 'max'"):
        ref.EarlyStopping(3, mode="median")


def test_answer_key_agrees_with_pytorch():
    torch.manual_seed(7)
    assert nn.Dropout(0.2).train()(torch.ones(1000)).max().item() == pytest.approx(ref.Q3)
    strength = 5e-4
    w_penalty = nn.Parameter(torch.randn(5))
    w_decay = nn.Parameter(w_penalty.detach().clone())
    (strength * (w_penalty**2).sum()).backward()
    torch.optim.SGD([w_penalty], lr=0.1).step()
    w_decay.grad = torch.zeros(5)
    torch.optim.SGD([w_decay], lr=0.1, weight_decay=ref.Q4).step()
    assert torch.allclose(w_penalty, w_decay)
