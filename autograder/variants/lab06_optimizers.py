"""Known answers to lab 06: mistakes its tests must catch, and correct answers written differently."""

import functools

from autograder.variants import edited, right, wrong

_edit = functools.partial(edited, "lab06_optimizers")

# The constructor most answers share: validation, then the hyperparameters into `defaults`.
_ADAM_INIT = '''
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError("invalid hyperparameter")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))
'''
_CLOSURE = '''
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
'''


def _adam(update: str) -> str:
    """An Adam class whose per-parameter update (with t, m, v, g, beta1, beta2, group) is `update`."""
    return f'''
class Adam(torch.optim.Optimizer):
{_ADAM_INIT}
    @torch.no_grad()
    def step(self, closure=None):
{_CLOSURE}
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["m"] = torch.zeros_like(p)
                    state["v"] = torch.zeros_like(p)
                state["step"] += 1
                t, m, v = state["step"], state["m"], state["v"]
{update}
        return loss
'''


_MOMENTUM_INIT = '''
    def __init__(self, params, lr, momentum=0.9, nesterov=False, weight_decay=0.0):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError("invalid hyperparameter")
        if nesterov and momentum <= 0:
            raise ValueError("nesterov needs momentum")
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                      weight_decay=weight_decay))
'''


def _momentum(body: str, init: str = _MOMENTUM_INIT) -> str:
    return f'''
class MomentumSGD(torch.optim.Optimizer):
{init}
    @torch.no_grad()
    def step(self, closure=None):
{_CLOSURE}
        for group in self.param_groups:
            beta, lr = group["momentum"], group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
{body}
        return loss
'''


def _adagrad(update: str) -> str:
    return f'''
class AdaGrad(torch.optim.Optimizer):
    def __init__(self, params, lr=0.01, eps=1e-10):
        if lr < 0 or eps < 0:
            raise ValueError("invalid hyperparameter")
        super().__init__(params, {{"lr": lr, "eps": eps}})

    @torch.no_grad()
    def step(self, closure=None):
{_CLOSURE}
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if "sum" not in self.state[p]:
                    self.state[p]["sum"] = torch.zeros_like(p)
                s = self.state[p]["sum"]
{update}
        return loss
'''


def _rmsprop(update: str, init_extra: str = "", lr: str = 'group["lr"]') -> str:
    return f'''
class RMSProp(torch.optim.Optimizer):
    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8):
        if lr < 0 or eps < 0 or not 0 <= alpha < 1:
            raise ValueError("invalid hyperparameter")
        super().__init__(params, {{"lr": lr, "alpha": alpha, "eps": eps}})
{init_extra}
    @torch.no_grad()
    def step(self, closure=None):
{_CLOSURE}
        for group in self.param_groups:
            alpha, eps, lr = group["alpha"], group["eps"], {lr}
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if "square_avg" not in state:
                    state["square_avg"] = torch.zeros_like(p)
                s = state["square_avg"]
{update}
        return loss
'''


def _adamax(update: str, closure: str = _CLOSURE) -> str:
    return f'''
class AdaMax(torch.optim.Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8):
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError("invalid hyperparameter")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
{closure}
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if not state:
                    state["step"], state["m"], state["u"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                state["step"] += 1
                t, m, u = state["step"], state["m"], state["u"]
{update}
        return loss
'''


def _nadam(update: str) -> str:
    return f'''
class NAdam(torch.optim.Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, momentum_decay=4e-3):
        if lr < 0 or eps < 0 or momentum_decay < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError("invalid hyperparameter")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, momentum_decay=momentum_decay))

    @torch.no_grad()
    def step(self, closure=None):
{_CLOSURE}
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, psi = group["lr"], group["eps"], group["momentum_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if not state:
                    state["step"], state["mu_product"] = 0, 1.0
                    state["m"], state["v"] = torch.zeros_like(p), torch.zeros_like(p)
                state["step"] += 1
                t, m, v = state["step"], state["m"], state["v"]
{update}
        return loss
'''


def _nadam_filtered() -> str:
    """NAdam that steps only the parameters with a gradient, reading a copy of the group's
    hyperparameters made at every step."""
    return '''
class NAdam(torch.optim.Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, momentum_decay=4e-3):
        if lr < 0 or eps < 0 or momentum_decay < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError("invalid hyperparameter")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, momentum_decay=momentum_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            hp = {key: value for key, value in group.items() if key != "params"}
            (beta1, beta2), psi = hp["betas"], hp["momentum_decay"]
            for p in [p for p in group["params"] if p.grad is not None]:
                state = self.state[p]
                if not state:
                    state.update(step=0, mu_product=1.0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                state["step"] += 1
                t, g = state["step"], p.grad
                mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
                mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
                state["mu_product"] *= mu
                product = state["mu_product"]
                state["m"] = beta1 * state["m"] + (1 - beta1) * g
                state["v"] = beta2 * state["v"] + (1 - beta2) * g * g
                denom = (state["v"] / (1 - beta2 ** t)).sqrt() + hp["eps"]
                p.sub_(hp["lr"] * (1 - mu) / (1 - product) * g / denom)
                p.sub_(hp["lr"] * mu_next / (1 - product * mu_next) * state["m"] / denom)
        return loss
'''


_ADAMW_INIT = '''
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        if lr < 0 or eps < 0 or weight_decay < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError("invalid hyperparameter")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
'''


def _adamw(update: str) -> str:
    return f'''
class AdamW(torch.optim.Optimizer):
{_ADAMW_INIT}
    @torch.no_grad()
    def step(self, closure=None):
{_CLOSURE}
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if not state:
                    state["step"], state["m"], state["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                state["step"] += 1
                t, m, v = state["step"], state["m"], state["v"]
{update}
        return loss
'''


_PRUNE_PER_LAYER = '''
def prune_smallest(model, amount):
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    for layer in linears:
        prune.l1_unstructured(layer, "weight", amount=amount)
    zeros = sum((layer.weight == 0).sum().item() for layer in linears)
    return zeros / sum(layer.weight.numel() for layer in linears)
'''


def _first_step(body: str, signature: str = "bias_correction=True") -> str:
    """An adam_first_step whose body is `body`."""
    return f'''
def adam_first_step(grad, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, {signature}):
{body}
'''


_FIRST_STEP_BY_OPTIMIZER = '''
    param = torch.zeros_like(grad, requires_grad=True)
    param.grad = grad.clone()
    {optimizer}([param], lr=lr, betas=betas, eps=eps).step()
    change = param.detach()
    if not bias_correction:
        beta1, beta2 = betas
        change = change * (1 - beta1) / (1 - beta2) ** 0.5
    return change'''

MISTAKES = [
    wrong("Adam without bias correction", "adam", _adam('''
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                p.addcdiv_(m, v.sqrt() + group["eps"], value=-group["lr"])
'''), "test_adam"),
    wrong("Adam with eps inside the square root", "adam", _adam('''
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                m_hat = m / (1 - beta1 ** t)
                v_hat = v / (1 - beta2 ** t)
                p.sub_(group["lr"] * m_hat / torch.sqrt(v_hat + group["eps"]))
'''), "test_adam"),
    wrong("Nesterov computed as plain momentum", "momentum_sgd", _momentum('''
                if "velocity" not in self.state[p]:
                    self.state[p]["velocity"] = torch.zeros_like(p)
                m = self.state[p]["velocity"]
                m.mul_(beta).add_(g)
                p.sub_(lr * m)
'''), "test_momentum_sgd"),
    wrong("AdaGrad accumulating gradients instead of squared gradients", "adagrad", _adagrad('''
                s.add_(g)
                p.sub_(group["lr"] * g / (s.abs().sqrt() + group["eps"]))
'''), "test_adagrad"),
    wrong("RMSProp with alpha and 1 - alpha swapped", "rmsprop", _rmsprop('''
                s.mul_(1 - alpha).addcmul_(g, g, value=alpha)
                p.addcdiv_(g, s.sqrt() + eps, value=-lr)
'''), "test_rmsprop"),
    wrong("AdamW applying decay through the gradient (Adam + l2)", "adamw", _adamw('''
                g = g + wd * p
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
                p.sub_(lr * m_hat / (v_hat.sqrt() + eps))
'''), "test_adamw"),
    wrong("state shared across parameters (one momentum buffer on self)", "momentum_sgd", _momentum('''
                if getattr(self, "velocity", None) is None or self.velocity.shape != p.shape:
                    self.velocity = torch.zeros_like(p)
                self.velocity = beta * self.velocity + g
                step = g + beta * self.velocity if group["nesterov"] else self.velocity
                p.sub_(lr * step)
'''), "test_momentum_sgd"),
    wrong("adam_first_step returning the step's size (positive sign)", "adam_first_step", _edit(
        "adam_first_step", ("return -lr * m", "return lr * m")), "test_adam_first_step"),
    wrong("adam_first_step with eps inside the square root", "adam_first_step", _edit(
        "adam_first_step", ("(v.sqrt() + eps)", "(v + eps).sqrt()")), "test_adam_first_step"),
    wrong("adam_first_step without the square root on 1 - beta2", "adam_first_step", _first_step('''
    beta1, beta2 = betas
    if bias_correction:
        return -lr * grad / (grad.abs() + eps)
    return -lr * (1 - beta1) * grad / ((1 - beta2) * grad.abs() + eps)'''), "test_adam_first_step"),
    wrong("adam_first_step correcting m only", "adam_first_step", _edit(
        "adam_first_step", ("m, v = m / (1 - beta1), v / (1 - beta2)", "m = m / (1 - beta1)")),
          "test_adam_first_step"),
    wrong("adam_first_step correcting v only", "adam_first_step", _edit(
        "adam_first_step", ("m, v = m / (1 - beta1), v / (1 - beta2)", "v = v / (1 - beta2)")),
          "test_adam_first_step"),
    wrong("adam_first_step with the correction factors inverted", "adam_first_step", _edit(
        "adam_first_step", ("m, v = m / (1 - beta1), v / (1 - beta2)",
                            "m, v = m * (1 - beta1), v * (1 - beta2)")), "test_adam_first_step"),
    wrong("adam_first_step ignoring bias_correction (always corrected)", "adam_first_step",
          _first_step("    return -lr * grad / (grad.abs() + eps)"), "test_adam_first_step"),
    wrong("adam_first_step never correcting", "adam_first_step", _edit(
        "adam_first_step", ("    if bias_correction:\n        m, v = m / (1 - beta1), v / (1 - beta2)\n",
                            "")),
          "test_adam_first_step"),
    wrong("adam_first_step without the bias correction by default", "adam_first_step", _edit(
        "adam_first_step", ("bias_correction: bool = True", "bias_correction: bool = False")),
          "test_adam_first_step"),
    wrong("adam_first_step computing in float32", "adam_first_step", _first_step('''
    g = grad.float()
    beta1, beta2 = betas
    m, v = (1 - beta1) * g, (1 - beta2) * g * g
    if bias_correction:
        m, v = m / (1 - beta1), v / (1 - beta2)
    return (-lr * m / (v.sqrt() + eps)).to(grad.dtype)'''), "test_adam_first_step"),
    wrong("adam_first_step with its betas as a float32 tensor", "adam_first_step", _edit(
        "adam_first_step", ("beta1, beta2 = betas", "beta1, beta2 = torch.tensor(betas)")),
          "test_adam_first_step"),
    wrong("adam_first_step scaling the corrected change, eps included", "adam_first_step", _first_step('''
    beta1, beta2 = betas
    change = -lr * grad / (grad.abs() + eps)
    return change if bias_correction else change * (1 - beta1) / (1 - beta2) ** 0.5'''),
          "test_adam_first_step"),
    wrong("adam_first_step scaling grad in place", "adam_first_step", _edit(
        "adam_first_step", ("m = (1 - beta1) * grad\n    v = (1 - beta2) * grad * grad",
                            "v = (1 - beta2) * grad * grad\n    m = grad.mul_(1 - beta1)")),
          "test_adam_first_step"),
    wrong("adam_first_step taking one step of torch.optim.Adam", "adam_first_step",
          _first_step(_FIRST_STEP_BY_OPTIMIZER.format(optimizer="torch.optim.Adam")), "test_adam_first_step"),
    wrong("adam_first_step taking one step of the notebook's Adam", "adam_first_step",
          _first_step(_FIRST_STEP_BY_OPTIMIZER.format(optimizer="Adam")), "test_adam_first_step"),
    wrong("prune_smallest pruning each layer separately", "prune_smallest", _PRUNE_PER_LAYER,
          "test_prune_smallest"),
    wrong("momentum in the book's form (learning rate inside the velocity)", "momentum_sgd", _momentum('''
                if "velocity" not in self.state[p]:
                    self.state[p]["velocity"] = torch.zeros_like(p)
                v = self.state[p]["velocity"]
                v.mul_(beta).sub_(lr * g)
                if group["nesterov"]:
                    p.add_(beta * v - lr * g)
                else:
                    p.add_(v)
'''), "test_momentum_sgd"),
    wrong("MomentumSGD subclassing torch.optim.SGD", "momentum_sgd", '''
class MomentumSGD(torch.optim.SGD):
    def __init__(self, params, lr, momentum=0.9, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
''', "test_momentum_sgd"),
    wrong("AdaGrad with eps inside the square root", "adagrad", _adagrad('''
                s.addcmul_(g, g)
                p.sub_(group["lr"] * g / (s + group["eps"]).sqrt())
'''), "test_adagrad"),
    wrong("RMSProp reading the learning rate saved in __init__", "rmsprop", _rmsprop('''
                s.mul_(alpha).addcmul_(g, g, value=1 - alpha)
                p.addcdiv_(g, s.sqrt() + eps, value=-lr)
''', init_extra="        self.lr = lr\n", lr="self.lr"), "test_rmsprop"),
    wrong("Adam delegating to torch.optim.Adam", "adam", '''
class Adam(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        params = list(params)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))
        self.inner = torch.optim.Adam(params, lr=lr, betas=betas, eps=eps)

    @torch.no_grad()
    def step(self, closure=None):
        return self.inner.step(closure)
''', "test_adam"),
    wrong("AdaMax with eps added after the max", "adamax", _adamax('''
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                torch.maximum(u * beta2, g.abs(), out=u)
                p.addcdiv_(m, u + group["eps"], value=-group["lr"] / (1 - beta1 ** t))
'''), "test_adamax"),
    wrong("AdaMax ignoring the closure", "adamax", _adamax('''
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                torch.maximum(u.mul_(beta2), g.abs() + group["eps"], out=u)
                p.addcdiv_(m, u, value=-group["lr"] / (1 - beta1 ** t))
''', closure="        loss = None\n"), "test_adamax"),
    wrong("NAdam with a constant momentum (no mu schedule)", "nadam", _nadam('''
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                m_hat = (beta1 * m / (1 - beta1 ** (t + 1)) + (1 - beta1) * g / (1 - beta1 ** t))
                v_hat = v / (1 - beta2 ** t)
                p.sub_(lr * m_hat / (v_hat.sqrt() + eps))
'''), "test_nadam"),
    wrong("NAdam with a bias-corrected m", "nadam", _nadam('''
                mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
                mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
                state["mu_product"] *= mu
                mu_product = state["mu_product"]
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denom = (v / (1 - beta2 ** t)).sqrt() + eps
                m_hat = m / (1 - beta1 ** t)
                p.sub_(lr * (1 - mu) / (1 - mu_product) * g / denom)
                p.sub_(lr * mu_next / (1 - mu_product * mu_next) * m_hat / denom)
'''), "test_nadam"),
    wrong("AdamW keeping its state in a dict on self", "adamw", '''
class AdamW(torch.optim.Optimizer):
''' + _ADAMW_INIT + '''        self.moments = {}

    @torch.no_grad()
    def step(self, closure=None):
''' + _CLOSURE + '''
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p not in self.moments:
                    self.moments[p] = [0, torch.zeros_like(p), torch.zeros_like(p)]
                entry = self.moments[p]
                entry[0] += 1
                t, m, v = entry
                p.mul_(1 - group["lr"] * group["weight_decay"])
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                denom = (v / (1 - beta2 ** t)).sqrt() + group["eps"]
                p.addcdiv_(m / (1 - beta1 ** t), denom, value=-group["lr"])
        return loss
''', "test_adamw"),
    wrong("prune_smallest counting biases in the sparsity", "prune_smallest", '''
def prune_smallest(model, amount):
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    prune.global_unstructured([(m, "weight") for m in linears], pruning_method=prune.L1Unstructured,
                              amount=amount)
    zeros = sum((p == 0).sum().item() for m in linears for p in (m.weight, m.bias))
    return zeros / sum(m.weight.numel() + m.bias.numel() for m in linears)
''', "test_prune_smallest"),
    wrong("prune_smallest pruning every module that has a weight", "prune_smallest", '''
def prune_smallest(model, amount):
    modules = [m for m in model.modules() if isinstance(getattr(m, "weight", None), torch.Tensor)]
    prune.global_unstructured([(m, "weight") for m in modules], pruning_method=prune.L1Unstructured,
                              amount=amount)
    zeros = sum((m.weight == 0).sum().item() for m in modules)
    return zeros / sum(m.weight.numel() for m in modules)
''', "test_prune_smallest"),
    # Contracts. Hyperparameters read from each param group at every step:
    wrong("MomentumSGD reading momentum and nesterov from self.defaults", "momentum_sgd", _edit(
        "momentum_sgd", ('beta = group["momentum"]', 'beta = self.defaults["momentum"]'),
        ('if group["nesterov"]', 'if self.defaults["nesterov"]')), "test_momentum_sgd"),
    wrong("MomentumSGD reading nesterov from self.defaults", "momentum_sgd", _edit(
        "momentum_sgd", ('if group["nesterov"]', 'if self.defaults["nesterov"]')), "test_momentum_sgd"),
    wrong("MomentumSGD reading the weight_decay saved in __init__", "momentum_sgd", _edit(
        "momentum_sgd", ("        super().__init__(params, defaults)\n",
                         "        super().__init__(params, defaults)\n"
                         "        self.weight_decay = weight_decay\n"),
        ('if group["weight_decay"] != 0:', "if self.weight_decay != 0:"),
        ('grad = grad.add(p, alpha=group["weight_decay"])', "grad = grad.add(p, alpha=self.weight_decay)")),
          "test_momentum_sgd"),
    wrong("AdaGrad reading eps from self.defaults", "adagrad", _edit(
        "adagrad", ('s.sqrt().add_(group["eps"])', 's.sqrt().add_(self.defaults["eps"])')),
          "test_adagrad"),
    wrong("RMSProp reading alpha from self.defaults", "rmsprop", _edit(
        "rmsprop", ('alpha = group["alpha"]', 'alpha = self.defaults["alpha"]')), "test_rmsprop"),
    wrong("Adam reading betas from self.defaults", "adam", _edit(
        "adam", ('beta1, beta2 = group["betas"]', 'beta1, beta2 = self.defaults["betas"]')),
          "test_adam"),
    wrong("AdaMax reading betas from the first param group only", "adamax", _edit(
        "adamax", ('beta1, beta2 = group["betas"]', 'beta1, beta2 = self.param_groups[0]["betas"]')),
          "test_adamax"),
    wrong("NAdam keeping the betas of its first step in the state", "nadam", _edit(
        "nadam", ('                    state["mu_product"] = 1.0\n',
                  '                    state["mu_product"] = 1.0\n'
                  '                    state["betas"] = group["betas"]\n'),
        ('                t, m, v = state["step"]',
         '                beta1, beta2 = state["betas"]\n'
         '                t, m, v = state["step"]')), "test_nadam"),
    wrong("NAdam reading momentum_decay from self.defaults", "nadam", _edit(
        "nadam", ('psi = group["lr"], group["momentum_decay"]',
                  'psi = group["lr"], self.defaults["momentum_decay"]')), "test_nadam"),
    wrong("AdamW reading weight_decay from self.defaults", "adamw", _edit(
        "adamw", ('group["lr"] * group["weight_decay"]', 'group["lr"] * self.defaults["weight_decay"]')),
          "test_adamw"),
    wrong("AdamW reading the eps saved in __init__", "adamw", _edit(
        "adamw", ("        super().__init__(params, defaults)\n",
                  "        super().__init__(params, defaults)\n        self.eps = eps\n"),
        ('v_hat.sqrt().add_(group["eps"])', "v_hat.sqrt().add_(self.eps)")), "test_adamw"),
    # The state built like the parameter (dtype and device):
    wrong("Adam building its state with torch.zeros(p.shape) (float32 for a float64 parameter)", "adam",
          _edit("adam", ('state["exp_avg"] = torch.zeros_like(p)', 'state["exp_avg"] = torch.zeros(p.shape)'),
                ('state["exp_avg_sq"] = torch.zeros_like(p)', 'state["exp_avg_sq"] = torch.zeros(p.shape)')),
          "test_adam"),
    wrong("RMSProp building its state with torch.zeros(p.size())", "rmsprop", _edit(
        "rmsprop", ('state["square_avg"] = torch.zeros_like(p)',
                    'state["square_avg"] = torch.zeros(p.size())')),
          "test_rmsprop"),
    wrong("MomentumSGD building its buffer with dtype= but no device=", "momentum_sgd", _edit(
        "momentum_sgd", ('state["momentum_buffer"] = torch.zeros_like(p)',
                         'state["momentum_buffer"] = torch.zeros(p.shape, dtype=p.dtype)')),
          "test_momentum_sgd"),
    wrong("AdaMax building its state on the CPU", "adamax", _edit(
        "adamax", ('state["exp_avg"] = torch.zeros_like(p)',
                   'state["exp_avg"] = torch.zeros(p.shape, dtype=p.dtype, device="cpu")'),
        ('state["exp_inf"] = torch.zeros_like(p)',
         'state["exp_inf"] = torch.zeros(p.shape, dtype=p.dtype, device="cpu")')), "test_adamax"),
    wrong("RMSProp starting its average out of place from a CPU tensor", "rmsprop", _edit(
        "rmsprop", ('                if "square_avg" not in state:\n'
                    '                    state["square_avg"] = torch.zeros_like(p)\n'
                    '                s = state["square_avg"]\n'
                    '                s.mul_(alpha).addcmul_(p.grad, p.grad, value=1 - alpha)\n',
                    '                zeros = torch.zeros(p.shape, dtype=p.dtype)\n'
                    '                s = state.get("square_avg", zeros) * alpha + (1 - alpha) * p.grad**2\n'),
        ('value=-group["lr"])', 'value=-group["lr"])\n                state["square_avg"] = s')),
          "test_rmsprop"),
    # The caller's .grad left as backward() left it:
    wrong("MomentumSGD writing weight decay into p.grad", "momentum_sgd", _edit(
        "momentum_sgd", ('grad = grad.add(p, alpha=group["weight_decay"])',
                         'grad.add_(p, alpha=group["weight_decay"])')), "test_momentum_sgd"),
    wrong("RMSProp dividing p.grad in place", "rmsprop", _edit(
        "rmsprop", ('p.addcdiv_(p.grad, s.sqrt().add_(group["eps"]), value=-group["lr"])',
                    'p.add_(p.grad.div_(s.sqrt().add_(group["eps"])), alpha=-group["lr"])')),
          "test_rmsprop"),
    wrong("AdamW clearing p.grad at the end of its step", "adamw", _edit(
        "adamw", ('p.addcdiv_(m_hat, v_hat.sqrt().add_(group["eps"]), value=-group["lr"])',
                  'p.addcdiv_(m_hat, v_hat.sqrt().add_(group["eps"]), value=-group["lr"])\n'
                  '                p.grad = None')), "test_adamw"),
    # Parameters without a gradient skipped:
    wrong("MomentumSGD treating a missing gradient as zero", "momentum_sgd", _edit(
        "momentum_sgd", ("                if p.grad is None:\n                    continue\n"
                         "                grad = p.grad\n",
                         "                grad = p.grad if p.grad is not None else torch.zeros_like(p)\n")),
          "test_momentum_sgd"),
    wrong("Adam moving frozen parameters with its momentum (a missing gradient as zero)", "adam", _edit(
        "adam", ("                if p.grad is None:\n                    continue\n", ""),
        ("m.mul_(beta1).add_(p.grad, alpha=1 - beta1)\n"
         "                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)",
         "g = p.grad if p.grad is not None else torch.zeros_like(p)\n"
         "                m.mul_(beta1).add_(g, alpha=1 - beta1)\n"
         "                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)")), "test_adam"),
    # Arguments at the edge of their range: 0 is valid where only a negative value is not.
    wrong("MomentumSGD rejecting a learning rate of 0 (lr <= 0)", "momentum_sgd", _edit(
        "momentum_sgd", ("if lr < 0.0:", "if lr <= 0.0:")), "test_momentum_sgd"),
    wrong("AdaGrad rejecting eps = 0", "adagrad", _edit("adagrad", ("if eps < 0.0:", "if eps <= 0.0:")),
          "test_adagrad"),
    wrong("RMSProp accepting alpha = 1 (alpha <= 1)", "rmsprop", _edit(
        "rmsprop", ("if not 0.0 <= alpha < 1.0:", "if not 0.0 <= alpha <= 1.0:")), "test_rmsprop"),
    wrong("Adam rejecting beta1 = 0 (0 < beta1)", "adam", _edit(
        "adam", ("0.0 <= betas[0] < 1.0", "0.0 < betas[0] < 1.0")), "test_adam"),
    wrong("AdaMax accepting beta2 = 1 (beta2 <= 1)", "adamax", _edit(
        "adamax", ("0.0 <= betas[1] < 1.0", "0.0 <= betas[1] <= 1.0")), "test_adamax"),
    wrong("AdamW rejecting weight_decay = 0", "adamw", _edit(
        "adamw", ("if weight_decay < 0.0:", "if weight_decay <= 0.0:")), "test_adamw"),
    wrong("prune_smallest rejecting the fractions 0 and 1", "prune_smallest", _edit(
        "prune_smallest", ("if not 0.0 <= amount <= 1.0:", "if not 0.0 < amount < 1.0:")),
          "test_prune_smallest"),
    wrong("Q1 answered b", "q1_momentum_near_one", 'Q1 = "b"', "test_q1_momentum_near_one"),
    wrong("Q2 answered with beta itself", "q2_terminal_velocity", "Q2 = 0.9", "test_q2_terminal_velocity"),
    wrong("Q3 answered with SGD's step", "q3_adam_first_step", "Q3 = 0.001 * 0.02",
          "test_q3_adam_first_step"),
    wrong("Q5 answered c", "q5_decoupled_decay", 'Q5 = "c"', "test_q5_decoupled_decay"),
    wrong("Q6 answered without momentum (two steps of 0.1)", "q6_momentum_two_steps", "Q6 = 0.2",
          "test_q6_momentum_two_steps"),
    wrong("Q6 answered with the second step only", "q6_momentum_two_steps", "Q6 = 0.19",
          "test_q6_momentum_two_steps"),
]

ALTERNATIVES = [
    right("MomentumSGD with PyTorch's first-step clone and out-of-place updates", "momentum_sgd", '''
class MomentumSGD(torch.optim.Optimizer):
    def __init__(self, params, lr, momentum=0.9, nesterov=False, weight_decay=0.0):
        for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
            if value < 0:
                raise ValueError(f"{name} must be non-negative")
        if nesterov and momentum == 0:
            raise ValueError("Nesterov needs a momentum")
        super().__init__(params, {"lr": lr, "momentum": momentum, "nesterov": nesterov,
                                  "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = p.grad
                if group["weight_decay"]:
                    d_p = d_p + group["weight_decay"] * p
                state = self.state[p]
                if "momentum_buffer" in state:
                    buf = group["momentum"] * state["momentum_buffer"] + d_p
                else:
                    buf = d_p.clone()
                state["momentum_buffer"] = buf
                if group["nesterov"]:
                    d_p = d_p + group["momentum"] * buf
                else:
                    d_p = buf
                p.copy_(p - group["lr"] * d_p)
        return loss
'''),
    right("MomentumSGD vectorised with torch._foreach ops", "momentum_sgd", '''
class MomentumSGD(torch.optim.Optimizer):
''' + _MOMENTUM_INIT + '''
    @torch.no_grad()
    def step(self, closure=None):
''' + _CLOSURE + '''
        for group in self.param_groups:
            beta, lr = group["momentum"], group["lr"]
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = torch._foreach_add([p.grad for p in params], params, alpha=group["weight_decay"])
            for p in params:
                self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
            bufs = [self.state[p]["momentum_buffer"] for p in params]
            torch._foreach_mul_(bufs, beta)
            torch._foreach_add_(bufs, grads)
            steps = torch._foreach_add(grads, bufs, alpha=beta) if group["nesterov"] else bufs
            torch._foreach_add_(params, steps, alpha=-lr)
        return loss
'''),
    right("AdaGrad with out-of-place arithmetic", "adagrad", _adagrad('''
                s += g * g
                p -= group["lr"] * g / (torch.sqrt(s) + group["eps"])
''')),
    right("RMSProp with lerp", "rmsprop", _rmsprop('''
                s.lerp_(g * g, 1 - alpha)
                p.sub_(lr * g / (s.sqrt() + eps))
''')),
    right("Adam arranged as PyTorch does (step size and corrected denominator)", "adam", _adam('''
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                step_size = group["lr"] / (1 - beta1 ** t)
                denom = v.sqrt() / math.sqrt(1 - beta2 ** t) + group["eps"]
                p.addcdiv_(m, denom, value=-step_size)
''')),
    right("Adam with a tensor step count and out-of-place moments", "adam", _adam('''
                state["m"] = beta1 * m + (1 - beta1) * g
                state["v"] = beta2 * v + (1 - beta2) * g ** 2
                step_t = torch.tensor(float(t))
                m_hat = state["m"] / (1 - beta1 ** step_t)
                v_hat = state["v"] / (1 - beta2 ** step_t)
                p.data = p.data - group["lr"] * m_hat / (v_hat.sqrt() + group["eps"])
''')),
    right("AdaMax with torch.stack and amax", "adamax", _adamax('''
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                u.copy_(torch.stack([u * beta2, g.abs() + group["eps"]]).amax(dim=0))
                p.sub_(group["lr"] / (1 - beta1 ** t) * m / u)
''')),
    right("NAdam with mu_product as a tensor", "nadam", _nadam('''
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
                product = torch.as_tensor(state["mu_product"], dtype=torch.float64) * mu
                state["mu_product"] = product
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denom = torch.sqrt(v / (1 - beta2 ** t)) + eps
                update = (1 - mu) / (1 - product) * g + mu_next / (1 - product * mu_next) * m
                p.sub_(lr * update / denom)
''')),
    right("AdamW with the decay written as a subtraction", "adamw", _adamw('''
                p.sub_(lr * wd * p)
                m.lerp_(g, 1 - beta1)
                v.lerp_(g * g, 1 - beta2)
                p.sub_(lr / (1 - beta1 ** t) * m / (v.sqrt() / math.sqrt(1 - beta2 ** t) + eps))
''')),
    right("prune_smallest with a global threshold and custom masks", "prune_smallest", '''
def prune_smallest(model, amount):
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    magnitudes = torch.cat([m.weight.detach().abs().flatten() for m in linears])
    k = round(amount * magnitudes.numel())
    if k == 0:
        return 0.0
    threshold = magnitudes.kthvalue(k).values
    for m in linears:
        prune.custom_from_mask(m, "weight", mask=(m.weight.detach().abs() > threshold).float())
    pruned = sum(int((m.weight_mask == 0).sum()) for m in linears)
    return pruned / magnitudes.numel()
'''),
    right("prune_smallest reading the sparsity from the masks", "prune_smallest", '''
def prune_smallest(model, amount):
    targets = [(module, "weight") for _, module in model.named_modules() if type(module) is nn.Linear]
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=amount)
    masks = [module.weight_mask for module, _ in targets]
    return float(1 - sum(mask.sum() for mask in masks) / sum(mask.numel() for mask in masks))
'''),
    # Contracts kept another way: state built like the parameter, .grad untouched, no-grad skipped.
    right("Adam building its state with dtype= and device= given", "adam", _edit(
        "adam", ('state["exp_avg"] = torch.zeros_like(p)',
                 'state["exp_avg"] = torch.zeros(p.shape, dtype=p.dtype, device=p.device)'),
        ('state["exp_avg_sq"] = torch.zeros_like(p)',
         'state["exp_avg_sq"] = torch.zeros(p.size(), dtype=p.dtype, device=p.device)'))),
    right("MomentumSGD with p.new_zeros and weight decay added to a copy of p.grad", "momentum_sgd", _edit(
        "momentum_sgd", ("grad = p.grad\n", "grad = p.grad.clone()\n"),
        ('grad = grad.add(p, alpha=group["weight_decay"])', 'grad.add_(p, alpha=group["weight_decay"])'),
        ("torch.zeros_like(p)", "p.new_zeros(p.shape)"))),
    right("AdaGrad counting steps in a one-element float32 tensor", "adagrad", _edit(
        "adagrad", ('                    state["sum"] = torch.zeros_like(p)\n',
                    '                    state["sum"] = torch.zeros_like(p)\n'
                    '                    state["step"] = torch.tensor(0.0)\n'),
        ('                s = state["sum"]\n',
         '                state["step"] += 1\n                s = state["sum"]\n'))),
    right("RMSProp building its state from p.grad", "rmsprop", _edit(
        "rmsprop", ('state["square_avg"] = torch.zeros_like(p)',
                    'state["square_avg"] = torch.zeros_like(p.grad)'))),
    right("Adam with every state built in __init__ and hyperparameters read per parameter", "adam", '''
class Adam(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError("invalid hyperparameter")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {"step": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)}

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                beta1, beta2 = group["betas"]
                state = self.state[p]
                if "m" not in state:  # a state_dict loaded from elsewhere
                    state.update(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                state["step"] += 1
                t, m, v = state["step"], state["m"], state["v"]
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                denom = (v / (1 - beta2 ** t)).sqrt() + group["eps"]
                p.sub_(group["lr"] * (m / (1 - beta1 ** t)) / denom)
        return loss
'''),
    right("NAdam on the parameters that have a gradient, hyperparameters from a copy of the group",
          "nadam", _nadam_filtered()),
    right("adam_first_step through m-hat and v-hat at t = 1", "adam_first_step", _first_step('''
    beta1, beta2 = betas
    t = 1
    m = beta1 * torch.zeros_like(grad) + (1 - beta1) * grad
    v = beta2 * torch.zeros_like(grad) + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t) if bias_correction else m
    v_hat = v / (1 - beta2**t) if bias_correction else v
    return -lr * m_hat / (torch.sqrt(v_hat) + eps)''')),
    right("adam_first_step simplified, with math.sqrt", "adam_first_step", _first_step('''
    beta1, beta2 = betas
    if bias_correction:
        return -lr * grad / (grad.abs() + eps)
    return -lr * (1 - beta1) * grad / (math.sqrt(1 - beta2) * grad.abs() + eps)''')),
    right("adam_first_step as the corrected change times a factor, eps rescaled", "adam_first_step",
          _first_step('''
    beta1, beta2 = betas
    root = (1 - beta2) ** 0.5
    if bias_correction:
        factor, eps_seen = 1.0, eps
    else:
        factor, eps_seen = (1 - beta1) / root, eps / root
    return -lr * factor * grad / (grad.abs() + eps_seen)''')),
    right("adam_first_step with torch.sign", "adam_first_step", _first_step('''
    beta1, beta2 = betas
    size = grad.abs()
    if not bias_correction:
        return -lr * (1 - beta1) * torch.sign(grad) * size / ((1 - beta2) ** 0.5 * size + eps)
    return -lr * torch.sign(grad) * size / (size + eps)''')),
    right("adam_first_step in float64, cast back to grad's dtype", "adam_first_step", _first_step('''
    g = grad.double()
    beta1, beta2 = betas
    m, v = (1 - beta1) * g, (1 - beta2) * g * g
    if bias_correction:
        m, v = m / (1 - beta1), v / (1 - beta2)
    return (-lr * m / (v.sqrt() + eps)).to(grad.dtype)''', signature="bias_correction: bool = True")),
    right("Q2 as a float", "q2_terminal_velocity", "Q2 = 1 / (1 - 0.9)"),
    right("Q3 in scientific notation", "q3_adam_first_step", "Q3 = 1e-3"),
    right("Q6 as a decimal", "q6_momentum_two_steps", "Q6 = 0.29"),
]
