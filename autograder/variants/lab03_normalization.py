"""Known answers to lab 03: mistakes its tests must catch, and correct answers written differently.

Most mistakes in `BatchNorm1dScratch` are one line: they are written as edits of the reference
cell (`_edit` fails loudly if the reference no longer holds the line it changes).
"""

import functools

from autograder.variants import edited, right, wrong

_edit = functools.partial(edited, "lab03_normalization")

_BN = "batch_norm_1d_scratch"
_RUNNING_VAR = "self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * n / (n - 1))"
_RUNNING_MEAN = "self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)"

# A per-channel loop over the features, correct when its statistics are built like the input
# (x.new_zeros); the contract mistakes below build them with torch.zeros (float32 on the CPU).
_BN_LOOP = '''
class BatchNorm1dScratch(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        shape = (1, -1, 1) if x.dim() == 3 else (1, -1)
        if self.training:
            mean = x.new_zeros(self.num_features)
            var = x.new_zeros(self.num_features)
            for c in range(self.num_features):
                values = x[:, c]
                mean[c] = values.mean()
                var[c] = values.var(correction=0)
            n = x.numel() // self.num_features
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * n / (n - 1))
                self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        return self.weight.view(shape) * x_hat + self.bias.view(shape)
'''
_LN_AFFINE = """    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
"""

MISTAKES = [
    wrong("running variance updated with the biased variance", _BN, _edit(
        _BN, (_RUNNING_VAR, "self.running_var.mul_(1 - self.momentum).add_(self.momentum * var)")),
        "test_batch_norm_1d_scratch"),
    wrong("momentum used the conventional way round", _BN, _edit(
        _BN, (_RUNNING_MEAN, "self.running_mean.mul_(self.momentum).add_((1 - self.momentum) * mean)"),
        (_RUNNING_VAR, "self.running_var.mul_(self.momentum).add_((1 - self.momentum) * var * n / (n - 1))")),
        "test_batch_norm_1d_scratch"),
    wrong("eval mode still uses the batch statistics", _BN, _edit(
        _BN, ("        if self.training:\n            mean = x.mean(dim=dims)",
              "        if True:\n            mean = x.mean(dim=dims)")),
        "test_batch_norm_1d_scratch"),
    wrong("num_batches_tracked not counted", _BN, _edit(
        _BN, ("                self.num_batches_tracked += 1\n", "")),
        "test_batch_norm_1d_scratch"),
    wrong("layer_norm normalizes over the batch dimension", "layer_norm", '''
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    mean = x.mean(dim=0, keepdim=True)
    var = x.var(dim=0, keepdim=True, correction=0)
    out = (x - mean) / torch.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out
''', "test_layer_norm"),
    wrong("fused bias missing the - running_mean term", "fuse_linear_bn", '''
def fuse_linear_bn(linear, bn):
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        b = linear.bias if linear.bias is not None else torch.zeros(linear.out_features)
        fused = nn.Linear(linear.in_features, linear.out_features)
        fused.weight.copy_(scale[:, None] * linear.weight)
        fused.bias.copy_(scale * b + bn.bias)
    return fused
''', "test_fuse_linear_bn"),
    wrong("standardize computes the statistics on all splits", "standardize", '''
def standardize(train, *others):
    everything = torch.cat([train, *others])
    mean, std = everything.mean(dim=0), everything.std(dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return tuple((split - mean) / std for split in (train, *others))
''', "test_standardize"),
    # Further plausible mistakes, one exercise each.
    wrong("BN normalizes with the unbiased variance", _BN, _edit(
        _BN, ("var = x.var(dim=dims, correction=0)", "var = x.var(dim=dims)"),
        ("self.momentum * var * n / (n - 1)", "self.momentum * var")),
        "test_batch_norm_1d_scratch"),
    wrong("running statistics registered as nn.Parameter", _BN, _edit(
        _BN, ('self.register_buffer("running_mean", torch.zeros(num_features))',
              "self.running_mean = nn.Parameter(torch.zeros(num_features), requires_grad=False)"),
        ('self.register_buffer("running_var", torch.ones(num_features))',
         "self.running_var = nn.Parameter(torch.ones(num_features), requires_grad=False)")),
        "test_batch_norm_1d_scratch"),
    wrong("running statistics kept as plain tensor attributes", _BN, _edit(
        _BN, ('self.register_buffer("running_mean", torch.zeros(num_features))',
              "self.running_mean = torch.zeros(num_features)"),
        ('self.register_buffer("running_var", torch.ones(num_features))',
         "self.running_var = torch.ones(num_features)"),
        ('self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))',
         "self.num_batches_tracked = torch.tensor(0, dtype=torch.long)")),
        "test_batch_norm_1d_scratch"),
    wrong("batch statistics detached from autograd", _BN, _edit(
        _BN, ("mean = x.mean(dim=dims)\n", "mean = x.mean(dim=dims).detach()\n"),
        ("var = x.var(dim=dims, correction=0)", "var = x.var(dim=dims, correction=0).detach()")),
        "test_batch_norm_1d_scratch"),
    wrong("running statistics updated inside autograd", _BN, _edit(
        _BN, ("""            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * n / (n - 1))
""", """            self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean
            self.running_var = (1 - self.momentum) * self.running_var + self.momentum * var * n / (n - 1)
            with torch.no_grad():
""")),
        "test_batch_norm_1d_scratch"),
    wrong("(N, C, L) inputs normalized over dimension 0 only", _BN, _edit(
        _BN, ("dims = (0, 2) if x.dim() == 3 else (0,)", "dims = (0,)"),
        ("shape = (1, -1, 1) if x.dim() == 3 else (1, -1)", "shape = (1, *x.shape[1:])"),
        ("n = x.numel() // self.num_features", "n = x.shape[0]")),
        "test_batch_norm_1d_scratch"),
    wrong("BN built on F.batch_norm", _BN, '''
class BatchNorm1dScratch(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if self.training:
            self.num_batches_tracked += 1
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training, self.momentum, self.eps)
''', "test_batch_norm_1d_scratch"),
    wrong("layer_norm with the unbiased variance", "layer_norm", _edit(
        "layer_norm", ("var = x.var(dim=dims, keepdim=True, correction=0)",
                       "var = x.var(dim=dims, keepdim=True)")),
        "test_layer_norm"),
    wrong("layer_norm over the last dimension only", "layer_norm", '''
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, correction=0)
    out = (x - mean) / torch.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out
''', "test_layer_norm"),
    wrong("layer_norm adds eps outside the square root", "layer_norm", _edit(
        "layer_norm", ("out = (x - mean) / torch.sqrt(var + eps)",
                       "out = (x - mean) / (torch.sqrt(var) + eps)")),
        "test_layer_norm"),
    wrong("layer_norm calls F.layer_norm", "layer_norm", '''
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return F.layer_norm(x, tuple(normalized_shape), weight, bias, eps)
''', "test_layer_norm"),
    wrong("fuse_linear_bn modifies linear in place", "fuse_linear_bn", '''
def fuse_linear_bn(linear, bn):
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        if linear.bias is None:
            linear.bias = nn.Parameter(torch.zeros(linear.out_features))
        linear.bias.copy_(scale * (linear.bias - bn.running_mean) + bn.bias)
        linear.weight.mul_(scale[:, None])
    return linear
''', "test_fuse_linear_bn"),
    wrong("fuse_linear_bn forgets eps", "fuse_linear_bn", _edit(
        "fuse_linear_bn", ("torch.sqrt(bn.running_var + bn.eps)", "torch.sqrt(bn.running_var)")),
        "test_fuse_linear_bn"),
    wrong("fuse_linear_bn assumes linear has a bias", "fuse_linear_bn", '''
def fuse_linear_bn(linear, bn):
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = nn.Linear(linear.in_features, linear.out_features)
        fused.weight.copy_(scale[:, None] * linear.weight)
        fused.bias.copy_(scale * (linear.bias - bn.running_mean) + bn.bias)
    return fused
''', "test_fuse_linear_bn"),
    wrong("fuse_linear_bn scales the columns of W", "fuse_linear_bn", _edit(
        "fuse_linear_bn", ("scale[:, None] * linear.weight", "linear.weight * scale")),
        "test_fuse_linear_bn"),
    wrong("fuse_linear_bn calls PyTorch's fusion", "fuse_linear_bn", '''
def fuse_linear_bn(linear, bn):
    import torch.nn.utils.fusion
    return torch.nn.utils.fusion.fuse_linear_bn_eval(copy.deepcopy(linear).eval(), copy.deepcopy(bn).eval())
''', "test_fuse_linear_bn"),
    wrong("standardize uses each split's own statistics", "standardize", '''
def standardize(train, *others):
    results = []
    for split in (train, *others):
        std = split.std(dim=0)
        std = torch.where(std > 0, std, torch.ones_like(std))
        results.append((split - split.mean(dim=0)) / std)
    return tuple(results)
''', "test_standardize"),
    wrong("standardize modifies train in place", "standardize", '''
def standardize(train, *others):
    mean = train.mean(dim=0)
    std = train.std(dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    others = tuple((split - mean) / std for split in others)
    train -= mean
    train /= std
    return (train, *others)
''', "test_standardize"),
    wrong("standardize divides constant features by zero", "standardize", '''
def standardize(train, *others):
    mean, std = train.mean(dim=0), train.std(dim=0)
    return tuple((split - mean) / std for split in (train, *others))
''', "test_standardize"),
    wrong("PCA whitening instead of ZCA", "zca_whiten", _edit(
        "zca_whiten", ("W = eigenvectors @ torch.diag(scale) @ eigenvectors.T",
                       "W = eigenvectors @ torch.diag(scale)")),
        "test_zca_whiten"),
    wrong("ZCA without centering", "zca_whiten", '''
def zca_whiten(X, eps=1e-5):
    covariance = X.T @ X / (len(X) - 1)
    eigenvalues, U = torch.linalg.eigh(covariance)
    W = U @ torch.diag(1 / torch.sqrt(eigenvalues + eps)) @ U.T
    return X @ W, W
''', "test_zca_whiten"),
    wrong("ZCA scales by 1/lambda instead of 1/sqrt(lambda)", "zca_whiten", _edit(
        "zca_whiten", ("scale = 1 / torch.sqrt(eigenvalues.clamp_min(0) + eps)",
                       "scale = 1 / (eigenvalues.clamp_min(0) + eps)")),
        "test_zca_whiten"),
    wrong("ZCA adds eps outside the square root", "zca_whiten", _edit(
        "zca_whiten", ("scale = 1 / torch.sqrt(eigenvalues.clamp_min(0) + eps)",
                       "scale = 1 / (torch.sqrt(eigenvalues.clamp_min(0)) + eps)")),
        "test_zca_whiten"),
    wrong("Q1 answered with the conventional momentum", "q1_momentum", 'Q1 = "a"', "test_q1_momentum"),
    wrong("Q2 answered with Keras's value", "q2_keras_momentum", "Q2 = 0.99", "test_q2_keras_momentum"),
    wrong("Q3 forgets num_batches_tracked", "q3_state_dict_size", "Q3 = 400", "test_q3_state_dict_size"),
    wrong("Q3 counts the parameters only", "q3_state_dict_size", "Q3 = 200", "test_q3_state_dict_size"),
    wrong("Q6 answered a", "q6_layer_norm", 'Q6 = "a"', "test_q6_layer_norm"),
    wrong("F.layer_norm imported by name", "layer_norm", '''
from torch.nn.functional import layer_norm as library_layer_norm


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    return library_layer_norm(x, tuple(normalized_shape) if not isinstance(normalized_shape, int)
                              else (normalized_shape,), weight, bias, eps)
''', "test_layer_norm"),
    # Contracts (dtype kept, state_dict, lone weight or bias, the caller's modes), one mistake each.
    wrong("standardize casts every split to float32", "standardize", '''
def standardize(train, *others):
    train = train.float()  # make sure the data is float
    mean = train.mean(dim=0)
    std = train.std(dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return tuple((split.float() - mean) / std for split in (train, *others))
''', "test_standardize"),
    wrong("zca_whiten builds its scale from a Python list (float32)", "zca_whiten", '''
def zca_whiten(X, eps=1e-5):
    centered = X - X.mean(dim=0)
    covariance = centered.T @ centered / (len(X) - 1)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    scale = torch.tensor([(max(value, 0.0) + eps) ** -0.5 for value in eigenvalues.tolist()])
    W = eigenvectors @ torch.diag(scale) @ eigenvectors.T
    return centered @ W, W
''', "test_zca_whiten"),
    wrong("num_batches_tracked registered as a non-persistent buffer", _BN, _edit(
        _BN, ('self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))',
              'self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long), '
              'persistent=False)')),
        "test_batch_norm_1d_scratch"),
    wrong("BN statistics gathered per channel into torch.zeros (float32)", _BN,
          _BN_LOOP.replace("x.new_zeros(self.num_features)", "torch.zeros(self.num_features)"),
          "test_batch_norm_1d_scratch"),
    wrong("layer_norm applies weight and bias only when both are given", "layer_norm", _edit(
        "layer_norm", (_LN_AFFINE, """    if weight is not None and bias is not None:
        out = out * weight + bias
""")), "test_layer_norm"),
    wrong("layer_norm computes and returns float32", "layer_norm", _edit(
        "layer_norm", ("    mean = x.mean(dim=dims, keepdim=True)",
                       "    x = x.float()  # for numerical stability\n"
                       "    mean = x.mean(dim=dims, keepdim=True)")),
        "test_layer_norm"),
    wrong("fuse_linear_bn switches the caller's bn to eval mode", "fuse_linear_bn", _edit(
        "fuse_linear_bn", ("    with torch.no_grad():\n        scale",
                           "    bn.eval()  # the fused layer is the pair in eval mode\n"
                           "    with torch.no_grad():\n        scale")),
        "test_fuse_linear_bn"),
    wrong("fuse_linear_bn builds the fused layer in the default dtype", "fuse_linear_bn", _edit(
        "fuse_linear_bn", ("device=linear.weight.device, dtype=linear.weight.dtype)",
                           "device=linear.weight.device)")),
        "test_fuse_linear_bn"),
]

ALTERNATIVES = [
    right("standardize with the biased std, std_mean and masking", "standardize", '''
def standardize(train, *others):
    std, mean = torch.std_mean(train, dim=0, correction=0)
    std = std.clone()
    std[std == 0] = 1.0
    out = []
    for split in [train, *others]:
        out.append((split - mean) / std)
    return tuple(out)
'''),
    right("zca_whiten from an SVD of the centered data", "zca_whiten", '''
def zca_whiten(X, eps=1e-5):
    Xc = X - X.mean(0, keepdim=True)
    _, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    variances = S ** 2 / X.shape[0]
    W = Vh.T @ torch.diag((variances + eps).rsqrt()) @ Vh
    return Xc @ W, W
'''),
    right("zca_whiten with torch.cov and a broadcast scale", "zca_whiten", '''
def zca_whiten(X, eps=1e-5):
    mean = X.mean(dim=0)
    lam, U = torch.linalg.eigh(torch.cov((X - mean).T))
    W = (U * (lam.clamp(min=0) + eps) ** -0.5) @ U.T
    return (X - mean) @ W, W
'''),
    right("zca_whiten in float64, covariance divided by N", "zca_whiten", '''
def zca_whiten(X, eps=1e-5):
    X = X.double()
    Xc = X - X.mean(0)
    lam, U = torch.linalg.eigh(Xc.T @ Xc / len(X))
    W = U @ torch.diag((lam + eps) ** -0.5) @ U.T
    return Xc @ W, W
'''),
    right("BatchNorm1dScratch by reshaping to (N·L, C), with lerp_ and rsqrt", _BN, '''
class BatchNorm1dScratch(nn.Module):
    """Batch norm over (N, C) or (N, C, L)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.register_parameter("weight", nn.Parameter(torch.ones(num_features)))
        self.register_parameter("bias", nn.Parameter(torch.zeros(num_features)))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        flat = x.transpose(1, -1).reshape(-1, self.num_features) if x.dim() == 3 else x
        if self.training:
            var, mean = torch.var_mean(flat, dim=0, correction=0)
            n = flat.shape[0]
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var * (n / (n - 1)), self.momentum)
                self.num_batches_tracked.add_(1)
        else:
            mean, var = self.running_mean, self.running_var
        out = (flat - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias
        if x.dim() == 3:
            out = out.reshape(x.shape[0], x.shape[2], self.num_features).transpose(1, 2)
        return out
'''),
    right("BatchNorm1dScratch reassigning detached buffers", _BN, '''
class BatchNorm1dScratch(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0))

    def forward(self, x):
        dims = [0] if x.ndim == 2 else [0, 2]
        if self.training:
            mean = x.mean(dims, keepdim=True)
            var = ((x - mean) ** 2).mean(dims, keepdim=True)
            n = x.numel() / x.shape[1]
            m = self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mean.detach().flatten()
            self.running_var = (1 - m) * self.running_var + m * var.detach().flatten() * n / (n - 1)
            self.num_batches_tracked = self.num_batches_tracked + 1
        else:
            shape = [1, -1] + [1] * (x.ndim - 2)
            mean = self.running_mean.reshape(shape)
            var = self.running_var.reshape(shape)
        shape = [1, -1] + [1] * (x.ndim - 2)
        return (x - mean) / (var + self.eps).sqrt() * self.weight.reshape(shape) + self.bias.reshape(shape)
'''),
    right("layer_norm by flattening the normalized dimensions", "layer_norm", '''
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    flat = x.reshape(*x.shape[:x.dim() - len(shape)], -1)
    var, mean = torch.var_mean(flat, dim=-1, keepdim=True, correction=0)
    out = ((flat - mean) * torch.rsqrt(var + eps)).reshape(x.shape)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out
'''),
    right("layer_norm from E[x^2] - E[x]^2", "layer_norm", '''
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    if isinstance(normalized_shape, int):
        normalized_shape = [normalized_shape]
    dims = [-(i + 1) for i in range(len(normalized_shape))]
    mean = x.mean(dims, keepdim=True)
    var = (x * x).mean(dims, keepdim=True) - mean * mean
    y = (x - mean) / (var + eps) ** 0.5
    return y * (1 if weight is None else weight) + (0 if bias is None else bias)
'''),
    right("fuse_linear_bn on a deep copy with torch.diag", "fuse_linear_bn", '''
def fuse_linear_bn(linear, bn):
    fused = copy.deepcopy(linear)
    if fused.bias is None:
        fused.bias = nn.Parameter(torch.zeros(linear.out_features))
    s = bn.weight.detach() / (bn.running_var + bn.eps).sqrt()
    fused.weight.data = torch.diag(s) @ linear.weight.detach()
    fused.bias.data = s * (fused.bias.detach() - bn.running_mean) + bn.bias.detach()
    return fused
'''),
    right("Q2 as 1 - 0.99", "q2_keras_momentum", "Q2 = 1 - 0.99"),
    right("Q3 as a float", "q3_state_dict_size", "Q3 = 401.0"),
    right("Q5 as a float", "q5_batch_of_two", "Q5 = 1.0"),
    right("standardize that keeps any float dtype, with masked_fill", "standardize", '''
def standardize(train, *others):
    if not train.is_floating_point():
        train = train.float()
    mean = train.mean(dim=0)
    std = train.std(dim=0).masked_fill(train.std(dim=0) == 0, 1.0)
    return tuple((split.to(train.dtype) - mean) / std for split in (train, *others))
'''),
    right("BatchNorm1dScratch by a loop over the channels into x.new_zeros", _BN, _BN_LOOP),
    right("layer_norm computing half precision in float32, cast back", "layer_norm", '''
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    dims = tuple(range(-len(shape), 0))
    work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    mean = work.mean(dim=dims, keepdim=True)
    var = (work - mean).pow(2).mean(dim=dims, keepdim=True)
    out = (work - mean) * torch.rsqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out.to(x.dtype)
'''),
    right("fuse_linear_bn by evaluating a deep copy of the pair on the identity", "fuse_linear_bn", '''
def fuse_linear_bn(linear, bn):
    pair = nn.Sequential(copy.deepcopy(linear), copy.deepcopy(bn)).eval()
    weight = linear.weight
    with torch.no_grad():
        eye = torch.eye(linear.in_features, dtype=weight.dtype, device=weight.device)
        shift = pair(torch.zeros_like(eye[:1]))
        columns = pair(eye) - shift
        fused = nn.Linear(linear.in_features, linear.out_features, device=weight.device, dtype=weight.dtype)
        fused.weight.copy_(columns.T)
        fused.bias.copy_(shift[0])
    return fused
'''),
]

# --- Exercises 5 and 6: backward passes by hand -------------------------------------------------

_BNF, _LNF = "batch_norm_function", "layer_norm_function"
_BN_DX = "grad_x = weight * inv_std / n * (n * grad_out - grad_bias - x_hat * grad_weight)"
_BN_FLOAT32_BACKWARD = '''
class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        mean = x.mean(dim=0)
        var = x.var(dim=0, correction=0)
        inv_std = 1 / torch.sqrt(var + eps)
        x_hat = (x - mean) * inv_std
        ctx.save_for_backward(x_hat, weight, inv_std)
        return weight * x_hat + bias

    @staticmethod
    def backward(ctx, grad_out):
        x_hat, weight, inv_std = (t.float() for t in ctx.saved_tensors)
        dy = grad_out.float()
        n = dy.shape[0]
        grad_bias = dy.sum(dim=0)
        grad_weight = (dy * x_hat).sum(dim=0)
        grad_x = weight * inv_std / n * (n * dy - grad_bias - x_hat * grad_weight)
        return grad_x.to(grad_out.dtype), grad_weight.to(grad_out.dtype), grad_bias.to(grad_out.dtype), None
'''
_BN_WRONG_SUMS = '''
class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        mean = x.mean(dim=0)
        var = x.var(dim=0, correction=0)
        inv_std = 1 / torch.sqrt(var + eps)
        x_hat = (x - mean) * inv_std
        ctx.save_for_backward(x_hat, weight, inv_std)
        return weight * x_hat + bias

    @staticmethod
    def backward(ctx, grad_out):
        x_hat, weight, inv_std = ctx.saved_tensors
        n = grad_out.shape[0]
        grad_x = weight * inv_std / n * (n * grad_out - grad_out.sum(dim=0)
                                         - x_hat * (grad_out * x_hat).sum(dim=0))
        return grad_x, (grad_out * x_hat).sum(dim=1), grad_out.sum(dim=1), None
'''
_BN_SAVED_EPS_OUTSIDE = '''
class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        mean = x.mean(dim=0)
        var = x.var(dim=0, correction=0)
        centered = x - mean
        ctx.save_for_backward(centered / (var.sqrt() + eps), weight, 1 / (var.sqrt() + eps))
        return weight * centered / torch.sqrt(var + eps) + bias

    @staticmethod
    def backward(ctx, grad_out):
        x_hat, weight, inv_std = ctx.saved_tensors
        n = grad_out.shape[0]
        grad_bias = grad_out.sum(dim=0)
        grad_weight = (grad_out * x_hat).sum(dim=0)
        grad_x = weight * inv_std / n * (n * grad_out - grad_bias - x_hat * grad_weight)
        return grad_x, grad_weight, grad_bias, None
'''
_BN_WITH_F = '''
class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        y = F.batch_norm(x, None, None, None, None, training=True, eps=eps)
        inv_std = 1 / torch.sqrt(x.var(dim=0, correction=0) + eps)
        ctx.save_for_backward(y, weight, inv_std)
        return weight * y + bias

    @staticmethod
    def backward(ctx, grad_out):
        x_hat, weight, inv_std = ctx.saved_tensors
        n = grad_out.shape[0]
        grad_bias = grad_out.sum(dim=0)
        grad_weight = (grad_out * x_hat).sum(dim=0)
        grad_x = weight * inv_std / n * (n * grad_out - grad_bias - x_hat * grad_weight)
        return grad_x, grad_weight, grad_bias, None
'''
_BN_BY_AUTOGRAD = '''
class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        ctx.save_for_backward(x, weight, bias)
        ctx.eps = eps
        x_hat = (x - x.mean(dim=0)) / torch.sqrt(x.var(dim=0, correction=0) + eps)
        return weight * x_hat + bias

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, bias = (t.detach().requires_grad_() for t in ctx.saved_tensors)
        with torch.enable_grad():
            x_hat = (x - x.mean(dim=0)) / torch.sqrt(x.var(dim=0, correction=0) + ctx.eps)
            y = weight * x_hat + bias
        return (*torch.autograd.grad(y, (x, weight, bias), grad_out), None)
'''
_LN_DX = '''        grad_x_hat = grad_out * weight
        grad_x = inv_std / d * (d * grad_x_hat - grad_x_hat.sum(dim=-1, keepdim=True)
                                - x_hat * (grad_x_hat * x_hat).sum(dim=-1, keepdim=True))'''


def _ln(dx: str, *changes: tuple[str, str]) -> str:
    """The reference LayerNormFunction, its lines that compute grad_x replaced by `dx`, then `changes`."""
    return _edit(_LNF, (_LN_DX, dx), *changes)


NORM_FUNCTION_MISTAKES = [
    wrong("BN backward missing the mean-gradient term", _BNF, _edit(
        _BNF, (_BN_DX, "grad_x = weight * inv_std / n * (n * grad_out - x_hat * grad_weight)")),
        "test_batch_norm_function"),
    wrong("BN backward missing the variance term", _BNF, _edit(
        _BNF, (_BN_DX, "grad_x = weight * inv_std / n * (n * grad_out - grad_bias)")),
        "test_batch_norm_function"),
    wrong("BN backward adding the variance term", _BNF, _edit(
        _BNF, (_BN_DX, "grad_x = weight * inv_std / n * (n * grad_out - grad_bias + x_hat * grad_weight)")),
        "test_batch_norm_function"),
    wrong("BN backward adding the mean-gradient term", _BNF, _edit(
        _BNF, (_BN_DX, "grad_x = weight * inv_std / n * (n * grad_out + grad_bias - x_hat * grad_weight)")),
        "test_batch_norm_function"),
    wrong("BN backward without the 1/N in front", _BNF, _edit(
        _BNF, (_BN_DX, "grad_x = weight * inv_std * (n * grad_out - grad_bias - x_hat * grad_weight)")),
        "test_batch_norm_function"),
    wrong("BN backward with dy where N·dy belongs", _BNF, _edit(
        _BNF, (_BN_DX, "grad_x = weight * inv_std / n * (grad_out - grad_bias - x_hat * grad_weight)")),
        "test_batch_norm_function"),
    wrong("BN backward forgetting γ in dx", _BNF, _edit(
        _BNF, (_BN_DX, "grad_x = inv_std / n * (n * grad_out - grad_bias - x_hat * grad_weight)")),
        "test_batch_norm_function"),
    wrong("BN forward with the unbiased variance", _BNF, _edit(
        _BNF, ("var = x.var(dim=0, correction=0)", "var = x.var(dim=0)")),
        "test_batch_norm_function"),
    wrong("BN forward with ε outside the square root", _BNF, _edit(
        _BNF, ("inv_std = 1 / torch.sqrt(var + eps)", "inv_std = 1 / (torch.sqrt(var) + eps)")),
        "test_batch_norm_function"),
    wrong("BN backward saving x̂ and σ with ε outside the square root", _BNF, _BN_SAVED_EPS_OUTSIDE,
          "test_batch_norm_function"),
    wrong("BN backward computed in float32", _BNF, _BN_FLOAT32_BACKWARD, "test_batch_norm_function"),
    wrong("BN dγ and dβ summed over the features", _BNF, _BN_WRONG_SUMS, "test_batch_norm_function"),
    wrong("BN dγ and dβ swapped", _BNF, _edit(
        _BNF, ("return grad_x, grad_weight, grad_bias, None", "return grad_x, grad_bias, grad_weight, None")),
        "test_batch_norm_function"),
    wrong("BN backward returning no gradient for γ and β", _BNF, _edit(
        _BNF, ("return grad_x, grad_weight, grad_bias, None", "return grad_x, None, None, None")),
        "test_batch_norm_function"),
    wrong("BN forward through F.batch_norm", _BNF, _BN_WITH_F, "test_batch_norm_function"),
    wrong("BN backward asking autograd", _BNF, _BN_BY_AUTOGRAD, "test_batch_norm_function"),
    wrong("LN backward with γ outside the sums, as in BN", _LNF, _ln(
        "        grad_x = weight * inv_std / d * (d * grad_out - grad_out.sum(dim=-1, keepdim=True)\n"
        "                                         - x_hat * (grad_out * x_hat).sum(dim=-1, keepdim=True))"),
        "test_layer_norm_function"),
    wrong("LN backward reusing BN's batch-dimension sums", _LNF, _ln(
        "        n = grad_out.shape[0]\n"
        "        grad_x = weight * inv_std / n * (n * grad_out - grad_out.sum(dim=0)\n"
        "                                         - x_hat * (grad_out * x_hat).sum(dim=0))"),
        "test_layer_norm_function"),
    wrong("LN backward missing the variance term", _LNF, _ln(
        "        grad_x_hat = grad_out * weight\n"
        "        grad_x = inv_std / d * (d * grad_x_hat - grad_x_hat.sum(dim=-1, keepdim=True))"),
        "test_layer_norm_function"),
    wrong("LN backward forgetting γ in dx", _LNF, _ln(_LN_DX.replace("grad_out * weight", "grad_out")),
          "test_layer_norm_function"),
    wrong("LN dγ summed over the features", _LNF, _ln(
        _LN_DX, ("grad_weight = (grad_out * x_hat).reshape(-1, d).sum(dim=0)",
                 "grad_weight = (grad_out * x_hat).sum(dim=-1)")),
        "test_layer_norm_function"),
    wrong("LN backward computed in float32", _LNF, _ln(
        _LN_DX, ("x_hat, weight, inv_std = ctx.saved_tensors",
                 "x_hat, weight, inv_std = (t.float() for t in ctx.saved_tensors)\n"
                 "        grad_out = grad_out.float()")),
        "test_layer_norm_function"),
    wrong("LN forward with the unbiased variance", _LNF, _ln(
        _LN_DX, ("var = x.var(dim=-1, keepdim=True, correction=0)", "var = x.var(dim=-1, keepdim=True)")),
        "test_layer_norm_function"),
    wrong("LN backward scaling grad_out in place", _LNF, _ln(
        _LN_DX.replace("grad_x_hat = grad_out * weight", "grad_x_hat = grad_out.mul_(weight)")),
        "test_layer_norm_function"),
    wrong("LN forward through F.layer_norm", _LNF, _ln(
        _LN_DX, ("        x_hat = (x - mean) * inv_std\n",
                 "        x_hat = F.layer_norm(x, (x.shape[-1],), eps=eps)\n")),
        "test_layer_norm_function"),
]

NORM_FUNCTION_ALTERNATIVES = [
    right("BN backward by the staged chain rule (dx̂, dvar, dμ, dx)", _BNF, '''
class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        mu = x.mean(0)
        var = ((x - mu) ** 2).mean(0)
        ctx.save_for_backward(x, weight, mu, var)
        ctx.eps = eps
        return weight * (x - mu) / torch.sqrt(var + eps) + bias

    @staticmethod
    def backward(ctx, dy):
        x, weight, mu, var = ctx.saved_tensors
        n = x.shape[0]
        std = torch.sqrt(var + ctx.eps)
        x_hat = (x - mu) / std
        dx_hat = dy * weight
        dvar = (dx_hat * (x - mu)).sum(0) * -0.5 * std ** -3
        dmu = -(dx_hat / std).sum(0) + dvar * (-2.0 * (x - mu)).mean(0)
        dx = dx_hat / std + dvar * 2.0 * (x - mu) / n + dmu / n
        return dx, (dy * x_hat).sum(0), dy.sum(0), None
'''),
    right("BN saving x, recomputing x̂, with needs_input_grad and E[x²] − μ²", _BNF, '''
class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        ctx.save_for_backward(x, weight)
        ctx.eps = eps
        mean = x.mean(dim=0, keepdim=True)
        var = (x * x).mean(dim=0, keepdim=True) - mean * mean
        return weight * (x - mean) * torch.rsqrt(var + eps) + bias

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        var, mean = torch.var_mean(x, dim=0, correction=0, keepdim=True)
        rstd = torch.rsqrt(var + ctx.eps)
        x_hat = (x - mean) * rstd
        sum_dy = grad_out.sum(0, keepdim=True)
        sum_dy_xhat = (grad_out * x_hat).sum(0, keepdim=True)
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = weight * rstd * (grad_out - sum_dy / len(x) - x_hat * sum_dy_xhat / len(x))
        if ctx.needs_input_grad[1]:
            grad_weight = sum_dy_xhat.squeeze(0)
        if ctx.needs_input_grad[2]:
            grad_bias = sum_dy.squeeze(0)
        return grad_x, grad_weight, grad_bias, None
'''),
    right("BN backward as dx̂ minus its projections, with einsum", _BNF, '''
class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        centered = x - x.mean(dim=0)
        std = centered.pow(2).mean(dim=0).add(eps).sqrt()
        x_hat = centered / std
        ctx.save_for_backward(x_hat, std, weight)
        return torch.addcmul(bias, weight, x_hat)

    @staticmethod
    def backward(ctx, grad_out):
        x_hat, std, weight = ctx.saved_tensors
        g = grad_out * weight
        grad_x = (g - g.mean(0) - x_hat * torch.einsum("nc,nc->c", g, x_hat) / g.shape[0]) / std
        return grad_x, torch.einsum("nc,nc->c", grad_out, x_hat), grad_out.sum(0), None
'''),
    right("LN backward by the staged chain rule over the last dimension", _LNF, '''
class LayerNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        ctx.save_for_backward(x, weight, mu, var)
        ctx.eps = eps
        return weight * (x - mu) / torch.sqrt(var + eps) + bias

    @staticmethod
    def backward(ctx, dy):
        x, weight, mu, var = ctx.saved_tensors
        d = x.shape[-1]
        std = torch.sqrt(var + ctx.eps)
        x_hat = (x - mu) / std
        dx_hat = dy * weight
        dvar = (dx_hat * (x - mu)).sum(-1, keepdim=True) * -0.5 * std ** -3
        dmu = -(dx_hat / std).sum(-1, keepdim=True) + dvar * (-2.0 * (x - mu)).mean(-1, keepdim=True)
        dx = dx_hat / std + dvar * 2.0 * (x - mu) / d + dmu / d
        leading = list(range(x.dim() - 1))
        return dx, (dy * x_hat).sum(leading), dy.sum(leading), None
'''),
    right("LN saving x, with needs_input_grad, sum_to_size and rsqrt", _LNF, '''
class LayerNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
        ctx.save_for_backward(x, weight, mean, torch.rsqrt(var + eps))
        return (x - mean) * torch.rsqrt(var + eps) * weight + bias

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, mean, rstd = ctx.saved_tensors
        x_hat = (x - mean) * rstd
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            g = grad_out * weight
            grad_x = rstd * (g - g.mean(-1, keepdim=True) - x_hat * (g * x_hat).mean(-1, keepdim=True))
        if ctx.needs_input_grad[1]:
            grad_weight = (grad_out * x_hat).sum_to_size(weight.shape)
        if ctx.needs_input_grad[2]:
            grad_bias = grad_out.sum_to_size(weight.shape)
        return grad_x, grad_weight, grad_bias, None
'''),
]

MISTAKES += NORM_FUNCTION_MISTAKES
ALTERNATIVES += NORM_FUNCTION_ALTERNATIVES
