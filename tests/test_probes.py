"""The probes' runtime on the kernel's side: hand-written gradients are run, never asked of autograd."""

import contextlib

import pytest
import torch
import torch.func

from autograder.probes.core import Observer, Stopped, by_hand, gradients

REASON = "write the backward by hand"


class Square(torch.autograd.Function):
    """x², with its backward written by hand."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return 2 * x * grad_out


def _replay(x):
    """x² again under autograd: what a backward that asks autograd for the answer runs."""
    with torch.enable_grad():
        leaf = x.detach().requires_grad_()
        return leaf, (leaf * leaf).sum()


class AutogradGrad(Square):
    @staticmethod
    def backward(ctx, grad_out):
        leaf, total = _replay(ctx.saved_tensors[0])
        return torch.autograd.grad(total, leaf)[0] * grad_out


class TensorBackward(Square):
    @staticmethod
    def backward(ctx, grad_out):
        leaf, total = _replay(ctx.saved_tensors[0])
        total.backward()
        return leaf.grad * grad_out


class FuncGrad(Square):
    @staticmethod
    def backward(ctx, grad_out):
        return torch.func.grad(lambda t: (t * t).sum())(ctx.saved_tensors[0]) * grad_out


def _probe(function):
    see = Observer("test_square")
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    stops = contextlib.nullcontext() if function is Square else pytest.raises(Stopped)
    with stops, by_hand(REASON, within=function):
        see.call("grad", gradients, function.apply(x), x, torch.tensor([1.0, 0.5, -1.0]))
    return see.record()


def test_a_backward_written_by_hand_runs_and_its_gradient_is_recorded():
    record = _probe(Square)
    assert record["stopped"] is None
    assert torch.equal(record["observations"]["grad"][0], torch.tensor([2.0, -2.0, -6.0]))


@pytest.mark.parametrize("function", [AutogradGrad, TensorBackward, FuncGrad],
                         ids=["torch.autograd.grad", "Tensor.backward", "torch.func.grad"])
def test_a_backward_that_asks_autograd_is_refused_with_the_reason(function):
    record = _probe(function)
    assert record["stopped"] == {"key": "grad", "message": REASON}


def test_autograd_works_again_after_the_block():
    _probe(AutogradGrad)
    x = torch.tensor([3.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.item() == 6.0
    assert torch.autograd.grad((x * x).sum(), x)[0].item() == 6.0
    assert torch.autograd.gradcheck(Square.apply, (torch.randn(4, dtype=torch.float64, requires_grad=True),))
