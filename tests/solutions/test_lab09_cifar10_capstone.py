"""Lab 09's reference solutions against PyTorch's own initializers, normalization and dropout."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.functional import normalize

from solutions import lab09_cifar10_capstone as ref


def linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def leaf_types(model: nn.Module) -> list[type]:
    return [type(m) for m in model.modules() if not list(m.children())]


def test_build_mlp_defaults_are_the_chapters_network():
    torch.manual_seed(0)
    model = ref.build_mlp()
    assert leaf_types(model) == [nn.Flatten] + [nn.Linear, nn.SiLU] * 20 + [nn.Linear]
    layers = linears(model)
    assert (layers[0].in_features, layers[0].out_features) == (3072, 100)
    assert (layers[-1].in_features, layers[-1].out_features) == (100, 10)
    assert model(torch.rand(5, 3, 32, 32)).shape == (5, 10)


@pytest.mark.parametrize(("kwargs", "nonlinearity"), [({}, "relu"), ({"selu": True}, "linear")])
def test_build_mlp_weights_have_the_std_of_pytorchs_kaiming_normal(kwargs, nonlinearity):
    torch.manual_seed(1)
    model = ref.build_mlp(**kwargs)
    hidden = torch.cat([layer.weight.flatten() for layer in linears(model)[1:-1]])
    expected = torch.empty(100 * 19, 100)
    nn.init.kaiming_normal_(expected, nonlinearity=nonlinearity)
    assert hidden.std().item() == pytest.approx(expected.std().item(), rel=0.02)
    assert all(torch.all(layer.bias == 0) for layer in linears(model))


def test_build_mlp_places_batch_norm_between_linear_and_activation():
    model = ref.build_mlp(n_hidden=2, n_neurons=8, activation="relu", batch_norm=True)
    assert leaf_types(model) == [nn.Flatten, nn.Linear, nn.BatchNorm1d, nn.ReLU,
                                 nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]


def test_build_mlp_selu_net_has_selu_and_alpha_dropout_before_the_output():
    model = ref.build_mlp(n_hidden=3, activation="gelu", selu=True, alpha_dropout=0.1)
    assert leaf_types(model) == [nn.Flatten] + [nn.Linear, nn.SELU] * 3 + [nn.AlphaDropout, nn.Linear]
    assert model[-2].p == 0.1
    assert ref.selu_violations(model) == []


def test_build_mlp_refuses_batch_norm_in_a_selu_net_and_unknown_activations():
    with pytest.raises(ValueError, match="self-normalization"):
        ref.build_mlp(selu=True, batch_norm=True)
    with pytest.raises(ValueError, match="Unknown activation"):
        ref.build_mlp(activation="swoosh")


def test_standardize_channels_matches_torchvision_normalize_with_training_statistics():
    torch.manual_seed(2)
    train = torch.rand(64, 3, 8, 8) * torch.tensor([1.0, 0.5, 2.0]).view(1, 3, 1, 1)
    test = torch.rand(16, 3, 8, 8)
    train_out, test_out = ref.standardize_channels(train, test, eps=0.0)
    mean = train.mean(dim=(0, 2, 3)).tolist()
    std = train.std(dim=(0, 2, 3)).tolist()
    assert torch.allclose(train_out, normalize(train, mean, std), atol=1e-5)
    assert torch.allclose(test_out, normalize(test, mean, std), atol=1e-5)
    assert torch.allclose(train_out.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)


def test_selu_violations_lists_leaf_layers_that_break_self_normalization_in_order():
    bn, relu, dropout = nn.BatchNorm1d(4), nn.ReLU(), nn.Dropout(0.2)
    model = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(4, 4), bn, relu),
                          nn.Linear(4, 4), nn.SELU(), ref.McDropout(0.1), dropout,
                          ref.McAlphaDropout(0.1), nn.Linear(4, 2))
    found = ref.selu_violations(model)
    assert [id(m) for m in found] == [id(bn), id(relu), id(model[4]), id(dropout)]


def test_mc_alpha_dropout_in_eval_mode_is_pytorchs_alpha_dropout_in_training_mode():
    layer = ref.McAlphaDropout(0.2).eval()
    x = torch.randn(300, 200)
    torch.manual_seed(3)
    mine = layer(x)
    torch.manual_seed(3)
    theirs = F.alpha_dropout(x, 0.2, training=True)
    assert torch.equal(mine, theirs)
    assert abs(mine.mean().item()) < 0.02 and mine.std().item() == pytest.approx(1.0, abs=0.02)


def test_to_mc_dropout_reuses_the_trained_layers_and_leaves_the_model_alone():
    torch.manual_seed(4)
    model = ref.build_mlp(n_hidden=3, n_neurons=16, selu=True, alpha_dropout=0.2).eval()
    X = torch.randn(8, 3, 32, 32)
    before = model(X)
    mc = ref.to_mc_dropout(model).eval()
    assert type(model[-2]) is nn.AlphaDropout and torch.equal(model(X), before)
    assert isinstance(mc[-2], ref.McAlphaDropout) and mc[-2].p == 0.2
    assert all(a is b for a, b in zip(mc, model) if not isinstance(a, nn.AlphaDropout))
    mean, std = ref.mc_predict(mc, X, n_samples=20)
    assert torch.allclose(mean.sum(dim=1), torch.ones(8)) and std.max() > 0


def test_to_mc_dropout_swaps_plain_dropout_for_mc_dropout():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.3), nn.Linear(4, 2))
    mc = ref.to_mc_dropout(model)
    assert isinstance(mc[1], ref.McDropout) and not isinstance(mc[1], nn.AlphaDropout)
    assert mc[1].p == 0.3


def test_answer_key_agrees_with_pytorch():
    bn_parameters = sum(p.numel() for m in ref.build_mlp(batch_norm=True).modules()
                        if isinstance(m, nn.BatchNorm1d) for p in m.parameters())
    assert bn_parameters == ref.Q3
    logits, target = torch.randn(1, 10), torch.tensor([3])
    smoothed = nn.CrossEntropyLoss(label_smoothing=0.1)(logits, target)
    soft_target = torch.full((1, 10), (1 - ref.Q5) / 9)
    soft_target[0, 3] = ref.Q5
    assert smoothed.item() == pytest.approx(-(soft_target * logits.log_softmax(dim=1)).sum().item())
    assert math.isclose(ref.Q5, 0.91)
