"""Known answers to lab 01: mistakes its tests must catch, and correct answers written differently."""

from autograder.variants import right, wrong

MISTAKES = [
    wrong("He std computed from fan_avg", "init_std", '''
def init_std(fan_in, fan_out, scheme):
    fan_avg = (fan_in + fan_out) / 2
    if scheme == "glorot":
        return math.sqrt(1 / fan_avg)
    if scheme == "he":
        return math.sqrt(2 / fan_avg)
    if scheme == "lecun":
        return math.sqrt(1 / fan_in)
    raise ValueError(scheme)
''', "test_init_std"),
    wrong("uniform bound r = sigma", "uniform_bound", '''
def uniform_bound(std):
    return std
''', "test_uniform_bound"),
    wrong("bias left at its random init", "init_linear", '''
def init_linear_(layer, scheme, distribution="normal"):
    std = init_std(layer.in_features, layer.out_features, scheme)
    with torch.no_grad():
        if distribution == "normal":
            layer.weight.normal_(0, std)
        elif distribution == "uniform":
            r = uniform_bound(std)
            layer.weight.uniform_(-r, r)
        else:
            raise ValueError(distribution)
    return layer
''', "test_init_linear"),
    wrong("layer_stats reports the std of each layer's input", "layer_stats", '''
def layer_stats(model, X, y, loss_fn):
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    seen = {}
    handles = [l.register_forward_hook(lambda m, inputs, output: seen.__setitem__(m, inputs[0].detach()))
               for l in linears]
    model.zero_grad()
    loss_fn(model(X), y).backward()
    for h in handles:
        h.remove()
    return [{"mean": seen[l].mean().item(), "std": seen[l].std().item(),
             "grad_norm": l.weight.grad.norm().item()} for l in linears]
''', "test_layer_stats"),
    wrong("gradients not zeroed before backward", "layer_stats", '''
def layer_stats(model, X, y, loss_fn):
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    seen = {}
    handles = [l.register_forward_hook(lambda m, i, o: seen.__setitem__(m, o.detach())) for l in linears]
    loss_fn(model(X), y).backward()
    for h in handles:
        h.remove()
    return [{"mean": seen[l].mean().item(), "std": seen[l].std().item(),
             "grad_norm": l.weight.grad.norm().item()} for l in linears]
''', "test_layer_stats"),
    wrong("weights drawn with torch.nn.init", "init_linear", '''
def init_linear_(layer, scheme, distribution="normal"):
    std = init_std(layer.in_features, layer.out_features, scheme)
    if distribution == "normal":
        nn.init.normal_(layer.weight, 0, std)
    else:
        r = uniform_bound(std)
        nn.init.uniform_(layer.weight, -r, r)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer
''', "test_init_linear"),
    wrong("apply_init skips nested layers", "apply_init", '''
def apply_init(model, scheme, distribution="normal"):
    for module in model.children():
        if isinstance(module, nn.Linear):
            init_linear_(module, scheme, distribution)
    return model
''', "test_apply_init"),
    wrong("orthogonal init from an unnormalized Gaussian", "orthogonal_init", '''
def orthogonal_init_(layer):
    with torch.no_grad():
        layer.weight.normal_(0, 1 / math.sqrt(layer.in_features))
        layer.bias.zero_()
    return layer
''', "test_orthogonal_init"),
    wrong("Q1 answered a", "q1_same_value", 'Q1 = "a"', "test_q1_same_value"),
    wrong("Q3 answered with the variance", "q3_he_std", "Q3 = 0.01", "test_q3_he_std"),
    wrong("Q6 answered 2 · 1/3, forgetting that the default variance is per fan_in", "q6_relu_default_factor",
          "Q6 = 2 / 3", "test_q6_relu_default_factor"),
    wrong("Q6 answered 1/3, forgetting that ReLU halves the second moment", "q6_relu_default_factor",
          "Q6 = 1 / 3", "test_q6_relu_default_factor"),
    wrong("weights drawn with torch.nn.init imported by name", "init_linear", '''
from torch.nn.init import normal_, uniform_, zeros_


def init_linear_(layer, scheme, distribution="normal"):
    std = init_std(layer.in_features, layer.out_features, scheme)
    if distribution == "normal":
        normal_(layer.weight, 0, std)
    else:
        r = uniform_bound(std)
        uniform_(layer.weight, -r, r)
    if layer.bias is not None:
        zeros_(layer.bias)
    return layer
''', "test_init_linear"),
]

ALTERNATIVES = [
    right("init_std from a table of variances", "init_std", '''
def init_std(fan_in, fan_out, scheme):
    variances = {"glorot": 2.0 / (fan_in + fan_out), "he": 2.0 / fan_in, "lecun": 1.0 / fan_in}
    if scheme not in variances:
        raise ValueError(f"unknown scheme {scheme}")
    return variances[scheme] ** 0.5
'''),
    right("uniform_bound as sqrt(3) * std", "uniform_bound", '''
def uniform_bound(std):
    return 3 ** 0.5 * std
'''),
    right("init_linear_ by copying a fresh tensor", "init_linear", '''
def init_linear_(layer, scheme, distribution="normal"):
    std = init_std(layer.in_features, layer.out_features, scheme)
    shape = layer.weight.shape
    if distribution == "normal":
        new = torch.randn(shape) * std
    elif distribution == "uniform":
        r = uniform_bound(std)
        new = (torch.rand(shape) * 2 - 1) * r
    else:
        raise ValueError(distribution)
    layer.weight.data.copy_(new)
    if layer.bias is not None:
        layer.bias.data.fill_(0.0)
    return layer
'''),
    right("apply_init by walking model.modules()", "apply_init", '''
def apply_init(model, scheme, distribution="normal"):
    for module in model.modules():
        if isinstance(module, nn.Linear):
            init_linear_(module, scheme, distribution)
    return model
'''),
    right("layer_stats with a population std and tensors", "layer_stats", '''
def layer_stats(model, X, y, loss_fn):
    records = []
    handles = []
    for module in model.modules():
        if isinstance(module, nn.Linear):
            entry = {"layer": module}
            records.append(entry)
            def hook(mod, inp, out, entry=entry):
                entry["mean"] = out.mean().detach()
                entry["std"] = out.std(unbiased=False).detach()
            handles.append(module.register_forward_hook(hook))
    for p in model.parameters():
        p.grad = None
    loss = loss_fn(model(X), y)
    loss.backward()
    for h in handles:
        h.remove()
    return [{"mean": float(e["mean"]), "std": float(e["std"]),
             "grad_norm": float(torch.linalg.vector_norm(e["layer"].weight.grad))} for e in records]
'''),
    right("orthogonal init from an SVD", "orthogonal_init", '''
def orthogonal_init_(layer):
    A = torch.randn(layer.weight.shape)
    U, _, Vh = torch.linalg.svd(A, full_matrices=False)
    with torch.no_grad():
        layer.weight.copy_(U @ Vh)
        if layer.bias is not None:
            layer.bias.zero_()
    return layer
'''),
    right("Q4 as a decimal", "q4_default_ratio", "Q4 = 0.577"),
    right("Q6 as a decimal", "q6_relu_default_factor", "Q6 = 0.167"),
]
