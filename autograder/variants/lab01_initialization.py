"""Known answers to lab 01: mistakes its tests must catch, and correct answers written differently."""

import functools

from autograder.variants import edited, right, wrong

_edit = functools.partial(edited, "lab01_initialization")

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

MISTAKES += [
    # Contracts of init_linear_: the caller's layer keeps its parameters, dtype and requires_grad.
    wrong("init_linear_ assigns new float32 tensors through .data", "init_linear", '''
def init_linear_(layer, scheme, distribution="normal"):
    std = init_std(layer.in_features, layer.out_features, scheme)
    shape = layer.weight.shape
    if distribution == "normal":
        layer.weight.data = torch.randn(shape) * std
    elif distribution == "uniform":
        r = uniform_bound(std)
        layer.weight.data = (torch.rand(shape) * 2 - 1) * r
    else:
        raise ValueError(distribution)
    if layer.bias is not None:
        layer.bias.data = torch.zeros(layer.out_features)
    return layer
''', "test_init_linear"),
    wrong("init_linear_ replaces the weight with a new nn.Parameter", "init_linear", '''
def init_linear_(layer, scheme, distribution="normal"):
    std = init_std(layer.in_features, layer.out_features, scheme)
    new = torch.empty_like(layer.weight)
    if distribution == "normal":
        new.normal_(0.0, std)
    elif distribution == "uniform":
        r = uniform_bound(std)
        new.uniform_(-r, r)
    else:
        raise ValueError(distribution)
    layer.weight = nn.Parameter(new)
    if layer.bias is not None:
        layer.bias = nn.Parameter(torch.zeros_like(layer.bias))
    return layer
''', "test_init_linear"),
    wrong("init_linear_ switches requires_grad off and on instead of torch.no_grad()", "init_linear", '''
def init_linear_(layer, scheme, distribution="normal"):
    std = init_std(layer.in_features, layer.out_features, scheme)
    layer.requires_grad_(False)
    if distribution == "normal":
        layer.weight.normal_(0.0, std)
    elif distribution == "uniform":
        r = uniform_bound(std)
        layer.weight.uniform_(-r, r)
    else:
        raise ValueError(distribution)
    if layer.bias is not None:
        layer.bias.zero_()
    return layer.requires_grad_(True)
''', "test_init_linear"),
    wrong("init_linear_ zeroes a bias that may be None", "init_linear",
          _edit("init_linear", ("        if layer.bias is not None:\n            layer.bias.zero_()",
                                "        layer.bias.zero_()")),
          "test_init_linear"),
    # apply_init on Linear layers in custom modules, on a bare nn.Linear, and in place.
    wrong("apply_init recursing only into nn.Sequential", "apply_init", '''
def apply_init(model, scheme, distribution="normal"):
    for module in model.children():
        if isinstance(module, nn.Linear):
            init_linear_(module, scheme, distribution)
        elif isinstance(module, nn.Sequential):
            apply_init(module, scheme, distribution)
    return model
''', "test_apply_init"),
    wrong("apply_init recursing over children() skips the model itself", "apply_init", '''
def apply_init(model, scheme, distribution="normal"):
    for child in model.children():
        if isinstance(child, nn.Linear):
            init_linear_(child, scheme, distribution)
        else:
            apply_init(child, scheme, distribution)
    return model
''', "test_apply_init"),
    wrong("apply_init replaces each nn.Linear with a new layer", "apply_init", '''
def apply_init(model, scheme, distribution="normal"):
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                fresh = nn.Linear(child.in_features, child.out_features, bias=child.bias is not None)
                setattr(parent, name, init_linear_(fresh, scheme, distribution))
    return model
''', "test_apply_init"),
    # layer_stats on nested modules, leaving the caller's modes and gradients.
    wrong("layer_stats walks model.children()", "layer_stats",
          _edit("layer_stats", ("model.modules()", "model.children()")), "test_layer_stats"),
    wrong("layer_stats switches the model to eval mode", "layer_stats",
          _edit("layer_stats", ("        model.zero_grad()\n",
                                "        model.eval()\n        model.zero_grad()\n")),
          "test_layer_stats"),
    wrong("layer_stats zeroes only the nn.Linear layers' gradients", "layer_stats",
          _edit("layer_stats", ("        model.zero_grad()\n",
                                "        for layer in linears:\n            layer.zero_grad()\n")),
          "test_layer_stats"),
    # orthogonal_init_: the sign correction, and the caller's layer kept.
    wrong("orthogonal_init_ without the sign correction", "orthogonal_init",
          _edit("orthogonal_init", ("    Q = Q * torch.sign(torch.diagonal(R))\n", "")),
          "test_orthogonal_init"),
    wrong("orthogonal_init_ assigns a float32 tensor through .data", "orthogonal_init",
          _edit("orthogonal_init", ("        layer.weight.copy_(W)", "        layer.weight.data = W")),
          "test_orthogonal_init"),
    wrong("orthogonal_init_ replaces the weight with a new nn.Parameter", "orthogonal_init",
          _edit("orthogonal_init", ("        layer.weight.copy_(W)",
                                    "        layer.weight = nn.Parameter(W.to(layer.weight.dtype))")),
          "test_orthogonal_init"),
    wrong("orthogonal_init_ switches requires_grad off and on instead of torch.no_grad()",
          "orthogonal_init", '''
def orthogonal_init_(layer):
    rows, cols = layer.weight.shape
    Q, R = torch.linalg.qr(torch.randn(max(rows, cols), min(rows, cols)))
    Q = Q * torch.sign(torch.diagonal(R))
    layer.requires_grad_(False)
    layer.weight.copy_(Q if rows >= cols else Q.T)
    if layer.bias is not None:
        layer.bias.zero_()
    layer.requires_grad_(True)
    return layer
''', "test_orthogonal_init"),
    # The documented ValueError of init_linear_, and apply_init's default distribution.
    wrong("init_linear_ draws every distribution but 'normal' from the uniform", "init_linear", '''
def init_linear_(layer, scheme, distribution="normal"):
    std = init_std(layer.in_features, layer.out_features, scheme)
    with torch.no_grad():
        if distribution == "normal":
            layer.weight.normal_(0.0, std)
        else:
            r = uniform_bound(std)
            layer.weight.uniform_(-r, r)
        if layer.bias is not None:
            layer.bias.zero_()
    return layer
''', "test_init_linear"),
    wrong("apply_init without a default distribution", "apply_init", '''
def apply_init(model, scheme, distribution):
    def init_if_linear(module):
        if isinstance(module, nn.Linear):
            init_linear_(module, scheme, distribution)

    return model.apply(init_if_linear)
''', "test_apply_init"),
]

MISTAKES += [
    # vanishing_depth: a graded conclusion, judged on the grader's own histories.
    wrong("vanishing_depth counts depth from the input side", "vanishing_depth", '''
def vanishing_depth(grad_norms, threshold=1e-2):
    if not grad_norms:
        raise ValueError("empty")
    for depth, norm in enumerate(grad_norms, start=1):
        if norm < threshold * grad_norms[-1]:
            return depth
    return None
''', "test_vanishing_depth"),
    wrong("vanishing_depth counts depth from 0", "vanishing_depth",
          _edit("vanishing_depth", ("start=1", "start=0")), "test_vanishing_depth"),
    wrong("vanishing_depth relative to the largest norm", "vanishing_depth",
          _edit("vanishing_depth", ("threshold * grad_norms[-1]", "threshold * max(grad_norms)")),
          "test_vanishing_depth"),
    wrong("vanishing_depth with an absolute threshold", "vanishing_depth",
          _edit("vanishing_depth", ("threshold * grad_norms[-1]", "threshold")), "test_vanishing_depth"),
    wrong("vanishing_depth with <= for <", "vanishing_depth",
          _edit("vanishing_depth", ("if norm < floor", "if norm <= floor")), "test_vanishing_depth"),
    wrong("vanishing_depth with > for < (the sign of the comparison reversed)", "vanishing_depth",
          _edit("vanishing_depth", ("if norm < floor", "if norm > floor")), "test_vanishing_depth"),
    wrong("vanishing_depth returns the last crossing", "vanishing_depth", '''
def vanishing_depth(grad_norms, threshold=1e-2):
    if len(grad_norms) == 0:
        raise ValueError("empty")
    found = None
    for depth, norm in enumerate(reversed(grad_norms), start=1):
        if norm < threshold * grad_norms[-1]:
            found = depth
    return found
''', "test_vanishing_depth"),
    wrong("vanishing_depth returns the layer's list index", "vanishing_depth", '''
def vanishing_depth(grad_norms, threshold=1e-2):
    if len(grad_norms) == 0:
        raise ValueError("empty")
    for index in range(len(grad_norms) - 1, -1, -1):
        if grad_norms[index] < threshold * grad_norms[-1]:
            return index
    return None
''', "test_vanishing_depth"),
    wrong("vanishing_depth returns -1 when no layer falls below", "vanishing_depth",
          _edit("vanishing_depth", ("    return None\n", "    return -1\n")), "test_vanishing_depth"),
    wrong("vanishing_depth returns 0 when no layer falls below", "vanishing_depth",
          _edit("vanishing_depth", ("    return None\n", "    return 0\n")), "test_vanishing_depth"),
    wrong("vanishing_depth ignores the threshold passed in", "vanishing_depth",
          _edit("vanishing_depth", ("floor = threshold * grad_norms[-1]", "floor = 1e-2 * grad_norms[-1]")),
          "test_vanishing_depth"),
    wrong("vanishing_depth returns None for an empty list", "vanishing_depth",
          _edit("vanishing_depth", ("        raise ValueError(",
                                    "        return None\n        raise ValueError(")),
          "test_vanishing_depth"),
    wrong("vanishing_depth reverses the caller's list in place", "vanishing_depth", '''
def vanishing_depth(grad_norms, threshold=1e-2):
    if len(grad_norms) == 0:
        raise ValueError("empty")
    floor = threshold * grad_norms[-1]
    grad_norms.reverse()
    for depth, norm in enumerate(grad_norms, start=1):
        if norm < floor:
            return depth
    return None
''', "test_vanishing_depth"),
    wrong("vanishing_depth returns a tensor", "vanishing_depth", '''
def vanishing_depth(grad_norms, threshold=1e-2):
    norms = torch.tensor(grad_norms, dtype=torch.float64).flip(0)
    if norms.numel() == 0:
        raise ValueError("empty")
    below = torch.nonzero(norms < threshold * norms[0])
    return below[0, 0] + 1 if len(below) else None
''', "test_vanishing_depth"),
    # variance_gain: the derivation, entered as a formula.
    wrong("variance_gain of ReLU 1 (the zeroed half forgotten)", "variance_gain",
          _edit("variance_gain", ("        return 0.5\n", "        return 1.0\n")), "test_variance_gain"),
    wrong("variance_gain of leaky ReLU (1 + α)/2", "variance_gain",
          _edit("variance_gain", ("(1 + alpha**2) / 2", "(1 + alpha) / 2")), "test_variance_gain"),
    wrong("variance_gain of leaky ReLU (1 - α²)/2 (the sign of α² wrong)", "variance_gain",
          _edit("variance_gain", ("(1 + alpha**2) / 2", "(1 - alpha**2) / 2")), "test_variance_gain"),
    wrong("variance_gain of leaky ReLU 1/2 (the α² term missing)", "variance_gain",
          _edit("variance_gain", ("(1 + alpha**2) / 2", "1 / 2")), "test_variance_gain"),
    wrong("variance_gain returns the std gain √g", "variance_gain", '''
def variance_gain(activation, alpha=0.01):
    gains = {"relu": 0.5, "leaky_relu": (1 + alpha**2) / 2, "tanh": 1.0, "linear": 1.0}
    if activation not in gains:
        raise ValueError(f"use one of {list(gains)}")
    return math.sqrt(gains[activation])
''', "test_variance_gain"),
    wrong("variance_gain returns 1/g", "variance_gain", '''
def variance_gain(activation, alpha=0.01):
    gains = {"relu": 0.5, "leaky_relu": (1 + alpha**2) / 2, "tanh": 1.0, "linear": 1.0}
    if activation not in gains:
        raise ValueError(f"use one of {list(gains)}")
    return 1 / gains[activation]
''', "test_variance_gain"),
    wrong("variance_gain of tanh 5/3 (calculate_gain's)", "variance_gain",
          _edit("variance_gain", ("    if activation in (\"tanh\", \"linear\"):\n        return 1.0\n",
                                  "    if activation == \"tanh\":\n        return 5 / 3\n"
                                  "    if activation == \"linear\":\n        return 1.0\n")),
          "test_variance_gain"),
    wrong("variance_gain of tanh (5/3)²", "variance_gain",
          _edit("variance_gain", ("    if activation in (\"tanh\", \"linear\"):\n        return 1.0\n",
                                  "    if activation == \"tanh\":\n        return (5 / 3) ** 2\n"
                                  "    if activation == \"linear\":\n        return 1.0\n")),
          "test_variance_gain"),
    wrong("variance_gain as 1/calculate_gain² (right for ReLU, wrong for tanh)", "variance_gain", '''
def variance_gain(activation, alpha=0.01):
    if activation not in ("relu", "leaky_relu", "tanh", "linear"):
        raise ValueError("use 'relu', 'leaky_relu', 'tanh' or 'linear'")
    return 1 / nn.init.calculate_gain(activation, alpha) ** 2
''', "test_variance_gain"),
    wrong("variance_gain returns 1 for an unknown activation", "variance_gain",
          _edit("variance_gain", ("    raise ValueError(", "    return 1.0\n    raise ValueError(")),
          "test_variance_gain"),
    wrong("variance_gain's ValueError does not name the allowed activations", "variance_gain",
          _edit("variance_gain", (": use 'relu', 'leaky_relu', 'tanh' or 'linear'.", "")),
          "test_variance_gain"),
    wrong("variance_gain with alpha defaulting to 0", "variance_gain",
          _edit("variance_gain", ("alpha: float = 0.01", "alpha: float = 0.0")), "test_variance_gain"),
    wrong("variance_gain of ReLU uses alpha", "variance_gain", '''
def variance_gain(activation, alpha=0.01):
    if activation in ("relu", "leaky_relu"):
        return (1 + alpha**2) / 2
    if activation in ("tanh", "linear"):
        return 1.0
    raise ValueError("use 'relu', 'leaky_relu', 'tanh' or 'linear'")
''', "test_variance_gain"),
    wrong("variance_gain estimated by sampling in float32", "variance_gain", '''
def variance_gain(activation, alpha=0.01):
    functions = {"relu": torch.relu, "leaky_relu": lambda z: nn.functional.leaky_relu(z, alpha),
                 "tanh": lambda z: torch.tanh(z * 1e-3) / 1e-3, "linear": lambda z: z}
    if activation not in functions:
        raise ValueError("use 'relu', 'leaky_relu', 'tanh' or 'linear'")
    z = torch.randn(1_000_000)
    return (functions[activation](z) ** 2).mean().item() / z.var().item()
''', "test_variance_gain"),
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
    right("init_linear_ assigning .data new tensors of the layer's dtype and device", "init_linear", '''
def init_linear_(layer, scheme, distribution="normal"):
    std = init_std(layer.in_features, layer.out_features, scheme)
    w = layer.weight
    if distribution == "normal":
        new = torch.randn(w.shape, dtype=w.dtype, device=w.device) * std
    elif distribution == "uniform":
        r = uniform_bound(std)
        new = torch.empty_like(w).uniform_(-r, r)
    else:
        raise ValueError(distribution)
    layer.weight.data = new
    if layer.bias is not None:
        layer.bias.data = torch.zeros_like(layer.bias)
    return layer
'''),
    right("apply_init recursing over children(), the model itself included", "apply_init", '''
def apply_init(model, scheme, distribution="normal"):
    if isinstance(model, nn.Linear):
        init_linear_(model, scheme, distribution)
    for child in model.children():
        apply_init(child, scheme, distribution)
    return model
'''),
    right("layer_stats with torch.autograd.grad, leaving .grad untouched", "layer_stats", '''
def layer_stats(model, X, y, loss_fn):
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    outputs = {}
    handles = [l.register_forward_hook(lambda m, i, o: outputs.__setitem__(m, o.detach()))
               for l in linears]
    try:
        loss = loss_fn(model(X), y)
    finally:
        for h in handles:
            h.remove()
    grads = torch.autograd.grad(loss, [l.weight for l in linears])
    return [{"mean": outputs[l].mean().item(), "std": outputs[l].std().item(),
             "grad_norm": g.norm().item()} for l, g in zip(linears, grads)]
'''),
    right("layer_stats clearing the gradients it made", "layer_stats",
          _edit("layer_stats", ("    return [{", "    stats = [{"),
                ("grad.norm().item()} for layer in linears]",
                 "grad.norm().item()} for layer in linears]\n    model.zero_grad(set_to_none=True)\n"
                 "    return stats"))),
    right("orthogonal_init_ drawn in the layer's dtype and device", "orthogonal_init",
          _edit("orthogonal_init", ("    A = torch.randn(max(rows, cols), min(rows, cols))",
                                    "    A = torch.randn(max(rows, cols), min(rows, cols), "
                                    "dtype=layer.weight.dtype, device=layer.weight.device)"))),
    right("orthogonal_init_ with the sign correction as a diagonal matrix", "orthogonal_init",
          _edit("orthogonal_init", ("    Q = Q * torch.sign(torch.diagonal(R))",
                                    "    Q = Q @ torch.diag(torch.sign(torch.diagonal(R)))"))),
    right("Q4 as a decimal", "q4_default_ratio", "Q4 = 0.577"),
    right("Q6 as a decimal", "q6_relu_default_factor", "Q6 = 0.167"),
    right("vanishing_depth with next() over a generator", "vanishing_depth", '''
def vanishing_depth(grad_norms, threshold=1e-2):
    if not len(grad_norms):
        raise ValueError("no gradient norms")
    n = len(grad_norms)
    return next((n - i for i in range(n - 1, -1, -1) if grad_norms[i] < threshold * grad_norms[-1]), None)
'''),
    right("vanishing_depth with tensors", "vanishing_depth", '''
def vanishing_depth(grad_norms, threshold=1e-2):
    norms = torch.as_tensor(grad_norms, dtype=torch.float64)
    if norms.numel() == 0:
        raise ValueError("no gradient norms")
    below = (norms.flip(0) < threshold * norms[-1]).nonzero()
    return int(below[0, 0]) + 1 if len(below) else None
'''),
    right("vanishing_depth with float32 tensors", "vanishing_depth", '''
def vanishing_depth(grad_norms, threshold=1e-2):
    norms = torch.tensor(list(grad_norms), dtype=torch.float32)
    if len(norms) == 0:
        raise ValueError("no gradient norms")
    for depth, below in enumerate((norms < threshold * norms[-1]).flip(0).tolist(), start=1):
        if below:
            return depth
    return None
'''),
    right("vanishing_depth comparing ratios", "vanishing_depth", '''
def vanishing_depth(grad_norms, threshold=1e-2):
    if len(grad_norms) == 0:
        raise ValueError("no gradient norms")
    output = grad_norms[-1]
    ratios = [norm / output for norm in grad_norms[::-1]]
    return next((depth for depth, ratio in enumerate(ratios, start=1) if ratio < threshold), None)
'''),
    right("vanishing_depth with a while loop from the back", "vanishing_depth", '''
def vanishing_depth(grad_norms, threshold=1e-2):
    if len(grad_norms) == 0:
        raise ValueError("grad_norms is empty")
    index = len(grad_norms) - 1
    while index >= 0:
        if grad_norms[index] < threshold * grad_norms[-1]:
            return len(grad_norms) - index
        index -= 1
    return None
'''),
    right("variance_gain as 0.5 * (1 + alpha * alpha)", "variance_gain",
          _edit("variance_gain", ("(1 + alpha**2) / 2", "0.5 * (1 + alpha * alpha)"))),
    right("variance_gain from a dict of lambdas", "variance_gain", '''
GAINS = {"relu": lambda a: 0.5, "leaky_relu": lambda a: (1 + a * a) / 2,
         "tanh": lambda a: 1.0, "linear": lambda a: 1.0}


def variance_gain(activation, alpha=0.01):
    if activation not in GAINS:
        raise ValueError(f"unknown activation {activation}; choose from {', '.join(GAINS)}")
    return float(GAINS[activation](alpha))
'''),
    right("variance_gain with ReLU as leaky ReLU of slope 0", "variance_gain", '''
def variance_gain(activation, alpha=0.01):
    match activation:
        case "relu":
            return variance_gain("leaky_relu", 0.0)
        case "leaky_relu":
            return (1 + alpha**2) / 2
        case "tanh" | "linear":
            return 1.0
    raise ValueError("activation must be relu, leaky_relu, tanh or linear")
'''),
    right("variance_gain from calculate_gain for ReLU and leaky ReLU, 1 for tanh", "variance_gain", '''
def variance_gain(activation, alpha=0.01):
    if activation in ("tanh", "linear"):
        return 1.0
    if activation in ("relu", "leaky_relu"):
        return nn.init.calculate_gain(activation, alpha) ** -2
    raise ValueError(f"{activation!r} is none of relu, leaky_relu, tanh, linear")
'''),
    right("variance_gain by trapezoidal integration over N(0, 1) in float64", "variance_gain", '''
def variance_gain(activation, alpha=0.01):
    """E[f(z)²] / Var(z) by quadrature; tanh at a tiny variance v, where its gain is the small-z one."""
    v = 1e-10 if activation == "tanh" else 1.0
    functions = {"relu": torch.relu, "leaky_relu": lambda z: torch.where(z > 0, z, alpha * z),
                 "tanh": torch.tanh, "linear": lambda z: z}
    if activation not in functions:
        raise ValueError("activation must be 'relu', 'leaky_relu', 'tanh' or 'linear'")
    z = torch.linspace(-12, 12, 200_001, dtype=torch.float64)
    density = torch.exp(-z**2 / 2) / math.sqrt(2 * math.pi)
    f = functions[activation](z * math.sqrt(v))
    return (torch.trapezoid(f**2 * density, z) / v).item()
'''),
]
