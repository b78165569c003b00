"""Known answers to lab 09: mistakes its tests must catch, and correct answers written differently."""

import functools

from autograder.variants import Variant, edited, right, wrong


def _configure_mistake(name: str, *changes: tuple[str, str]) -> Variant:
    """A mistake in the reference `configure`, written as the edit that makes it."""
    return wrong(name, "configure", edited("lab09_cifar10_capstone", "configure", *changes), "test_configure")


_REGISTRY = '''
ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU,
               "silu": nn.SiLU, "mish": nn.Mish, "selu": nn.SELU, "tanh": nn.Tanh}
'''


def _build_mlp(body: str) -> str:
    """A build_mlp answer: the given registry, then `body` (the student's function)."""
    return _REGISTRY + "\n\n" + body.strip("\n") + "\n"


_mlp_edit = functools.partial(edited, "lab09_cifar10_capstone", "build_mlp")
_NORM = "        if batch_norm:\n            layers.append(nn.BatchNorm1d(n_neurons))\n"
_ACTIVATION = "        layers.append(ACTIVATIONS[name]())\n"
_INIT = ("    for layer in layers:\n        if isinstance(layer, nn.Linear):\n"
         "            nn.init.kaiming_normal_(layer.weight, nonlinearity=nonlinearity)\n"
         "            if layer.bias is not None:\n                nn.init.zeros_(layer.bias)\n")


def _mlp_mistake(name: str, *changes: tuple[str, str]) -> Variant:
    """A mistake in the reference build_mlp, written as the edit that makes it."""
    return wrong(name, "build_mlp", _mlp_edit(*changes), "test_build_mlp")


MISTAKES = [
    _mlp_mistake("21 hidden layers instead of 20",
                 ("for _ in range(n_hidden):", "for _ in range(n_hidden + 1):")),
    _mlp_mistake("an activation after the output layer",
                 ("    layers.append(nn.Linear(fan_in, n_outputs))",
                  "    layers += [nn.Linear(fan_in, n_outputs), ACTIVATIONS[name]()]")),
    _mlp_mistake("He init left at PyTorch's default", (_INIT, "")),
    _mlp_mistake("every hidden Linear without bias, batch norm or not",
                 ("nn.Linear(fan_in, n_neurons, bias=not batch_norm)",
                  "nn.Linear(fan_in, n_neurons, bias=False)")),
    _configure_mistake("configure with self_normalizing=True by default",
                       ("self_normalizing: bool = False", "self_normalizing: bool = True")),
    wrong("the SELU net keeping batch norm", "selu_violations", '''
def selu_violations(model):
    suspects = (nn.Dropout, nn.ReLU, nn.SiLU, nn.ELU, nn.GELU, nn.Tanh, nn.LayerNorm, nn.Conv2d)
    return [m for m in model.modules() if isinstance(m, suspects)]
''', "test_selu_violations"),
    wrong("the SELU net keeping plain dropout", "selu_violations", '''
def selu_violations(model):
    fine = (nn.Linear, nn.SELU, nn.Flatten, nn.modules.dropout._DropoutNd)
    return [m for m in model.modules() if not list(m.children()) and not isinstance(m, fine)]
''', "test_selu_violations"),
    wrong("standardizing each split with its own statistics (the test set with test statistics)",
          "standardize_channels", '''
def standardize_channels(train, *others, eps=1e-7):
    def scale(X):
        mean = X.mean(dim=(0, 2, 3), keepdim=True)
        std = X.std(dim=(0, 2, 3), keepdim=True)
        return (X - mean) / (std + eps)
    return tuple(scale(X) for X in (train, *others))
''', "test_standardize_channels"),
    wrong("statistics computed on all splits together", "standardize_channels", '''
def standardize_channels(train, *others, eps=1e-7):
    everything = torch.cat([train, *others])
    mean = everything.mean(dim=(0, 2, 3), keepdim=True)
    std = everything.std(dim=(0, 2, 3), keepdim=True)
    return tuple((X - mean) / (std + eps) for X in (train, *others))
''', "test_standardize_channels"),
    wrong("one mean and std per pixel instead of per channel", "standardize_channels", '''
def standardize_channels(train, *others, eps=1e-7):
    mean, std = train.mean(dim=0), train.std(dim=0)
    return tuple((X - mean) / (std + eps) for X in (train, *others))
''', "test_standardize_channels"),
    wrong("standardizing in place", "standardize_channels", '''
def standardize_channels(train, *others, eps=1e-7):
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True)
    for X in (train, *others):
        X.sub_(mean).div_(std + eps)
    return (train, *others)
''', "test_standardize_channels"),
    _mlp_mistake("batch norm after the activation", (_NORM + _ACTIVATION, _ACTIVATION + _NORM)),
    _mlp_mistake("SELU weights from kaiming_normal_(nonlinearity='selu')",
                 ('"linear" if selu', '"selu" if selu')),
    _mlp_mistake("plain dropout in the SELU net",
                 ("nn.AlphaDropout(alpha_dropout)", "nn.Dropout(alpha_dropout)")),
    wrong("selu_violations lists the Sequential containers", "selu_violations", '''
def selu_violations(model):
    fine = (nn.Linear, nn.SELU, nn.AlphaDropout, nn.Flatten)
    return [m for m in model.modules() if not isinstance(m, fine)]
''', "test_selu_violations"),
    wrong("selu_violations looks at the direct children only", "selu_violations", '''
def selu_violations(model):
    fine = (nn.Linear, nn.SELU, nn.AlphaDropout, nn.Flatten)
    return [m for m in model.children() if not isinstance(m, fine)]
''', "test_selu_violations"),
    wrong("McAlphaDropout off in eval mode", "mc_alpha_dropout", '''
class McAlphaDropout(nn.AlphaDropout):
    def forward(self, x):
        return super().forward(x)
''', "test_mc_alpha_dropout"),
    wrong("McAlphaDropout doing plain dropout", "mc_alpha_dropout", '''
class McAlphaDropout(nn.AlphaDropout):
    def forward(self, x):
        return F.dropout(x, self.p, training=True)
''', "test_mc_alpha_dropout"),
    wrong("MC dropout by switching the whole model to training mode", "to_mc_dropout", '''
def to_mc_dropout(model):
    return model.train()
''', "test_to_mc_dropout"),
    wrong("MC dropout layers swapped into the trained model in place", "to_mc_dropout", '''
def to_mc_dropout(model):
    for index, layer in enumerate(model):
        if isinstance(layer, nn.AlphaDropout):
            model[index] = McAlphaDropout(layer.p)
        elif isinstance(layer, nn.Dropout):
            model[index] = McDropout(layer.p)
    return model
''', "test_to_mc_dropout"),
    wrong("alpha dropout replaced by plain MC dropout", "to_mc_dropout", '''
def to_mc_dropout(model):
    return nn.Sequential(*[McDropout(layer.p) if isinstance(layer, (nn.Dropout, nn.AlphaDropout)) else layer
                           for layer in model])
''', "test_to_mc_dropout"),
    wrong("MC dropout layers with the default rate", "to_mc_dropout", '''
def to_mc_dropout(model):
    def swap(layer):
        if isinstance(layer, nn.AlphaDropout):
            return McAlphaDropout()
        if isinstance(layer, nn.Dropout):
            return McDropout()
        return layer
    return nn.Sequential(*[swap(layer) for layer in model])
''', "test_to_mc_dropout"),
    # Contracts (CONTRACTS in the probe): one mistake that breaks exactly each.
    wrong("standardize_channels: the std from each image's own variance (leaves out brightness)",
          "standardize_channels", '''
def standardize_channels(train, *others, eps=1e-7):
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.var(dim=(2, 3), keepdim=True).mean(dim=0, keepdim=True).sqrt()
    return tuple((X - mean) / (std + eps) for X in (train, *others))
''', "test_standardize_channels"),
    wrong("standardize_channels converting the images to float32", "standardize_channels", '''
def standardize_channels(train, *others, eps=1e-7):
    train = train.float()
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True)
    return tuple((X.float() - mean) / (std + eps) for X in (train, *others))
''', "test_standardize_channels"),
    wrong("standardize_channels with CIFAR-10's 3 channels written in", "standardize_channels", '''
def standardize_channels(train, *others, eps=1e-7):
    mean = torch.stack([train[:, c].mean() for c in range(3)]).view(1, 3, 1, 1)
    std = torch.stack([train[:, c].std() for c in range(3)]).view(1, 3, 1, 1)
    return tuple((X - mean) / (std + eps) for X in (train, *others))
''', "test_standardize_channels"),
    _mlp_mistake("build_mlp drawing the weights with numpy (float32 whatever the default dtype)",
                 ("    return nn.Sequential(*layers)\n",
                  "    import numpy as np\n"
                  "    for layer in layers:\n"
                  "        if isinstance(layer, nn.Linear):\n"
                  "            std = math.sqrt((1.0 if selu else 2.0) / layer.in_features)\n"
                  "            drawn = np.random.normal(0.0, std, size=tuple(layer.weight.shape))\n"
                  "            layer.weight.data = torch.from_numpy(drawn).float()\n"
                  "    return nn.Sequential(*layers)\n")),
    wrong("McAlphaDropout overriding eval() (a parent's .eval() still switches it off)",
          "mc_alpha_dropout", '''
class McAlphaDropout(nn.AlphaDropout):
    def eval(self):
        return self
''', "test_mc_alpha_dropout"),
    wrong("McAlphaDropout by hand with a float32 CPU mask", "mc_alpha_dropout", '''
class McAlphaDropout(nn.AlphaDropout):
    def forward(self, x):
        alpha = -1.0507009873554805 * 1.6732632423543772
        keep = (torch.rand(x.shape) >= self.p).float()
        a = ((1 - self.p) * (1 + self.p * alpha ** 2)) ** -0.5
        b = -a * alpha * self.p
        return a * (x * keep + alpha * (1 - keep)) + b
''', "test_mc_alpha_dropout"),
    wrong("to_mc_dropout switching the trained model to training mode", "to_mc_dropout", '''
def to_mc_dropout(model):
    model.train()
    swap = {nn.AlphaDropout: McAlphaDropout, nn.Dropout: McDropout}
    return nn.Sequential(*[swap[type(layer)](layer.p) if type(layer) in swap else layer
                           for layer in model])
''', "test_to_mc_dropout"),
    wrong("to_mc_dropout freezing the trained weights", "to_mc_dropout", '''
def to_mc_dropout(model):
    model.requires_grad_(False)
    swap = {nn.AlphaDropout: McAlphaDropout, nn.Dropout: McDropout}
    return nn.Sequential(*[swap[type(layer)](layer.p) if type(layer) in swap else layer
                           for layer in model])
''', "test_to_mc_dropout"),
    _configure_mistake("configure keeps the self-normalizing net for a sparse model",
                       ("if self_normalizing and not sparse and not low_latency:",
                        "if self_normalizing and not low_latency:")),
    _configure_mistake("configure keeps SELU for a low-latency model",
                       ("if self_normalizing and not sparse and not low_latency:",
                        "if self_normalizing and not sparse:")),
    _configure_mistake("configure gives the self-normalizing net He init",
                       ('config = {"init": "lecun", "activation": "selu"',
                        'config = {"init": "he", "activation": "selu"')),
    _configure_mistake("configure allows AdamW for the self-normalizing net",
                       ('"regularization": {"alpha_dropout"}, "optimizer": "nag"}',
                        '"regularization": {"alpha_dropout"}, "optimizer": "nag_or_adamw"}')),
    _configure_mistake("configure keeps Swish for a low-latency model",
                       ('        config["activation"] = "relu"\n', "")),
    _configure_mistake("configure gives a shallow net batch norm",
                       ('"normalization": "batch_norm" if deep else "none"',
                        '"normalization": "batch_norm"')),
    wrong("Q1 answered a", "q1_test_once", 'Q1 = "a"', "test_q1_test_once"),
    wrong("Q3 counting the running statistics too", "q3_bn_parameters", "Q3 = 8000", "test_q3_bn_parameters"),
    wrong("Q5 answered 0.9 (forgetting the share of the true class)", "q5_label_smoothing", "Q5 = 0.9",
          "test_q5_label_smoothing"),
]

ALTERNATIVES = [
    right("build_mlp from nested blocks, He uniform, biases kept with batch norm", "build_mlp", _build_mlp('''
def build_mlp(n_hidden=20, n_neurons=100, activation="silu", batch_norm=False, selu=False,
              alpha_dropout=0.0, n_inputs=3072, n_outputs=10):
    if selu and batch_norm:
        raise ValueError("batch norm would break self-normalization")
    if not selu and activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation}")
    act = ACTIVATIONS["selu"] if selu else ACTIVATIONS[activation]

    def block(fan_in):
        parts = [nn.Linear(fan_in, n_neurons)]
        if batch_norm:
            parts.append(nn.BatchNorm1d(n_neurons))
        return nn.Sequential(*parts, act())

    blocks = [block(n_inputs if i == 0 else n_neurons) for i in range(n_hidden)]
    head = [nn.AlphaDropout(alpha_dropout)] if alpha_dropout > 0 else []
    model = nn.Sequential(nn.Flatten(start_dim=1), *blocks, *head,
                          nn.Linear(n_neurons if n_hidden else n_inputs, n_outputs))

    def init(module):
        if isinstance(module, nn.Linear):
            if selu:
                nn.init.kaiming_uniform_(module.weight, nonlinearity="linear")
            else:
                nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)

    return model.apply(init)
''')),
    right("build_mlp drawing the weights by hand", "build_mlp", _build_mlp('''
def build_mlp(n_hidden=20, n_neurons=100, activation="silu", batch_norm=False, selu=False,
              alpha_dropout=0.0, n_inputs=3072, n_outputs=10):
    if batch_norm and selu:
        raise ValueError("SELU nets do not use batch norm")
    try:
        activation_class = ACTIVATIONS["selu" if selu else activation]
    except KeyError:
        raise ValueError(f"no activation named {activation!r}") from None
    sizes = [n_inputs] + [n_neurons] * n_hidden
    layers = [nn.Flatten()]
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers.append(nn.Linear(fan_in, fan_out, bias=not batch_norm))
        layers.extend([nn.BatchNorm1d(fan_out)] if batch_norm else [])
        layers.append(activation_class())
    if alpha_dropout:
        layers.append(nn.AlphaDropout(p=alpha_dropout))
    layers.append(nn.Linear(sizes[-1], n_outputs))
    gain = 1.0 if selu else 2.0
    with torch.no_grad():
        for layer in layers:
            if isinstance(layer, nn.Linear):
                layer.weight.normal_(0.0, math.sqrt(gain / layer.in_features))
                if layer.bias is not None:
                    layer.bias.zero_()
    return nn.Sequential(*layers)
''')),
    right("standardize_channels with torch.std_mean and a population std", "standardize_channels", '''
def standardize_channels(train, *others, eps=1e-7):
    std, mean = torch.std_mean(train, dim=[0, 2, 3], keepdim=True, correction=0)
    results = []
    for X in [train] + list(others):
        results.append((X - mean) / (std + eps))
    return tuple(results)
'''),
    right("standardize_channels from a channels-first reshape", "standardize_channels", '''
def standardize_channels(train, *others, eps=1e-7):
    channels = train.shape[1]
    flat = train.transpose(0, 1).reshape(channels, -1)
    mean = flat.mean(dim=1).view(1, channels, 1, 1)
    std = flat.var(dim=1).sqrt().view(1, channels, 1, 1)
    return tuple((X - mean) / torch.clamp(std, min=eps) for X in (train, *others))
'''),
    right("standardize_channels as the mean of the images' own means, in any dtype",
          "standardize_channels", '''
def standardize_channels(train, *others, eps=1e-7):
    mean = train.mean(dim=(2, 3), keepdim=True).mean(dim=0, keepdim=True)
    centered = train - mean
    std = (centered.square().sum(dim=(0, 2, 3), keepdim=True) / (centered[:, :1].numel() - 1)).sqrt()
    return tuple((X - mean) / (std + eps) for X in (train, *others))
'''),
    right("build_mlp drawing the weights with torch.randn into .data", "build_mlp",
          _mlp_edit((_INIT, "    gain = 1.0 if selu else 2.0\n"
                            "    for layer in layers:\n"
                            "        if isinstance(layer, nn.Linear):\n"
                            "            fan_out, fan_in = layer.weight.shape\n"
                            "            drawn = torch.randn(fan_out, fan_in)\n"
                            "            layer.weight.data = drawn * math.sqrt(gain / fan_in)\n"
                            "            if layer.bias is not None:\n"
                            "                layer.bias.data = torch.zeros(fan_out)\n"))),
    right("McAlphaDropout by hand with torch.rand_like", "mc_alpha_dropout", '''
class McAlphaDropout(nn.AlphaDropout):
    def forward(self, x):
        alpha = -1.0507009873554805 * 1.6732632423543772
        keep = torch.rand_like(x) >= self.p
        a = ((1 - self.p) * (1 + self.p * alpha ** 2)) ** -0.5
        b = -a * alpha * self.p
        return a * torch.where(keep, x, torch.full_like(x, alpha)) + b
'''),
    right("to_mc_dropout deep-copying each layer into a model put in eval mode", "to_mc_dropout", '''
def to_mc_dropout(model):
    layers = []
    for layer in model:
        if isinstance(layer, nn.AlphaDropout):
            layers.append(McAlphaDropout(p=layer.p))
        elif isinstance(layer, nn.Dropout):
            layers.append(McDropout(p=layer.p))
        else:
            layers.append(copy.deepcopy(layer))
    return nn.Sequential(*layers).eval()
'''),
    right("selu_violations with a loop over named modules", "selu_violations", '''
def selu_violations(model):
    bad = []
    for _, module in model.named_modules():
        is_leaf = len(list(module.children())) == 0
        if is_leaf and not isinstance(module, (nn.Flatten, nn.Linear, nn.SELU, nn.AlphaDropout)):
            bad.append(module)
    return bad
'''),
    right("McAlphaDropout that refuses to leave training mode", "mc_alpha_dropout", '''
class McAlphaDropout(nn.AlphaDropout):
    def train(self, mode=True):
        return super().train(True)
'''),
    right("McAlphaDropout through torch.alpha_dropout", "mc_alpha_dropout", '''
class McAlphaDropout(nn.AlphaDropout):
    def forward(self, input):
        return torch.alpha_dropout(input, self.p, True)
'''),
    right("to_mc_dropout on a deep copy", "to_mc_dropout", '''
def to_mc_dropout(model):
    mc = copy.deepcopy(model)
    for name, layer in mc.named_children():
        if isinstance(layer, nn.AlphaDropout):
            setattr(mc, name, McAlphaDropout(p=layer.p))
        elif isinstance(layer, nn.Dropout):
            setattr(mc, name, McDropout(p=layer.p))
    return mc
'''),
    right("configure from two tables and a list of exceptions", "configure", '''
DEFAULT = {"init": "he", "optimizer": "nag_or_adamw", "schedule": "performance_or_1cycle"}
SELF_NORMALIZING = {"init": "lecun", "activation": "selu", "normalization": "none", "optimizer": "nag",
                    "schedule": "performance_or_1cycle"}


def configure(deep, self_normalizing=False, sparse=False, low_latency=False, risk_sensitive=False):
    selu = self_normalizing and not (sparse or low_latency)
    if selu:
        config = dict(SELF_NORMALIZING, regularization=frozenset({"alpha_dropout"}))
    else:
        config = dict(DEFAULT, activation="swish" if deep else "relu",
                      normalization="batch_norm" if deep else "none",
                      regularization=frozenset({"early_stopping", "weight_decay"}))
    extra = {"l1"} if sparse else set()
    if risk_sensitive:
        extra.add("mc_dropout")
    config["regularization"] = frozenset(config["regularization"] | extra)
    if low_latency:
        config["activation"] = "relu"
        config["normalization"] = {"batch_norm": "batch_norm_folded"}.get(config["normalization"],
                                                                           config["normalization"])
    return config
'''),
    right("Q3 as an integer", "q3_bn_parameters", "Q3 = 4000"),
    right("Q5 as a formula", "q5_label_smoothing", "Q5 = 1 - 0.1 + 0.1 / 10"),
]
