"""Known answers to lab 02: mistakes its tests must catch, and correct answers written differently."""

from autograder.variants import Variant, edited, right, wrong

_GATE = "F.silu(self.beta * z1) * z2"


def _swiglu_mistake(name: str, *changes: tuple[str, str]) -> Variant:
    """A mistake in the reference SwiGLU, written as the edit that makes it."""
    return wrong(name, "swiglu", edited("lab02_activations", "swiglu", *changes), "test_swiglu")


SELU_CONSTANTS = '''
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805

'''

def _derivative_mistake(name: str, cell: str, *changes: tuple[str, str]) -> Variant:
    """A mistake in a reference derivative, written as the edit that makes it."""
    return wrong(name, cell, edited("lab02_activations", cell, *changes), f"test_{cell}")


_ELU_SLOPE = "torch.where(z > 0, torch.ones_like(z), alpha * torch.exp(z))"
_GELU_SLOPE = "0.5 * (1 + t) + 0.5 * z * (1 - t**2) * du_dz"
_GELU_DU = "du_dz = c * (1 + 3 * 0.044715 * z**2)"
_SWISH_SLOPE = "s + beta * z * s * (1 - s)"

DERIVATIVE_MISTAKES = [
    _derivative_mistake("elu_grad with the slope-1 branch at the kink (z >= 0)", "elu_grad",
                        ("torch.where(z > 0", "torch.where(z >= 0")),
    _derivative_mistake("elu_grad without alpha on the negative side", "elu_grad",
                        ("alpha * torch.exp(z)", "torch.exp(z)")),
    _derivative_mistake("elu_grad as alpha·(exp(z) − 1), ELU itself", "elu_grad",
                        ("alpha * torch.exp(z)", "alpha * torch.expm1(z)")),
    _derivative_mistake("elu_grad computed in float32", "elu_grad",
                        (_ELU_SLOPE, "torch.where(z > 0, 1.0, alpha * torch.exp(z.float())).to(z.dtype)")),
    wrong("elu_grad as a mask product of an unclamped exp (0·inf = NaN)", "elu_grad", '''
def elu_grad(z, alpha=1.0):
    positive = (z > 0).to(z.dtype)
    return positive + (1 - positive) * alpha * torch.exp(z)
''', "test_elu_grad"),
    wrong("elu_grad clamping z in place", "elu_grad", '''
def elu_grad(z, alpha=1.0):
    positive = z > 0
    return torch.where(positive, torch.ones_like(z), alpha * z.clamp_(max=0).exp())
''', "test_elu_grad"),
    wrong("elu_grad by torch.autograd.grad", "elu_grad", '''
def elu_grad(z, alpha=1.0):
    z = z.detach().clone().requires_grad_(True)
    (slope,) = torch.autograd.grad(elu(z, alpha).sum(), z)
    return slope
''', "test_elu_grad"),
    wrong("elu_grad by .backward()", "elu_grad", '''
def elu_grad(z, alpha=1.0):
    z = z.detach().clone().requires_grad_(True)
    elu(z, alpha).sum().backward()
    return z.grad
''', "test_elu_grad"),
    wrong("elu_grad from PyTorch's backward kernel", "elu_grad", '''
def elu_grad(z, alpha=1.0):
    return torch.ops.aten.elu_backward(torch.ones_like(z), alpha, 1, 1, False, z)
''', "test_elu_grad"),
    _derivative_mistake("gelu_tanh_grad without the chain-rule factor (1 + 3·0.044715·z²)",
                        "gelu_tanh_grad", (_GELU_DU, "du_dz = c")),
    _derivative_mistake("gelu_tanh_grad without sqrt(2/pi) in du/dz", "gelu_tanh_grad",
                        (_GELU_DU, "du_dz = 1 + 3 * 0.044715 * z**2")),
    _derivative_mistake("gelu_tanh_grad with 1 + tanh² (wrong sign)", "gelu_tanh_grad",
                        (_GELU_SLOPE, "0.5 * (1 + t) + 0.5 * z * (1 + t**2) * du_dz")),
    _derivative_mistake("gelu_tanh_grad without the product rule's second term", "gelu_tanh_grad",
                        (_GELU_SLOPE, "0.5 * (1 + t)")),
    wrong("gelu_tanh_grad as the exact (erf) GELU's derivative", "gelu_tanh_grad", '''
def gelu_tanh_grad(z):
    return 0.5 * (1 + torch.erf(z / math.sqrt(2))) + z * torch.exp(-z**2 / 2) / math.sqrt(2 * math.pi)
''', "test_gelu_tanh_grad"),
    _derivative_mistake("gelu_tanh_grad with a float32 torch.tensor constant", "gelu_tanh_grad",
                        ("c = math.sqrt(2 / math.pi)", "c = torch.tensor(math.sqrt(2 / math.pi))")),
    wrong("gelu_tanh_grad computed in float32", "gelu_tanh_grad", '''
def gelu_tanh_grad(z):
    x = z.float()
    t = torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))
    slope = 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x**2)
    return slope.to(z.dtype)
''', "test_gelu_tanh_grad"),
    wrong("gelu_tanh_grad with tanh and sech² from exp(u), which overflows (NaN)", "gelu_tanh_grad", '''
def gelu_tanh_grad(z):
    u = math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)
    tanh = (torch.exp(u) - torch.exp(-u)) / (torch.exp(u) + torch.exp(-u))
    sech2 = 4 / (torch.exp(u) + torch.exp(-u)) ** 2
    return 0.5 * (1 + tanh) + 0.5 * z * sech2 * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * z**2)
''', "test_gelu_tanh_grad"),
    wrong("gelu_tanh_grad by autograd of PyTorch's GELU", "gelu_tanh_grad", '''
def gelu_tanh_grad(z):
    z = z.detach().clone().requires_grad_(True)
    F.gelu(z, approximate="tanh").sum().backward()
    return z.grad
''', "test_gelu_tanh_grad"),
    _derivative_mistake("swish_grad with (1 + σ) for (1 − σ)", "swish_grad",
                        (_SWISH_SLOPE, "s + beta * z * s * (1 + s)")),
    _derivative_mistake("swish_grad without beta in the second term", "swish_grad",
                        (_SWISH_SLOPE, "s + z * s * (1 - s)")),
    _derivative_mistake("swish_grad without the product rule's first term", "swish_grad",
                        (_SWISH_SLOPE, "beta * z * s * (1 - s)")),
    _derivative_mistake("swish_grad computed in float32", "swish_grad",
                        ("s = torch.sigmoid(beta * z)", "s = torch.sigmoid(beta * z.float()).to(z.dtype)")),
    _derivative_mistake("swish_grad returning float32 (.float())", "swish_grad",
                        (_SWISH_SLOPE, f"({_SWISH_SLOPE}).float()")),
    wrong("swish_grad with exp(−βz), which overflows (inf/inf = NaN)", "swish_grad", '''
def swish_grad(z, beta=1.0):
    e = torch.exp(-beta * z)
    return 1 / (1 + e) + beta * z * e / (1 + e) ** 2
''', "test_swish_grad"),
    wrong("swish_grad scaling z in place", "swish_grad", '''
def swish_grad(z, beta=1.0):
    u = z.mul_(beta)
    s = torch.sigmoid(u)
    return s + u * s * (1 - s)
''', "test_swish_grad"),
    wrong("swish_grad by torch.func.grad", "swish_grad", '''
def swish_grad(z, beta=1.0):
    slope = torch.func.vmap(torch.func.grad(lambda x: x * torch.sigmoid(beta * x)))
    return slope(z.flatten()).reshape(z.shape)
''', "test_swish_grad"),
]

DERIVATIVE_ALTERNATIVES = [
    right("elu_grad with a mask product and a clamped exp", "elu_grad", '''
def elu_grad(z, alpha=1.0):
    positive = (z > 0).to(z.dtype)
    return positive + (1 - positive) * alpha * torch.exp(torch.clamp(z, max=0))
'''),
    right("elu_grad from the student's elu: ELU(z) + α for z ≤ 0", "elu_grad", '''
def elu_grad(z, alpha=1.0):
    return torch.where(z <= 0, elu(z, alpha) + alpha, torch.ones_like(z))
'''),
    right("elu_grad filling a copy with boolean indexing", "elu_grad", '''
def elu_grad(z, alpha=1.0):
    slope = torch.ones_like(z)
    negative = z <= 0
    slope[negative] = alpha * torch.exp(z[negative])
    return slope
'''),
    right("gelu_tanh_grad with sech² as 1/cosh²", "gelu_tanh_grad", '''
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def gelu_tanh_grad(z):
    u = SQRT_2_OVER_PI * (z + 0.044715 * z**3)
    sech2 = 1 / torch.cosh(u) ** 2
    return 0.5 * (1 + torch.tanh(u)) + 0.5 * z * sech2 * SQRT_2_OVER_PI * (1 + 0.134145 * z**2)
'''),
    right("gelu_tanh_grad through σ(2u) = (1 + tanh u) / 2", "gelu_tanh_grad", '''
def gelu_tanh_grad(z):
    u = math.sqrt(2 / math.pi) * (z + 0.044715 * z ** 3)
    s = torch.sigmoid(2 * u)
    du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * z * z)
    return s + 2 * z * s * (1 - s) * du
'''),
    right("swish_grad factorized: σ(βz)(1 + βz(1 − σ(βz)))", "swish_grad", '''
def swish_grad(z, beta=1.0):
    s = torch.sigmoid(beta * z)
    return s * (1 + beta * z * (1 - s))
'''),
    right("swish_grad from the student's swish", "swish_grad", '''
def swish_grad(z, beta=1.0):
    s = torch.sigmoid(beta * z)
    return s + beta * swish(z, beta) * (1 - s)
'''),
    right("swish_grad with σ(−βz) for 1 − σ(βz)", "swish_grad", '''
def swish_grad(z, beta=1.0):
    return torch.sigmoid(beta * z) + beta * z * torch.sigmoid(beta * z) * torch.sigmoid(-beta * z)
'''),
]


MISTAKES = [
    wrong("ELU as alpha * exp(z) - 1", "elu", '''
def elu(z, alpha=1.0):
    return torch.where(z > 0, z, alpha * torch.exp(z) - 1)
''', "test_elu"),
    wrong("ELU without alpha", "elu", '''
def elu(z, alpha=1.0):
    return torch.where(z > 0, z, torch.exp(z) - 1)
''', "test_elu"),
    wrong("ELU with PyTorch's own elu", "elu", '''
def elu(z, alpha=1.0):
    return F.elu(z, alpha)
''', "test_elu"),
    wrong("SELU with the constants swapped", "selu", SELU_CONSTANTS + '''
def selu(z):
    return SELU_ALPHA * torch.where(z > 0, z, SELU_SCALE * (torch.exp(z) - 1))
'''.lstrip("\n"), "test_selu"),
    wrong("SELU with the constants rounded to two decimals", "selu", SELU_CONSTANTS + '''
def selu(z):
    return 1.05 * torch.where(z > 0, z, 1.67 * (torch.exp(z) - 1))
'''.lstrip("\n"), "test_selu"),
    wrong("SELU without the scale on the positive side", "selu", SELU_CONSTANTS + '''
def selu(z):
    return torch.where(z > 0, z, SELU_SCALE * SELU_ALPHA * (torch.exp(z) - 1))
'''.lstrip("\n"), "test_selu"),
    wrong("GELU with the tanh approximation", "gelu", '''
def gelu(z):
    return 0.5 * z * (1 + torch.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))
''', "test_gelu"),
    wrong("GELU with erf(z) instead of erf(z / sqrt(2))", "gelu", '''
def gelu(z):
    return 0.5 * z * (1 + torch.erf(z))
''', "test_gelu"),
    wrong("GELU as its sigmoid approximation", "gelu", '''
def gelu(z):
    return z * torch.sigmoid(1.702 * z)
''', "test_gelu"),
    wrong("gelu_sigmoid with 1.702 outside the sigmoid", "gelu_sigmoid", '''
def gelu_sigmoid(z):
    return 1.702 * z * torch.sigmoid(z)
''', "test_gelu_sigmoid"),
    wrong("gelu_sigmoid without the factor z", "gelu_sigmoid", '''
def gelu_sigmoid(z):
    return torch.sigmoid(1.702 * z)
''', "test_gelu_sigmoid"),
    wrong("Swish with beta outside the sigmoid", "swish", '''
def swish(z, beta=1.0):
    return beta * z * torch.sigmoid(z)
''', "test_swish"),
    wrong("Swish with PyTorch's silu", "swish", '''
def swish(z, beta=1.0):
    return F.silu(beta * z) / beta
''', "test_swish"),
    wrong("leaky ReLU with its two slopes swapped", "leaky_relu", '''
def leaky_relu(z, alpha=0.01):
    return torch.where(z > 0, alpha * z, z)
''', "test_leaky_relu"),
    wrong("leaky ReLU that ignores alpha", "leaky_relu", '''
def leaky_relu(z, alpha=0.01):
    return torch.where(z > 0, z, 0.01 * z)
''', "test_leaky_relu"),
    wrong("Mish with log(exp(z)) for softplus", "mish", '''
def mish(z):
    return z * torch.tanh(torch.log(torch.exp(z)))
''', "test_mish"),
    wrong("Mish as tanh(z) * softplus(z)", "mish", '''
def mish(z):
    return torch.tanh(z) * F.softplus(z)
''', "test_mish"),
    wrong("ReLU² squared before the ReLU", "relu_squared", '''
def relu_squared(z):
    return torch.relu(z**2)
''', "test_relu_squared"),
    wrong("Swish layer with beta outside the sigmoid", "swish_layer", '''
class Swish(nn.Module):
    def __init__(self, beta=1.0, learnable=True):
        super().__init__()
        if learnable:
            self.beta = nn.Parameter(torch.tensor(float(beta)))
        else:
            self.register_buffer("beta", torch.tensor(float(beta)))

    def forward(self, z):
        return self.beta * z * torch.sigmoid(z)
''', "test_swish_layer"),
    wrong("Swish layer whose beta is a plain tensor, not a parameter", "swish_layer", '''
class Swish(nn.Module):
    def __init__(self, beta=1.0, learnable=True):
        super().__init__()
        self.beta = torch.tensor(float(beta), requires_grad=learnable)

    def forward(self, z):
        return z * torch.sigmoid(self.beta * z)
''', "test_swish_layer"),
    wrong("Swish layer that always learns beta", "swish_layer", '''
class Swish(nn.Module):
    def __init__(self, beta=1.0, learnable=True):
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(float(beta)))

    def forward(self, z):
        return z * torch.sigmoid(self.beta * z)
''', "test_swish_layer"),
    _swiglu_mistake("SwiGLU gating z1 by itself", (_GATE, "F.silu(self.beta * z1) * z1")),
    _swiglu_mistake("SwiGLU with beta outside the SiLU", (_GATE, "self.beta * F.silu(z1) * z2")),
    _swiglu_mistake("SwiGLU gating the second half", (_GATE, "F.silu(self.beta * z2) * z1")),
    _swiglu_mistake("SwiGLU splitting along the batch dimension", ("chunk(2, dim=-1)", "chunk(2, dim=0)")),
    wrong("dead_fraction counting units that are zero on some instances", "dead_fraction", '''
def dead_fraction(model, X):
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    outputs = {}
    handles = [r.register_forward_hook(lambda m, i, o: outputs.__setitem__(m, o.detach()))
               for r in relus]
    with torch.no_grad():
        model(X)
    for h in handles:
        h.remove()
    return [(outputs[r] == 0).any(dim=0).float().mean().item() for r in relus]
''', "test_dead_fraction"),
    wrong("dead_fraction as the fraction of zero activations", "dead_fraction", '''
def dead_fraction(model, X):
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    outputs = {}
    handles = [r.register_forward_hook(lambda m, i, o: outputs.__setitem__(m, o.detach()))
               for r in relus]
    with torch.no_grad():
        model(X)
    for h in handles:
        h.remove()
    return [(outputs[r] == 0).float().mean().item() for r in relus]
''', "test_dead_fraction"),
    wrong("dead_fraction skipping nested ReLU layers", "dead_fraction", '''
def dead_fraction(model, X):
    relus = [m for m in model.children() if isinstance(m, nn.ReLU)]
    outputs = {}
    handles = [r.register_forward_hook(lambda m, i, o: outputs.__setitem__(m, o.detach()))
               for r in relus]
    with torch.no_grad():
        model(X)
    for h in handles:
        h.remove()
    return [(outputs[r] == 0).all(dim=0).float().mean().item() for r in relus]
''', "test_dead_fraction"),
    wrong("dead_fraction leaving its hooks on the model", "dead_fraction", '''
def dead_fraction(model, X):
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    outputs = {}
    for r in relus:
        r.register_forward_hook(lambda m, i, o: outputs.__setitem__(m, o.detach()))
    with torch.no_grad():
        model(X)
    return [(outputs[r] == 0).all(dim=0).float().mean().item() for r in relus]
''', "test_dead_fraction"),
    wrong("ELU with expm1 of unclamped z (NaN gradient at large z)", "elu", '''
def elu(z, alpha=1.0):
    return torch.where(z > 0, z, alpha * torch.expm1(z))
''', "test_elu"),
    wrong("SELU with exp of unclamped z (NaN gradient at large z)", "selu", SELU_CONSTANTS + '''
def selu(z):
    return SELU_SCALE * torch.where(z > 0, z, SELU_ALPHA * (torch.exp(z) - 1))
'''.lstrip("\n"), "test_selu"),
    wrong("leaky ReLU accumulating into a float32 torch.zeros(z.shape)", "leaky_relu", '''
def leaky_relu(z, alpha=0.01):
    out = torch.zeros(z.shape)
    out += torch.where(z > 0, z, alpha * z)
    return out
''', "test_leaky_relu"),
    wrong("ReLU² with a float32 mask (bfloat16 comes back float32)", "relu_squared", '''
def relu_squared(z):
    return (z * (z > 0).float()) ** 2
''', "test_relu_squared"),
    wrong("Swish with σ as exp(βz) / (1 + exp(βz)) (NaN at large z)", "swish", '''
def swish(z, beta=1.0):
    return z * torch.exp(beta * z) / (1 + torch.exp(beta * z))
''', "test_swish"),
    wrong("Swish layer with a fixed β of shape (1,) as a plain tensor", "swish_layer", '''
class Swish(nn.Module):
    def __init__(self, beta=1.0, learnable=True):
        super().__init__()
        beta = torch.full((1,), float(beta))
        self.beta = nn.Parameter(beta) if learnable else beta

    def forward(self, z):
        return swish(z, self.beta)
''', "test_swish_layer"),
    wrong("Swish layer building a float32 β of shape (1,) in forward", "swish_layer", '''
class Swish(nn.Module):
    def __init__(self, beta=1.0, learnable=True):
        super().__init__()
        self.learnable = learnable
        self.beta = nn.Parameter(torch.tensor(float(beta))) if learnable else float(beta)

    def forward(self, z):
        beta = self.beta if self.learnable else torch.tensor([self.beta])
        return z * torch.sigmoid(beta * z)
''', "test_swish_layer"),
    _swiglu_mistake("SwiGLU with β as a plain tensor of shape (1,)",
                    ("self.beta = beta", "self.beta = torch.full((1,), float(beta))")),
    _swiglu_mistake("SwiGLU building a float32 β of shape (1,) in forward",
                    (_GATE, "F.silu(torch.tensor([self.beta]) * z1) * z2")),
    wrong("Q1 answered a", "q1_dead_relu", 'Q1 = "a"', "test_q1_dead_relu"),
    wrong("Q2 answered b (He init)", "q2_selu_setup", 'Q2 = "b"', "test_q2_selu_setup"),
    wrong("Q3 answered with the ReLU gain", "q3_leaky_gain", "Q3 = 2 ** 0.5", "test_q3_leaky_gain"),
    wrong("Q4 answered with ELU's floor", "q4_selu_floor", "Q4 = -1.0", "test_q4_selu_floor"),
    wrong("F.elu imported by name", "elu", '''
from torch.nn.functional import elu as library_elu


def elu(z, alpha=1.0):
    return library_elu(z, alpha)
''', "test_elu"),
    *DERIVATIVE_MISTAKES,
]

ALTERNATIVES = [
    right("leaky ReLU with torch.maximum", "leaky_relu", '''
def leaky_relu(z, alpha=0.01):
    return torch.maximum(z, alpha * z)
'''),
    right("leaky ReLU from two clamps", "leaky_relu", '''
def leaky_relu(z, alpha=0.01):
    return z.clamp(min=0) + alpha * z.clamp(max=0)
'''),
    right("ELU with expm1 of z clamped by torch.minimum", "elu", '''
def elu(z, alpha=1.0):
    return torch.where(z > 0, z, alpha * torch.expm1(torch.minimum(z, torch.zeros_like(z))))
'''),
    right("ELU from relu and a clamped exponential", "elu", '''
def elu(z, alpha=1.0):
    return torch.relu(z) + alpha * (torch.exp(torch.clamp(z, max=0)) - 1)
'''),
    right("SELU through the student's own elu", "selu", SELU_CONSTANTS + '''
def selu(z):
    return SELU_SCALE * elu(z, alpha=SELU_ALPHA)
'''.lstrip("\n")),
    right("SELU with a boolean mask", "selu", SELU_CONSTANTS + '''
def selu(z):
    negative = SELU_ALPHA * torch.expm1(torch.clamp(z, max=0))
    return SELU_SCALE * torch.where(z > 0, z, negative)
'''.lstrip("\n")),
    right("GELU with the normal CDF from torch.special", "gelu", '''
def gelu(z):
    return z * torch.special.ndtr(z)
'''),
    right("GELU with erfc", "gelu", '''
def gelu(z):
    return 0.5 * z * torch.erfc(-z / math.sqrt(2))
'''),
    right("gelu_sigmoid as a fraction", "gelu_sigmoid", '''
def gelu_sigmoid(z):
    return z / (1 + torch.exp(-1.702 * z))
'''),
    right("Swish as a fraction", "swish", '''
def swish(z, beta=1.0):
    return z / (1 + torch.exp(-beta * z))
'''),
    right("Mish with log1p(exp(z))", "mish", '''
def mish(z):
    return z * torch.tanh(torch.log1p(torch.exp(z)))
'''),
    right("Mish with logaddexp", "mish", '''
def mish(z):
    return z * torch.tanh(torch.logaddexp(z, torch.zeros_like(z)))
'''),
    right("ReLU² with where", "relu_squared", '''
def relu_squared(z):
    return torch.where(z > 0, z * z, torch.zeros_like(z))
'''),
    right("ReLU² with torch.relu", "relu_squared", '''
def relu_squared(z):
    return torch.relu(z).square()
'''),
    right("Swish layer calling the swish function, beta of shape (1,)", "swish_layer", '''
class Swish(nn.Module):
    def __init__(self, beta=1.0, learnable=True):
        super().__init__()
        beta = torch.full((1,), float(beta))
        if learnable:
            self.beta = nn.Parameter(beta)
        else:
            self.register_buffer("beta", beta)

    def forward(self, z):
        return swish(z, self.beta)
'''),
    right("Swish layer with a float beta when fixed", "swish_layer", '''
class Swish(nn.Module):
    def __init__(self, beta=1.0, learnable=True):
        super(Swish, self).__init__()
        if learnable:
            self.beta = nn.Parameter(torch.tensor(beta))
        else:
            self.beta = beta

    def forward(self, z):
        return z / (1 + torch.exp(-self.beta * z))
'''),
    right("SwiGLU with slicing and a hand-written SiLU", "swiglu", '''
class SwiGLU(nn.Module):
    def __init__(self, in_features, out_features, beta=1.0):
        super().__init__()
        self.out_features = out_features
        self.beta = beta
        self.proj = nn.Linear(in_features, 2 * out_features)

    def forward(self, x):
        z = self.proj(x)
        z1, z2 = z[..., :self.out_features], z[..., self.out_features:]
        u = self.beta * z1
        return u * torch.sigmoid(u) * z2
'''),
    right("SwiGLU through the student's swish", "swiglu", '''
class SwiGLU(nn.Module):
    def __init__(self, in_features, out_features, beta=1.0):
        super().__init__()
        self.fc = nn.Linear(in_features, 2 * out_features)
        self.beta = beta

    def forward(self, x):
        z1, z2 = torch.chunk(self.fc(x), 2, dim=-1)
        return self.beta * swish(z1, self.beta) * z2
'''),
    right("leaky ReLU filling torch.zeros_like(z)", "leaky_relu", '''
def leaky_relu(z, alpha=0.01):
    out = torch.zeros_like(z)
    out[z > 0] = z[z > 0]
    out[z <= 0] = alpha * z[z <= 0]
    return out
'''),
    right("ReLU² with a mask of z's dtype", "relu_squared", '''
def relu_squared(z):
    return (z * (z > 0).to(z.dtype)) ** 2
'''),
    right("Swish layer making a fixed float β a tensor of z's dtype and device", "swish_layer", '''
class Swish(nn.Module):
    def __init__(self, beta=1.0, learnable=True):
        super().__init__()
        self.learnable = learnable
        self.beta = nn.Parameter(torch.tensor(float(beta))) if learnable else float(beta)

    def forward(self, z):
        beta = self.beta if self.learnable else torch.as_tensor(self.beta, dtype=z.dtype,
                                                                device=z.device)
        return z * torch.sigmoid(beta * z)
'''),
    right("SwiGLU with β as a buffer", "swiglu", '''
class SwiGLU(nn.Module):
    def __init__(self, in_features, out_features, beta=1.0):
        super().__init__()
        self.linear = nn.Linear(in_features, 2 * out_features)
        self.register_buffer("beta", torch.tensor(float(beta)))

    def forward(self, x):
        z1, z2 = self.linear(x).chunk(2, dim=-1)
        return F.silu(self.beta * z1) * z2
'''),
    right("dead_fraction accumulating a running 'alive' mask", "dead_fraction", '''
def dead_fraction(model, X):
    alive = {}

    def hook(module, inputs, output):
        alive[module] = (output > 0).reshape(len(output), -1).any(dim=0)

    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    handles = [r.register_forward_hook(hook) for r in relus]
    model(X)
    for h in handles:
        h.remove()
    return [1.0 - alive[r].float().mean().item() for r in relus]
'''),
    right("dead_fraction with max over the batch", "dead_fraction", '''
def dead_fraction(model, X):
    maxima = []
    hooks = []
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            hooks.append(module.register_forward_hook(
                lambda m, i, o: maxima.append(o.detach().amax(dim=0))))
    try:
        with torch.no_grad():
            model(X)
    finally:
        for h in hooks:
            h.remove()
    return [float((m == 0).sum()) / m.numel() for m in maxima]
'''),
    right("Q3 as a decimal", "q3_leaky_gain", "Q3 = 1.387"),
    right("Q4 as a decimal", "q4_selu_floor", "Q4 = -1.758"),
    *DERIVATIVE_ALTERNATIVES,
]
