"""Known answers to lab 08: mistakes its tests must catch, and correct answers written differently."""

from autograder.variants import Variant, edited, right, wrong


def _stopping_mistake(name: str, *changes: tuple[str, str]) -> Variant:
    """A mistake in the reference EarlyStopping, written as the edit that makes it."""
    source = edited("lab08_regularization", "early_stopping", *changes)
    return wrong(name, "early_stopping", source, "test_early_stopping")


def _mistake(name: str, cell: str, fails: str, *changes: tuple[str, str]) -> Variant:
    """A mistake in the reference `cell`, written as the edit that makes it."""
    return wrong(name, cell, edited("lab08_regularization", cell, *changes), fails)


# Mistakes that break a contract the visible tests do not show: nested models, dtypes,
# side effects on the caller's tensors and models, edge inputs (a row of zeros, no bias).
CONTRACT_MISTAKES = [
    _mistake("ℓ1 penalty over model.children() only (nested layers missed)", "l1_penalty",
             "test_l1_penalty", ("model.modules()", "model.children()")),
    _mistake("ℓ2 penalty that backpropagates itself into p.grad", "l2_penalty", "test_l2_penalty",
             ("    return total\n", "    total.backward(retain_graph=True)\n    return total\n")),
    _mistake("ℓ2 penalty summed in place into a float32 zero (float64 becomes float32)",
             "l2_penalty", "test_l2_penalty",
             ("total = total + module.weight.pow(2).sum()", "total += module.weight.pow(2).sum()")),
    _mistake("decay groups over model.children() only (nested parameters in no group)",
             "decay_param_groups", "test_decay_param_groups", ("model.modules()", "model.children()")),
    wrong("decay groups that classify each top-level child's parameters by that child",
          "decay_param_groups", '''
def decay_param_groups(model, weight_decay):
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)
    decay, no_decay = [], []
    for child in model.children():
        for name, parameter in child.named_parameters():
            if isinstance(child, norms) or name == "bias":
                no_decay.append(parameter)
            else:
                decay.append(parameter)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]
''', "test_decay_param_groups"),
    wrong("decay groups holding the bias of every layer, None for bias=False", "decay_param_groups", '''
def decay_param_groups(model, weight_decay):
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)
    layers = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
    decay, no_decay = [], []
    for module in model.modules():
        if isinstance(module, layers):
            decay.append(module.weight)
            no_decay.append(module.bias)
        elif isinstance(module, norms):
            no_decay.extend(module.parameters(recurse=False))
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]
''', "test_decay_param_groups"),
    _mistake("decay groups that add the decay into p.grad", "decay_param_groups",
             "test_decay_param_groups",
             ("                decay.append(parameter)\n",
              "                decay.append(parameter)\n"
              "                if parameter.grad is not None:\n"
              "                    parameter.grad.add_(parameter.detach(), alpha=weight_decay)\n")),
    _mistake("dropout that zeroes its input in place when p = 1", "dropout", "test_dropout",
             ("return torch.zeros_like(x)", "return x.zero_()")),
    _mistake("dropout with the mask scaled on its own (bfloat16 becomes float32)", "dropout",
             "test_dropout", ("return x * keep / (1.0 - p)", "return x * (keep / (1.0 - p))")),
    wrong("McDropout that overrides eval() (a parent's .eval() still switches it off)",
          "mc_dropout", '''
class McDropout(nn.Dropout):
    def eval(self):
        return self  # stay in training mode
''', "test_mc_dropout"),
    wrong("McDropout with a float32 mask (bfloat16 becomes float32)", "mc_dropout", '''
class McDropout(nn.Dropout):
    def forward(self, input):
        mask = (torch.rand(input.shape) >= self.p).float()
        return input * mask / (1 - self.p)
''', "test_mc_dropout"),
    _mistake("mc_predict switching on the dropout layers among model.children() only",
             "mc_predict", "test_mc_predict",
             ("for module in model.modules():", "for module in model.children():")),
    wrong("mc_predict filling a float32 tensor (float64 becomes float32)", "mc_predict", '''
def mc_predict(model, X, n_samples=100):
    was_training = model.training
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.train()
    probas = None
    with torch.no_grad():
        for index in range(n_samples):
            sample = torch.softmax(model(X), dim=-1)
            if probas is None:
                probas = torch.zeros(n_samples, *sample.shape)
            probas[index] = sample
    model.train(was_training)
    return probas.mean(dim=0), probas.std(dim=0, correction=0)
''', "test_mc_predict"),
    _mistake("mc_predict restoring only the top module's flag (model.training = ...)", "mc_predict",
             "test_mc_predict", ("model.train(was_training)", "model.training = was_training")),
    _mistake("max-norm without eps: a row of zeros becomes NaN", "apply_max_norm", "test_apply_max_norm",
             ("/ (norms + eps)", "/ norms")),
    _mistake("max-norm over model.children() only (nested Linear layers missed)", "apply_max_norm",
             "test_apply_max_norm", ("model.modules()", "model.children()")),
]


def _function_mistake(name: str, *changes: tuple[str, str]) -> Variant:
    """A mistake in the reference DropoutFunction, written as the edit that makes it."""
    return _mistake(name, "dropout_function", "test_dropout_function", *changes)


def _restored_mistake(name: str, *changes: tuple[str, str]) -> Variant:
    """A mistake in the reference restored_epoch, written as the edit that makes it."""
    return _mistake(name, "restored_epoch", "test_restored_epoch", *changes)


FUNCTION_MISTAKES = [
    _function_mistake("DropoutFunction backward without the 1/(1-p) scale",
                      ("return grad_out * keep / (1.0 - ctx.p), None", "return grad_out * keep, None")),
    _function_mistake("DropoutFunction backward returning grad_out unmasked",
                      ("return grad_out * keep / (1.0 - ctx.p), None",
                       "return grad_out / (1.0 - ctx.p), None")),
    _function_mistake("DropoutFunction backward with the wrong sign",
                      ("return grad_out * keep / (1.0 - ctx.p), None",
                       "return -grad_out * keep / (1.0 - ctx.p), None")),
    _function_mistake("DropoutFunction backward returning one value instead of two",
                      ("return grad_out * keep / (1.0 - ctx.p), None",
                       "return grad_out * keep / (1.0 - ctx.p)")),
    _function_mistake("DropoutFunction backward dividing by 1 - p = 0 when p = 1 (NaN)",
                      ("        if ctx.p == 1.0:\n            return torch.zeros_like(grad_out), None\n",
                       "")),
    _function_mistake("DropoutFunction without the ValueError",
                      ("        if not 0.0 <= p <= 1.0:\n            raise ValueError(f\"The dropout rate p "
                       "must be between 0 and 1, got {p}.\")\n", "")),
    _function_mistake("DropoutFunction forward that masks x in place",
                      ("return x * keep / (1.0 - p)", "return x.mul_(keep).div_(1.0 - p)")),
    _function_mistake("DropoutFunction backward that scales grad_out in place",
                      ("return grad_out * keep / (1.0 - ctx.p), None",
                       "return grad_out.mul_(keep).div_(1.0 - ctx.p), None")),
    wrong("DropoutFunction backward drawing a new mask", "dropout_function", '''
class DropoutFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p):
        if not 0 <= p <= 1:
            raise ValueError(p)
        ctx.p = p
        if p == 1:
            return torch.zeros_like(x)
        return x * (torch.rand_like(x) >= p) / (1 - p)

    @staticmethod
    def backward(ctx, grad_out):
        if ctx.p == 1:
            return torch.zeros_like(grad_out), None
        return grad_out * (torch.rand_like(grad_out) >= ctx.p) / (1 - ctx.p), None
''', "test_dropout_function"),
    wrong("DropoutFunction with a float32 mask and scale (float64 rounded, bfloat16 becomes float32)",
          "dropout_function", '''
class DropoutFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p):
        if not 0 <= p <= 1:
            raise ValueError(p)
        mask = (torch.rand(x.shape) >= p).float() / (1 - p) if p < 1 else torch.zeros(x.shape)
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, grad_out):
        (mask,) = ctx.saved_tensors
        return grad_out * mask, None
''', "test_dropout_function"),
    wrong("DropoutFunction keeping its mask in a class attribute (the next call overwrites it)",
          "dropout_function", '''
class DropoutFunction(torch.autograd.Function):
    mask = None

    @staticmethod
    def forward(ctx, x, p):
        if not 0 <= p <= 1:
            raise ValueError(p)
        keep = (torch.rand_like(x) >= p).to(x.dtype)
        DropoutFunction.mask = keep / (1 - p) if p < 1 else keep
        return x * DropoutFunction.mask

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out * DropoutFunction.mask, None
''', "test_dropout_function"),
    wrong("DropoutFunction saving a shared mask buffer that the next call refills in place",
          "dropout_function", '''
BUFFERS = {}


class DropoutFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p):
        if not 0 <= p <= 1:
            raise ValueError(p)
        mask = BUFFERS.setdefault((x.shape, x.dtype), torch.empty_like(x))
        mask.bernoulli_(1 - p)  # reused: the next call overwrites this tensor
        ctx.mask, ctx.p = mask, p
        return x * mask / (1 - p) if p < 1 else torch.zeros_like(x)

    @staticmethod
    def backward(ctx, grad_out):
        if ctx.p == 1:
            return torch.zeros_like(grad_out), None
        return grad_out * ctx.mask / (1 - ctx.p), None
''', "test_dropout_function"),
    wrong("DropoutFunction recovering the mask from output != 0 (kept zeros get no gradient)",
          "dropout_function", '''
class DropoutFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p):
        if not 0 <= p <= 1:
            raise ValueError(p)
        out = x * (torch.rand_like(x) >= p) / (1 - p) if p < 1 else torch.zeros_like(x)
        ctx.save_for_backward(out)
        ctx.p = p
        return out

    @staticmethod
    def backward(ctx, grad_out):
        (out,) = ctx.saved_tensors
        if ctx.p == 1:
            return torch.zeros_like(grad_out), None
        return grad_out * (out != 0) / (1 - ctx.p), None
''', "test_dropout_function"),
    wrong("DropoutFunction backward that scales its saved mask in place (a second backward differs)",
          "dropout_function", '''
class DropoutFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p):
        if not 0 <= p <= 1:
            raise ValueError(p)
        ctx.mask = (torch.rand_like(x) >= p).to(x.dtype)
        ctx.p = p
        return x * ctx.mask / (1 - p) if p < 1 else torch.zeros_like(x)

    @staticmethod
    def backward(ctx, grad_out):
        if ctx.p == 1:
            return torch.zeros_like(grad_out), None
        ctx.mask /= 1 - ctx.p
        return grad_out * ctx.mask, None
''', "test_dropout_function"),
    wrong("DropoutFunction backward that asks autograd", "dropout_function", '''
class DropoutFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p):
        if not 0 <= p <= 1:
            raise ValueError(p)
        keep = torch.rand_like(x) >= p
        ctx.save_for_backward(x, keep)
        ctx.p = p
        return x * keep / (1 - p) if p < 1 else torch.zeros_like(x)

    @staticmethod
    def backward(ctx, grad_out):
        x, keep = ctx.saved_tensors
        with torch.enable_grad():
            leaf = x.detach().requires_grad_()
            out = leaf * keep / (1 - ctx.p) if ctx.p < 1 else leaf * keep
            return torch.autograd.grad(out, leaf, grad_out)[0], None
''', "test_dropout_function"),
    wrong("DropoutFunction built on F.dropout", "dropout_function", '''
class DropoutFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p):
        out = torch.nn.functional.dropout(x, p, training=True)
        ctx.save_for_backward(out != 0)
        ctx.p = p
        return out

    @staticmethod
    def backward(ctx, grad_out):
        (keep,) = ctx.saved_tensors
        return (grad_out * keep / (1 - ctx.p) if ctx.p < 1 else grad_out * 0), None
''', "test_dropout_function"),
]

FUNCTION_ALTERNATIVES = [
    right("DropoutFunction saving the scaled mask in x's dtype", "dropout_function", '''
class DropoutFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p):
        if p < 0 or p > 1:
            raise ValueError(f"p={p} is not a probability")
        if p == 1:
            scaled = torch.zeros_like(x)
        else:
            scaled = (torch.rand_like(x) >= p).to(x.dtype) / (1 - p)
        ctx.save_for_backward(scaled)
        return x * scaled

    @staticmethod
    def backward(ctx, grad_out):
        (scaled,) = ctx.saved_tensors
        return grad_out * scaled, None
'''),
    right("DropoutFunction with torch.bernoulli, torch.where and ctx.needs_input_grad",
          "dropout_function", '''
class DropoutFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p):
        if not (0 <= p <= 1):
            raise ValueError("dropout probability must be in [0, 1]")
        keep = torch.bernoulli(torch.full_like(x, 1 - p)).bool()
        ctx.mask, ctx.scale = keep, (0.0 if p == 1 else 1 / (1 - p))
        return torch.where(keep, x * ctx.scale, torch.zeros_like(x))

    @staticmethod
    def backward(ctx, grad_out):
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.where(ctx.mask, grad_out * ctx.scale, torch.zeros_like(grad_out))
        return grad_x, None
'''),
]

RESTORED_EPOCH_MISTAKES = [
    _restored_mistake("restored_epoch counting epochs from 0",
                      ("enumerate(metrics, start=1)", "enumerate(metrics)")),
    _restored_mistake("restored_epoch ignoring min_delta",
                      ("metric < best - min_delta", "metric < best"),
                      ("metric > best + min_delta", "metric > best")),
    _restored_mistake("restored_epoch letting a tie take the later epoch",
                      ("metric < best - min_delta", "metric <= best - min_delta"),
                      ("metric > best + min_delta", "metric >= best + min_delta")),
    _restored_mistake("restored_epoch ignoring mode='max'",
                      ('elif mode == "min":', "else:"),
                      ("        else:\n            improved = metric > best + min_delta\n", "")),
    _restored_mistake("restored_epoch subtracting min_delta in mode 'max' (wrong sign)",
                      ("metric > best + min_delta", "metric > best - min_delta")),
    _restored_mistake("restored_epoch stopping one epoch late (count > patience)",
                      (">= patience", "> patience")),
    _restored_mistake("restored_epoch returning the stopping epoch",
                      ("            break\n", "            return epoch\n")),
    _restored_mistake("restored_epoch without the ValueError for an empty history",
                      ('    if len(metrics) == 0:\n        raise ValueError("The history is empty: there is '
                       'no epoch to restore.")\n', "")),
    wrong("restored_epoch taking the best epoch of the whole history", "restored_epoch", '''
def restored_epoch(metrics, patience, min_delta=0.0, mode="min"):
    if mode not in ("min", "max") or len(metrics) == 0:
        raise ValueError(mode)
    values = list(metrics)
    best = min(values) if mode == "min" else max(values)
    return values.index(best) + 1
''', "test_restored_epoch"),
    wrong("restored_epoch counting a NaN as an improvement", "restored_epoch", '''
def restored_epoch(metrics, patience, min_delta=0.0, mode="min"):
    if mode not in ("min", "max") or len(metrics) == 0:
        raise ValueError(mode)
    sign = 1 if mode == "min" else -1
    best, best_epoch, waited = sign * metrics[0], 1, 0
    for epoch, metric in enumerate(metrics[1:], start=2):
        if not sign * metric >= best - min_delta:
            best, best_epoch, waited = sign * metric, epoch, 0
        else:
            waited += 1
        if waited >= patience:
            break
    return best_epoch
''', "test_restored_epoch"),
    wrong("restored_epoch comparing in a float32 tensor", "restored_epoch", '''
def restored_epoch(metrics, patience, min_delta=0.0, mode="min"):
    if mode not in ("min", "max") or len(metrics) == 0:
        raise ValueError(mode)
    values = torch.tensor(metrics) * (1.0 if mode == "min" else -1.0)
    best_epoch, waited = 1, 0
    for epoch in range(2, len(values) + 1):
        if values[epoch - 1] < values[best_epoch - 1] - min_delta:
            best_epoch, waited = epoch, 0
        else:
            waited += 1
        if waited >= patience:
            break
    return best_epoch
''', "test_restored_epoch"),
]

RESTORED_EPOCH_ALTERNATIVES = [
    right("restored_epoch with math.inf and a sign", "restored_epoch", '''
def restored_epoch(metrics, patience, min_delta=0.0, mode="min"):
    if mode == "min":
        sign = 1.0
    elif mode == "max":
        sign = -1.0
    else:
        raise ValueError("mode must be 'min' or 'max'")
    if not metrics:
        raise ValueError("empty history")
    best_score, best_epoch, counter = math.inf, None, 0
    for epoch, metric in enumerate(metrics, start=1):
        score = sign * float(metric)
        if score < best_score - min_delta:
            best_score, best_epoch, counter = score, epoch, 0
        else:
            counter += 1
            if counter >= patience:
                break
    return best_epoch
'''),
    right("restored_epoch replaying the lab's EarlyStopping", "restored_epoch", '''
def restored_epoch(metrics, patience, min_delta=0.0, mode="min"):
    if len(metrics) == 0:
        raise ValueError("nothing to replay")
    stopper = EarlyStopping(patience, min_delta, mode)
    model = nn.Linear(1, 1)
    chosen = None
    for epoch, metric in enumerate(metrics, start=1):
        saved = stopper.best_state
        stop = stopper.step(metric, model)
        if stopper.best_state is not saved:
            chosen = epoch
        if stop:
            break
    return chosen
'''),
    right("restored_epoch with a while loop over 0-based indices", "restored_epoch", '''
def restored_epoch(metrics, patience, min_delta=0.0, mode="min"):
    if mode not in {"min", "max"}:
        raise ValueError(mode)
    if len(metrics) < 1:
        raise ValueError("empty")
    better = (lambda a, b: a < b - min_delta) if mode == "min" else (lambda a, b: a > b + min_delta)
    best_index, waited, index = 0, 0, 1
    while index < len(metrics) and waited < patience:
        if better(metrics[index], metrics[best_index]):
            best_index, waited = index, 0
        else:
            waited += 1
        index += 1
    return best_index + 1
'''),
]


MISTAKES = [
    *CONTRACT_MISTAKES,
    wrong("ℓ1 penalty includes the biases", "l1_penalty", '''
def l1_penalty(model):
    total = torch.zeros(())
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            for parameter in module.parameters():
                total = total + parameter.abs().sum()
    return total
''', "test_l1_penalty"),
    wrong("ℓ2 penalty over every parameter, biases included", "l2_penalty", '''
def l2_penalty(model):
    return sum(parameter.pow(2).sum() for parameter in model.parameters())
''', "test_l2_penalty"),
    wrong("ℓ1 penalty chosen by the name 'weight' (normalization weights too)", "l1_penalty", '''
def l1_penalty(model):
    return sum(p.abs().sum() for name, p in model.named_parameters() if name.endswith("weight"))
''', "test_l1_penalty"),
    wrong("ℓ1 penalty computed as a Python number (not differentiable)", "l1_penalty", '''
def l1_penalty(model):
    total = 0.0
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            total += module.weight.abs().sum().item()
    return torch.tensor(total)
''', "test_l1_penalty"),
    wrong("ℓ2 penalty with a factor ½", "l2_penalty", '''
def l2_penalty(model):
    total = torch.zeros(())
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            total = total + 0.5 * module.weight.pow(2).sum()
    return total
''', "test_l2_penalty"),
    wrong("ℓ2 penalty as the norm instead of the sum of squares", "l2_penalty", '''
def l2_penalty(model):
    weights = [m.weight.flatten() for m in model.modules()
               if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))]
    return torch.cat(weights).norm()
''', "test_l2_penalty"),
    wrong("decay groups chosen by parameter name, so bn_out escapes", "decay_param_groups", '''
def decay_param_groups(model, weight_decay):
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if "bias" in name or "norm" in name:
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]
''', "test_decay_param_groups"),
    wrong("decay groups by names 'bn' and 'norm', so norm_proj loses its decay", "decay_param_groups", '''
def decay_param_groups(model, weight_decay):
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if name.endswith("bias") or any(key in name for key in ("bn", "norm", "gn", "ln")):
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]
''', "test_decay_param_groups"),
    wrong("decay groups that decay the biases", "decay_param_groups", '''
def decay_param_groups(model, weight_decay):
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)
    decay, no_decay = [], []
    for module in model.modules():
        target = no_decay if isinstance(module, norms) else decay
        target.extend(module.parameters(recurse=False))
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]
''', "test_decay_param_groups"),
    wrong("decay groups that exclude BatchNorm only", "decay_param_groups", '''
def decay_param_groups(model, weight_decay):
    decay, no_decay = [], []
    for module in model.modules():
        for name, parameter in module.named_parameters(recurse=False):
            if isinstance(module, nn.modules.batchnorm._BatchNorm) or name == "bias":
                no_decay.append(parameter)
            else:
                decay.append(parameter)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]
''', "test_decay_param_groups"),
    wrong("no-decay group without its own weight_decay", "decay_param_groups", '''
def decay_param_groups(model, weight_decay):
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)
    decay, no_decay = [], []
    for module in model.modules():
        for name, parameter in module.named_parameters(recurse=False):
            if isinstance(module, norms) or name == "bias":
                no_decay.append(parameter)
            else:
                decay.append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay}]
''', "test_decay_param_groups"),
    wrong("dropout without the 1/(1-p) scaling", "dropout", '''
def dropout(x, p, training):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x
    return x * (torch.rand_like(x) >= p)
''', "test_dropout"),
    wrong("dropout active in eval mode", "dropout", '''
def dropout(x, p, training):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    return x * (torch.rand_like(x) >= p) / (1 - p)
''', "test_dropout"),
    wrong("dropout that keeps each unit with probability p", "dropout", '''
def dropout(x, p, training):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    return x * (torch.rand_like(x) < p) / (1 - p)
''', "test_dropout"),
    wrong("dropout that returns NaN for p = 1", "dropout", '''
def dropout(x, p, training):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training:
        return x
    return x * (torch.rand_like(x) >= p) / (1 - p)
''', "test_dropout"),
    wrong("dropout without the ValueError", "dropout", '''
def dropout(x, p, training):
    if not training or p <= 0:
        return x
    if p >= 1:
        return torch.zeros_like(x)
    return x * (torch.rand_like(x) >= p) / (1 - p)
''', "test_dropout"),
    wrong("dropout through F.dropout", "dropout", '''
def dropout(x, p, training):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    return torch.nn.functional.dropout(x, p, training)
''', "test_dropout"),
    wrong("dropout with one mask shared by every row", "dropout", '''
def dropout(x, p, training):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape[1:]) >= p
    return x * keep / (1 - p)
''', "test_dropout"),
    wrong("McDropout that follows the module's mode", "mc_dropout", '''
class McDropout(nn.Dropout):
    def forward(self, input):
        return nn.functional.dropout(input, self.p, training=self.training)
''', "test_mc_dropout"),
    wrong("McDropout without the scaling", "mc_dropout", '''
class McDropout(nn.Dropout):
    def forward(self, input):
        return input * (torch.rand_like(input) >= self.p)
''', "test_mc_dropout"),
    wrong("mc_predict averaging logits before the softmax", "mc_predict", '''
def mc_predict(model, X, n_samples=100):
    was_training = model.training
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.train()
    with torch.no_grad():
        logits = torch.stack([model(X) for _ in range(n_samples)])
    model.train(was_training)
    return torch.softmax(logits.mean(dim=0), dim=-1), torch.softmax(logits, dim=-1).std(dim=0)
''', "test_mc_predict"),
    wrong("mc_predict leaving batch norm in training mode", "mc_predict", '''
def mc_predict(model, X, n_samples=100):
    was_training = model.training
    model.train()
    with torch.no_grad():
        probas = torch.stack([torch.softmax(model(X), dim=-1) for _ in range(n_samples)])
    model.train(was_training)
    return probas.mean(dim=0), probas.std(dim=0)
''', "test_mc_predict"),
    wrong("mc_predict leaving the dropout layers in training mode", "mc_predict", '''
def mc_predict(model, X, n_samples=100):
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.train()
    with torch.no_grad():
        probas = torch.stack([torch.softmax(model(X), dim=-1) for _ in range(n_samples)])
    return probas.mean(dim=0), probas.std(dim=0)
''', "test_mc_predict"),
    wrong("mc_predict with dropout left off", "mc_predict", '''
def mc_predict(model, X, n_samples=100):
    was_training = model.training
    model.eval()
    with torch.no_grad():
        probas = torch.stack([torch.softmax(model(X), dim=-1) for _ in range(n_samples)])
    model.train(was_training)
    return probas.mean(dim=0), probas.std(dim=0)
''', "test_mc_predict"),
    wrong("mc_predict activating nn.Dropout only (not AlphaDropout)", "mc_predict", '''
def mc_predict(model, X, n_samples=100):
    was_training = model.training
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.train()
    with torch.no_grad():
        probas = torch.stack([torch.softmax(model(X), dim=-1) for _ in range(n_samples)])
    model.train(was_training)
    return probas.mean(dim=0), probas.std(dim=0)
''', "test_mc_predict"),
    wrong("mc_predict ignoring n_samples", "mc_predict", '''
def mc_predict(model, X, n_samples=100):
    was_training = model.training
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.train()
    with torch.no_grad():
        probas = torch.stack([torch.softmax(model(X), dim=-1) for _ in range(100)])
    model.train(was_training)
    return probas.mean(dim=0), probas.std(dim=0)
''', "test_mc_predict"),
    wrong("mc_predict tracking gradients", "mc_predict", '''
def mc_predict(model, X, n_samples=100):
    was_training = model.training
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.train()
    probas = torch.stack([torch.softmax(model(X), dim=-1) for _ in range(n_samples)])
    model.train(was_training)
    return probas.mean(dim=0), probas.std(dim=0)
''', "test_mc_predict"),
    wrong("max-norm over the wrong dimension", "apply_max_norm", '''
def apply_max_norm_(model, max_norm=2.0, dim=1, eps=1e-8):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                norms = module.weight.norm(dim=0, keepdim=True)
                module.weight.mul_(norms.clamp(max=max_norm) / (norms + eps))
''', "test_apply_max_norm"),
    wrong("max-norm that rescales every row to max_norm", "apply_max_norm", '''
def apply_max_norm_(model, max_norm=2.0, dim=1, eps=1e-8):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                norms = module.weight.norm(dim=dim, keepdim=True)
                module.weight.mul_(max_norm / (norms + eps))
''', "test_apply_max_norm"),
    wrong("max-norm clipping each weight instead of each row's norm", "apply_max_norm", '''
def apply_max_norm_(model, max_norm=2.0, dim=1, eps=1e-8):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                module.weight.clamp_(-max_norm, max_norm)
''', "test_apply_max_norm"),
    wrong("max-norm on every weight tensor, convolutions included", "apply_max_norm", '''
def apply_max_norm_(model, max_norm=2.0, dim=1, eps=1e-8):
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("weight") and parameter.ndim >= 2:
                norms = parameter.norm(dim=dim, keepdim=True)
                parameter.mul_(norms.clamp(max=max_norm) / (norms + eps))
''', "test_apply_max_norm"),
    wrong("max-norm that replaces the weight parameters", "apply_max_norm", '''
def apply_max_norm_(model, max_norm=2.0, dim=1, eps=1e-8):
    for module in model.modules():
        if isinstance(module, nn.Linear):
            w = module.weight.detach()
            norms = w.norm(dim=dim, keepdim=True)
            module.weight = nn.Parameter(w * norms.clamp(max=max_norm) / (norms + eps))
''', "test_apply_max_norm"),
    _stopping_mistake("early stopping that counts an equal metric as an improvement in mode 'max'",
                      ("metric > self.best + self.min_delta", "metric >= self.best + self.min_delta")),
    _stopping_mistake("early stopping that subtracts min_delta in mode 'max'",
                      ("metric > self.best + self.min_delta", "metric > self.best - self.min_delta")),
    _stopping_mistake("early stopping whose restore before any step loads an empty state",
                      ("        if self.best_state is not None:\n            model.load_state_dict",
                       "        if True:\n            model.load_state_dict"),
                      ("self.best_state = None", "self.best_state = {}")),
    _mistake("MC predictions with a default of 10 samples", "mc_predict", "test_mc_predict",
             ("n_samples: int = 100", "n_samples: int = 10")),
    _mistake("max-norm dividing by (norm - eps): rows below eps flip their signs", "apply_max_norm",
             "test_apply_max_norm", ("(norms + eps)", "(norms - eps)")),
    _stopping_mistake("early stopping that restores the last weights (no deep copy)",
                      ("copy.deepcopy(model.state_dict())", "model.state_dict()")),
    wrong("early stopping that saves the parameters but not the buffers", "early_stopping", '''
class EarlyStopping:
    def __init__(self, patience, min_delta=0.0, mode="min"):
        if mode not in ("min", "max"):
            raise ValueError(mode)
        self.patience, self.min_delta, self.mode = patience, min_delta, mode
        self.best, self.saved, self.wait = None, None, 0

    def step(self, metric, model):
        sign = 1 if self.mode == "min" else -1
        if self.best is None or sign * metric < sign * self.best - self.min_delta:
            self.best, self.wait = metric, 0
            self.saved = [p.detach().clone() for p in model.parameters()]
        else:
            self.wait += 1
        return self.wait >= self.patience

    def restore(self, model):
        if self.saved is not None:
            with torch.no_grad():
                for parameter, value in zip(model.parameters(), self.saved):
                    parameter.copy_(value)
''', "test_early_stopping"),
    _stopping_mistake("early stopping one epoch late (count > patience)",
                      (">= self.patience", "> self.patience")),
    _stopping_mistake("early stopping that ignores mode='max'",
                      ('elif self.mode == "min":', "else:"),
                      ("        else:\n            improved = metric > self.best + self.min_delta\n", "")),
    _stopping_mistake("early stopping that ignores min_delta",
                      ("metric < self.best - self.min_delta", "metric < self.best"),
                      ("metric > self.best + self.min_delta", "metric > self.best")),
    wrong("Q1 answered: dropout slows inference", "q1_dropout_inference", 'Q1 = "b"',
          "test_q1_dropout_inference"),
    wrong("Q3 answered with the keep probability", "q3_dropout_scale", "Q3 = 0.8",
          "test_q3_dropout_scale"),
    wrong("Q4 answered without the factor 2", "q4_sgd_weight_decay", "Q4 = 5e-4",
          "test_q4_sgd_weight_decay"),
    wrong("F.dropout imported by name", "dropout", '''
from torch.nn.functional import dropout as library_dropout


def dropout(x, p, training):
    if not 0 <= p <= 1:
        raise ValueError(p)
    return library_dropout(x, p, training)
''', "test_dropout"),
    *FUNCTION_MISTAKES,
    *RESTORED_EPOCH_MISTAKES,
]

ALTERNATIVES = [
    right("ℓ1 penalty over tensors of two or more dimensions", "l1_penalty", '''
def l1_penalty(model):
    return sum(torch.linalg.vector_norm(p, 1) for p in model.parameters() if p.ndim >= 2)
'''),
    right("ℓ1 penalty from a list of weights and torch.stack", "l1_penalty", '''
def l1_penalty(model):
    kinds = (nn.Linear, nn.modules.conv._ConvNd)
    weights = [m.weight for m in model.modules() if isinstance(m, kinds)]
    return torch.stack([w.abs().sum() for w in weights]).sum()
'''),
    right("ℓ2 penalty as squared vector norms", "l2_penalty", '''
def l2_penalty(model):
    total = 0
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            total = total + torch.linalg.vector_norm(module.weight) ** 2
    return total
'''),
    right("ℓ2 penalty as w·w over named modules", "l2_penalty", '''
def l2_penalty(model):
    terms = [(m.weight * m.weight).sum() for _, m in model.named_modules()
             if type(m) in (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)]
    return torch.stack(terms).sum()
'''),
    right("decay groups by tensor rank", "decay_param_groups", '''
def decay_param_groups(model, weight_decay):
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]
'''),
    right("decay groups from sets of ids and one group per parameter", "decay_param_groups", '''
def decay_param_groups(model, weight_decay):
    norm_types = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)
    quiet = set()
    for module in model.modules():
        if isinstance(module, norm_types):
            quiet.update(id(p) for p in module.parameters())
        elif getattr(module, "bias", None) is not None:
            quiet.add(id(module.bias))
    return [{"params": [p], "weight_decay": 0.0 if id(p) in quiet else weight_decay}
            for p in model.parameters()]
'''),
    right("dropout with torch.bernoulli", "dropout", '''
def dropout(x, p, training):
    if p < 0 or p > 1:
        raise ValueError(f"p={p} is not a probability")
    if not training:
        return x
    if p == 1:
        return x * 0
    mask = torch.bernoulli(torch.full_like(x, 1 - p))
    return mask * x / (1 - p)
'''),
    right("dropout with torch.where", "dropout", '''
def dropout(x, p, training):
    if not (0 <= p <= 1):
        raise ValueError("dropout probability must be in [0, 1]")
    if not training or p == 0:
        return x.clone()
    if p == 1:
        return torch.zeros_like(x)
    return torch.where(torch.rand(x.shape, dtype=x.dtype) < p, torch.zeros_like(x), x / (1 - p))
'''),
    right("McDropout that calls the lab's dropout", "mc_dropout", '''
class McDropout(nn.Dropout):
    def forward(self, x):
        return dropout(x, self.p, True)
'''),
    right("McDropout that switches itself to training mode", "mc_dropout", '''
class McDropout(nn.Dropout):
    def forward(self, input):
        self.train()
        return super().forward(input)
'''),
    right("mc_predict in one batched pass, unbiased std, modes restored one by one", "mc_predict", '''
def mc_predict(model, X, n_samples=100):
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    for m in model.modules():
        if isinstance(m, (nn.Dropout, nn.AlphaDropout, nn.FeatureAlphaDropout)):
            m.train()
    try:
        with torch.no_grad():
            stacked = X.repeat(n_samples, *([1] * (X.ndim - 1)))
            probas = torch.softmax(model(stacked), dim=1).view(n_samples, len(X), -1)
    finally:
        for m, mode in modes:
            m.train(mode)
    return probas.mean(0), probas.std(0)
'''),
    right("apply_max_norm_ with torch.renorm", "apply_max_norm", '''
def apply_max_norm_(model, max_norm=2.0, dim=1, eps=1e-8):
    for module in model.modules():
        if isinstance(module, nn.Linear):
            module.weight.data = torch.renorm(module.weight.data, 2, 1 - dim, max_norm)
'''),
    right("apply_max_norm_ with torch.where", "apply_max_norm", '''
def apply_max_norm_(model, max_norm=2.0, dim=1, eps=1e-8):
    for module in model.modules():
        if type(module) is nn.Linear:
            w = module.weight.data
            norms = torch.linalg.vector_norm(w, dim=dim, keepdim=True)
            w.copy_(torch.where(norms > max_norm, w * max_norm / (norms + eps), w))
'''),
    right("EarlyStopping with math.inf and cloned tensors", "early_stopping", '''
class EarlyStopping:
    def __init__(self, patience, min_delta=0.0, mode="min"):
        if mode == "min":
            self.sign = 1.0
        elif mode == "max":
            self.sign = -1.0
        else:
            raise ValueError("mode must be 'min' or 'max'")
        self.patience = patience
        self.min_delta = min_delta
        self.best_score = math.inf
        self.counter = 0
        self.saved = None

    def step(self, metric, model):
        score = self.sign * float(metric)
        if score < self.best_score - self.min_delta:
            self.best_score = score
            self.counter = 0
            self.saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self.counter += 1
        return self.counter >= self.patience

    def restore(self, model):
        if self.saved:
            model.load_state_dict(self.saved)
'''),
    right("ℓ1 penalty by recursion over children()", "l1_penalty", '''
def l1_penalty(model):
    total = 0.0
    if isinstance(model, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        total = model.weight.abs().sum()
    for child in model.children():
        total = total + l1_penalty(child)
    return total
'''),
    right("decay groups by recursion over children(), _NormBase for batch norm", "decay_param_groups", '''
def decay_param_groups(model, weight_decay):
    norms = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
    decay, no_decay = [], []

    def visit(module):
        for name, parameter in module.named_parameters(recurse=False):
            (no_decay if isinstance(module, norms) or name == "bias" else decay).append(parameter)
        for child in module.children():
            visit(child)

    visit(model)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]
'''),
    right("dropout with empty_like(x).bernoulli_", "dropout", '''
def dropout(x, p, training):
    if p < 0 or p > 1:
        raise ValueError(p)
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    return x * torch.empty_like(x).bernoulli_(1 - p) / (1 - p)
'''),
    right("McDropout from scratch with a bool mask", "mc_dropout", '''
class McDropout(nn.Dropout):
    def forward(self, input):
        if self.p == 1:
            return torch.zeros_like(input)
        keep = torch.rand_like(input) >= self.p
        return input * keep / (1 - self.p)
'''),
    right("mc_predict filling a tensor of the samples' dtype", "mc_predict", '''
def mc_predict(model, X, n_samples=100):
    modes = {module: module.training for module in model.modules()}
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.train()
    with torch.no_grad():
        first = torch.softmax(model(X), dim=-1)
        probas = torch.empty(n_samples, *first.shape, dtype=first.dtype)
        probas[0] = first
        for index in range(1, n_samples):
            probas[index] = torch.softmax(model(X), dim=-1)
    for module, mode in modes.items():
        module.training = mode
    return probas.mean(dim=0), probas.std(dim=0)
'''),
    right("apply_max_norm_ dividing by norms clamped at eps", "apply_max_norm", '''
def apply_max_norm_(model, max_norm=2.0, dim=1, eps=1e-8):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                norms = module.weight.norm(dim=dim, keepdim=True)
                module.weight.mul_((max_norm / norms.clamp(min=eps)).clamp(max=1.0))
'''),
    right("Q3 as a decimal", "q3_dropout_scale", "Q3 = 1.25"),
    right("Q4 as a decimal", "q4_sgd_weight_decay", "Q4 = 0.001"),
    *FUNCTION_ALTERNATIVES,
    *RESTORED_EPOCH_ALTERNATIVES,
]
