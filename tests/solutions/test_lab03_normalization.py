"""Lab 03's reference solutions against PyTorch's own normalization layers and fusion helper."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_linear_bn_eval

from solutions import lab03_normalization as ref


def test_standardize_uses_training_statistics_for_every_split():
    torch.manual_seed(0)
    train = torch.randn(400, 5) * torch.tensor([1.0, 2.0, 3.0, 0.5, 9.0]) + 4
    valid, test = torch.randn(50, 5) - 3, torch.randn(60, 5) * 10
    train_s, valid_s, test_s = ref.standardize(train, valid, test)
    assert torch.allclose(train_s.mean(0), torch.zeros(5), atol=1e-5)
    assert torch.allclose(train_s.std(0), torch.ones(5), atol=1e-5)
    mean, std = train.mean(0), train.std(0)
    assert torch.allclose(valid_s, (valid - mean) / std)
    assert torch.allclose(test_s, (test - mean) / std)


def test_standardize_centers_constant_features_only_and_keeps_shapes():
    train = torch.rand(30, 1, 4, 4)
    train[:, 0, 0, 0] = 0.25
    valid = torch.rand(7, 1, 4, 4)
    (train_s, valid_s), single = ref.standardize(train, valid), ref.standardize(train)
    assert train_s.shape == train.shape and valid_s.shape == valid.shape and len(single) == 1
    assert torch.all(train_s[:, 0, 0, 0] == 0)
    assert torch.allclose(valid_s[:, 0, 0, 0], valid[:, 0, 0, 0] - 0.25)


def test_zca_whiten_gives_identity_covariance_and_a_symmetric_matrix():
    torch.manual_seed(1)
    X = (torch.randn(3000, 6, dtype=torch.float64) @ (torch.randn(6, 6, dtype=torch.float64)
                                                      + 3 * torch.eye(6, dtype=torch.float64)) + 2)
    whitened, W = ref.zca_whiten(X, eps=1e-12)
    assert torch.allclose(torch.cov(whitened.T), torch.eye(6, dtype=torch.float64), atol=1e-8)
    assert torch.allclose(W, W.T)
    assert torch.allclose(W @ torch.cov(X.T) @ W, torch.eye(6, dtype=torch.float64), atol=1e-8)
    eigenvalues, _ = torch.linalg.eigh(W)
    assert torch.all(eigenvalues > 0), "ZCA's W is the symmetric positive inverse square root"


def test_zca_whiten_adds_eps_to_the_eigenvalues():
    X = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]], dtype=torch.float64)
    _, W = ref.zca_whiten(X, eps=0.5)
    variances = torch.tensor([2 / 3, 8 / 3], dtype=torch.float64)
    assert torch.allclose(torch.diagonal(W), 1 / torch.sqrt(variances + 0.5))


@pytest.mark.parametrize(("shape", "eps", "momentum"), [((16, 5), 1e-5, 0.1), ((8, 5, 7), 1e-3, 0.3)])
def test_batch_norm_matches_pytorch_over_training_steps_and_in_eval_mode(shape, eps, momentum):
    torch.manual_seed(2)
    theirs = nn.BatchNorm1d(5, eps=eps, momentum=momentum)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.normal_()
    mine = ref.BatchNorm1dScratch(5, eps=eps, momentum=momentum)
    mine.load_state_dict(theirs.state_dict())
    for step in range(4):
        x = torch.randn(shape) * (step + 1) + step
        x_mine, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
        out_mine, out_theirs = mine(x_mine), theirs(x_theirs)
        assert torch.allclose(out_mine, out_theirs, atol=1e-5)
        grad = torch.randn_like(out_mine)
        out_mine.backward(grad)
        out_theirs.backward(grad)
        assert torch.allclose(x_mine.grad, x_theirs.grad, atol=1e-5)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            assert torch.allclose(getattr(mine, name).double(), getattr(theirs, name).double(), atol=1e-5)
    assert torch.allclose(mine.weight.grad, theirs.weight.grad, atol=1e-4)
    assert torch.allclose(mine.bias.grad, theirs.bias.grad, atol=1e-4)
    mine.eval()
    theirs.eval()
    x = torch.randn(shape)
    assert torch.allclose(mine(x), theirs(x), atol=1e-5)
    assert int(mine.num_batches_tracked) == 4


def test_batch_norm_keeps_pytorchs_parameters_and_buffers():
    mine, theirs = ref.BatchNorm1dScratch(3), nn.BatchNorm1d(3)
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in mine.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert mine.num_batches_tracked.dtype == theirs.num_batches_tracked.dtype
    with pytest.raises(ValueError, match="Expected an input"):
        mine(torch.randn(4, 5))


@pytest.mark.parametrize(("shape", "normalized_shape"), [
    ((4, 10), 10), ((3, 5, 6), (6,)), ((3, 5, 6), (5, 6)), ((2, 3, 4, 4), torch.Size([3, 4, 4])),
])
@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm_matches_functional_layer_norm(shape, normalized_shape, affine):
    torch.manual_seed(3)
    x = torch.randn(shape) * 3 + 1
    trailing = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    weight = torch.randn(trailing) if affine else None
    bias = torch.randn(trailing) if affine else None
    expected = F.layer_norm(x, trailing, weight, bias, eps=0.1)
    assert torch.allclose(ref.layer_norm(x, normalized_shape, weight, bias, eps=0.1), expected, atol=1e-5)


def test_layer_norm_refuses_a_shape_that_is_not_trailing():
    with pytest.raises(ValueError, match="last 1 dimensions"):
        ref.layer_norm(torch.randn(4, 5), (4,))


@pytest.mark.parametrize("bias", [True, False])
def test_fuse_linear_bn_matches_pytorchs_fusion_and_leaves_inputs_alone(bias):
    torch.manual_seed(4)
    linear, bn = nn.Linear(6, 4, bias=bias), nn.BatchNorm1d(4, eps=1e-3)
    bn.running_mean.normal_()
    bn.running_var.uniform_(0.5, 3.0)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.normal_()
    linear.eval()
    bn.eval()
    before = copy.deepcopy((linear.state_dict(), bn.state_dict()))
    fused = ref.fuse_linear_bn(linear, bn)
    theirs = fuse_linear_bn_eval(linear, bn)
    assert torch.allclose(fused.weight, theirs.weight, atol=1e-6)
    assert torch.allclose(fused.bias, theirs.bias, atol=1e-6)
    x = torch.randn(10, 6)
    with torch.no_grad():
        assert torch.allclose(fused(x), bn(linear(x)), atol=1e-5)
    for now, then in zip((linear.state_dict(), bn.state_dict()), before):
        assert all(torch.equal(now[key], then[key]) for key in then)


def test_answer_key_agrees_with_pytorch():
    bn = nn.BatchNorm1d(1, momentum=0.1)
    x = torch.tensor([[1.0], [3.0], [8.0]])
    bn(x)
    assert ref.Q1 == "c" and torch.allclose(bn.running_mean, 0.9 * 0 + 0.1 * x.mean())
    assert sum(t.numel() for t in nn.BatchNorm1d(100).state_dict().values()) == ref.Q3
    two = nn.BatchNorm1d(5, eps=1e-12)(torch.randn(2, 5))
    assert torch.allclose(two.abs(), torch.full_like(two, float(ref.Q5)), atol=1e-4)
    assert pytest.approx(1 - 0.99) == ref.Q2


def _float64_inputs(shape, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator, dtype=torch.float64) * 2 + 40
    features = shape[-1]
    weight = torch.rand(features, generator=generator, dtype=torch.float64) + 0.5
    bias = torch.randn(features, generator=generator, dtype=torch.float64)
    upstream = torch.randn(shape, generator=generator, dtype=torch.float64)
    return [t.requires_grad_() for t in (x, weight, bias)], upstream


@pytest.mark.parametrize("shape", [(8, 5), (2, 3), (7, 1), (4, 4)])
def test_batch_norm_function_matches_autograd_of_functional_batch_norm(shape):
    (x, weight, bias), upstream = _float64_inputs(shape, 5)
    mine = ref.BatchNormFunction.apply(x, weight, bias, 1e-5)
    theirs = F.batch_norm(x, None, None, weight, bias, training=True, eps=1e-5)
    assert mine.dtype == torch.float64
    assert torch.allclose(mine, theirs, rtol=0, atol=1e-12)
    grads = torch.autograd.grad(mine, (x, weight, bias), upstream)
    for grad, expected in zip(grads, torch.autograd.grad(theirs, (x, weight, bias), upstream)):
        assert grad.dtype == torch.float64
        assert torch.allclose(grad, expected, rtol=1e-12, atol=1e-12)
    assert torch.allclose(grads[0].sum(dim=0), torch.zeros(shape[1], dtype=torch.float64), atol=1e-12)
    assert torch.autograd.gradcheck(ref.BatchNormFunction.apply, (x, weight, bias, 1e-3))


@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 4), (4, 4), (5, 2)])
def test_layer_norm_function_matches_autograd_of_functional_layer_norm(shape):
    (x, weight, bias), upstream = _float64_inputs(shape, 6)
    mine = ref.LayerNormFunction.apply(x, weight, bias, 0.1)
    theirs = F.layer_norm(x, (shape[-1],), weight, bias, 0.1)
    assert torch.allclose(mine, theirs, rtol=0, atol=1e-12)
    grads = torch.autograd.grad(mine, (x, weight, bias), upstream)
    for grad, expected in zip(grads, torch.autograd.grad(theirs, (x, weight, bias), upstream)):
        assert grad.shape == expected.shape
        assert torch.allclose(grad, expected, rtol=1e-12, atol=1e-12)
    assert torch.allclose(grads[0].sum(dim=-1), torch.zeros(shape[:-1], dtype=torch.float64), atol=1e-12)
    assert torch.autograd.gradcheck(ref.LayerNormFunction.apply, (x, weight, bias, 0.1))


def test_norm_functions_leave_inputs_alone_and_need_no_gradient_for_eps():
    (x, weight, bias), upstream = _float64_inputs((5, 3), 7)
    before = [t.detach().clone() for t in (x, weight, bias, upstream)]
    for function in (ref.BatchNormFunction, ref.LayerNormFunction):
        function.apply(x, weight, bias, 1e-5).backward(upstream)
    assert all(torch.equal(now.detach(), then) for now, then in zip((x, weight, bias, upstream), before))
