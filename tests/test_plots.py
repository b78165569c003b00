"""labs.plot_layer_histograms: one row per model, its dead units in the row's title, and the
models left as they were."""

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

import labs

matplotlib.use("Agg")


def relu_mlp_with_two_dead_units() -> nn.Sequential:
    """2 hidden ReLU layers of 4 units: unit 1 of layer 1 outputs 0 on every input, and the
    output layer ignores unit 1 of layer 2 (its gradient is 0): 2 dead units out of 8."""
    torch.manual_seed(0)
    model = labs.make_mlp(depth=2, width=4, activation=nn.ReLU, n_inputs=3, n_outputs=2)
    with torch.no_grad():
        model[1].bias.zero_()
        model[1].bias[0] = -100.0
        model[3].weight.copy_(torch.eye(4))
        model[3].bias.fill_(1.0)      # every unit of layer 2 outputs more than 0
        model[5].weight[:, 0] = 0.0   # ... but nothing unit 1 outputs reaches the loss
    return model


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(64, 3, generator=generator), torch.randint(0, 2, (64,), generator=generator)


def test_one_row_per_model_with_its_dead_fraction_in_the_title():
    relu = relu_mlp_with_two_dead_units()
    torch.manual_seed(2)
    tanh = labs.make_mlp(depth=3, width=5, activation=nn.Tanh, n_inputs=3, n_outputs=2)
    fig = labs.plot_layer_histograms({"ReLU": relu, "tanh": tanh}, *batch())
    try:
        assert len(fig.axes) == 4
        titles = [ax.get_title() for ax in fig.axes]
        assert "ReLU" in titles[0] and "25.0% dead" in titles[0]
        assert "tanh" in titles[2] and "0.0% dead" in titles[2]
        assert all(ax.get_xlabel() for ax in fig.axes)
        labels = [text.get_text() for text in fig.axes[2].get_legend().get_texts()]
        assert labels == ["layer 1", "layer 2", "layer 3"]
        assert len(fig.axes[2].patches) == 3 and len(fig.axes[3].patches) == 3  # one step per layer
    finally:
        plt.close(fig)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_the_model_keeps_its_mode_and_gets_no_grad_or_hooks(mode):
    model = relu_mlp_with_two_dead_units().train(mode == "train")
    plt.close(labs.plot_layer_histograms({"ReLU": model}, *batch()))
    assert all(module.training == (mode == "train") for module in model.modules())
    assert all(parameter.grad is None for parameter in model.parameters())
    assert not any(module._forward_hooks for module in model.modules())


def test_a_model_with_no_layer_after_a_linear_is_refused():
    with pytest.raises(ValueError, match=r"no child after an nn\.Linear"):
        labs.plot_layer_histograms({"tanh": nn.Sequential(nn.Tanh())}, *batch())
