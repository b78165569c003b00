"""Known answers to lab 04: mistakes its tests must catch, and correct answers written differently."""

from autograder.variants import Variant, edited, right, wrong

# Lines of the reference train_step, for mistakes written as edits of it.
_FORWARD = "    loss = loss_fn(model(X), y)\n"
_BACKWARD = "    loss.backward()\n    grad_norm_before = global_grad_norm()\n"
_CLIP = ("    if max_norm is not None:\n        clip_grad_norm(model.parameters(), max_norm)\n"
         "    if clip_value is not None:\n        clip_grad_value(model.parameters(), clip_value)\n")
_AFTER = "    grad_norm_after = global_grad_norm()\n"
_STEP = "    optimizer.step()\n"
_ZERO = "    optimizer.zero_grad()\n"
_NORMS = ("        norms = [torch.linalg.vector_norm(p.grad) for p in model.parameters()"
          " if p.grad is not None]\n"
          "        return torch.linalg.vector_norm(torch.stack(norms)).item() if norms else 0.0\n")


def _step_mistake(name: str, *changes: tuple[str, str]) -> Variant:
    """A mistake in the reference train_step, written as the edit that makes it."""
    source = edited("lab04_gradient_clipping", "train_step", *changes)
    return wrong(name, "train_step", source, "test_train_step")


# Lines of the reference divergence_fraction, for mistakes written as edits of it.
_TEST = "        diverged += any(not math.isfinite(loss) or loss > threshold for loss in losses)\n"
_THRESHOLD = "        threshold = blowup * losses[0]\n"
_RETURN = "    return diverged / len(histories)\n"


def _divergence_mistake(name: str, *changes: tuple[str, str]) -> Variant:
    """A mistake in the reference divergence_fraction, written as the edit that makes it."""
    source = edited("lab04_gradient_clipping", "divergence_fraction", *changes)
    return wrong(name, "divergence_fraction", source, "test_divergence_fraction")


DIVERGENCE_MISTAKES = [
    _divergence_mistake("NaN not counted: a plain > comparison",
                        (_TEST, "        diverged += any(loss > threshold for loss in losses)\n")),
    _divergence_mistake("only the last loss tested",
                        (_TEST, "        last = losses[-1]\n"
                                "        diverged += not math.isfinite(last) or last > threshold\n")),
    _divergence_mistake("threshold not relative to the first loss (an absolute blowup)",
                        (_THRESHOLD, "        threshold = blowup\n")),
    _divergence_mistake(">= instead of >", ("loss > threshold", "loss >= threshold")),
    _divergence_mistake("returns the count instead of the fraction", (_RETURN, "    return diverged\n")),
    _divergence_mistake("returns a percentage", (_RETURN, "    return 100 * diverged / len(histories)\n")),
    _divergence_mistake("returns the fraction of runs that did not diverge",
                        (_RETURN, "    return 1 - diverged / len(histories)\n")),
    _divergence_mistake("inf not counted: a math.isnan test only",
                        ("not math.isfinite(loss)", "math.isnan(loss)")),
    _divergence_mistake("max() over a history that holds a NaN",
                        (_TEST, "        peak = max(losses)\n"
                                "        diverged += not math.isfinite(peak) or peak > threshold\n")),
    _divergence_mistake("the blowup test missing: only non-finite losses counted",
                        (" or loss > threshold", "")),
    _divergence_mistake("a fixed 10 instead of the blowup argument",
                        (_THRESHOLD, "        threshold = 10 * losses[0]\n")),
    _divergence_mistake("no ValueError for an empty list of runs (ZeroDivisionError)",
                        ("    if len(histories) == 0:\n", "    if False:\n")),
    _divergence_mistake("no ValueError for an empty history (IndexError)",
                        ("        if len(losses) == 0:\n", "        if False:\n")),
    wrong("divergence_fraction in a float32 tensor (torch.tensor's default dtype)", "divergence_fraction", '''
def divergence_fraction(histories, blowup=10.0):
    if len(histories) == 0 or any(len(losses) == 0 for losses in histories):
        raise ValueError("pass a non-empty list of non-empty loss histories")
    flags = []
    for losses in histories:
        t = torch.tensor(losses)
        flags.append(bool((~torch.isfinite(t) | (t > blowup * t[0])).any()))
    return sum(flags) / len(flags)
''', "test_divergence_fraction"),
    wrong("divergence_fraction averages the flags in float32", "divergence_fraction", '''
def divergence_fraction(histories, blowup=10.0):
    if not histories or not all(histories):
        raise ValueError("pass a non-empty list of non-empty loss histories")
    flags = [any(not math.isfinite(x) or x > blowup * h[0] for x in h) for h in histories]
    return torch.tensor(flags).float().mean().item()
''', "test_divergence_fraction"),
]

MISTAKES = [
    wrong("each parameter clipped to its own norm instead of the global norm", "clip_grad_norm", '''
def clip_grad_norm(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    with torch.no_grad():
        for g in grads:
            g.mul_(torch.clamp(max_norm / (g.norm() + 1e-6), max=1.0))
    return total_norm
''', "test_clip_grad_norm"),
    wrong("returns the norm after clipping", "clip_grad_norm", '''
def clip_grad_norm(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    with torch.no_grad():
        for g in grads:
            g.mul_(torch.clamp(max_norm / (total_norm + 1e-6), max=1.0))
    return torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
''', "test_clip_grad_norm"),
    wrong("scales the gradients up when the norm is below max_norm", "clip_grad_norm", '''
def clip_grad_norm(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    with torch.no_grad():
        for g in grads:
            g.mul_(max_norm / (total_norm + 1e-6))
    return total_norm
''', "test_clip_grad_norm"),
    wrong("value clipping with only an upper bound", "clip_grad_value", '''
def clip_grad_value(parameters, clip_value):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    for p in parameters:
        if p.grad is not None:
            p.grad.clamp_(max=clip_value)
''', "test_clip_grad_value"),
    _step_mistake("train_step clips before backward()", (_BACKWARD + _CLIP, _CLIP + _BACKWARD)),
    _step_mistake("train_step clips after step()", (_CLIP + _AFTER + _STEP, _STEP + _CLIP + _AFTER)),
    _step_mistake("train_step never zeroes the gradients", (_ZERO, "")),
    wrong("a generator of parameters is gone through twice", "clip_grad_norm", '''
def clip_grad_norm(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    total_norm = torch.sqrt(sum((p.grad ** 2).sum() for p in parameters if p.grad is not None))
    clip_coef = torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)
    with torch.no_grad():
        for p in parameters:
            if p.grad is not None:
                p.grad.mul_(clip_coef)
    return total_norm
''', "test_clip_grad_norm"),
    wrong("total norm as the sum of the per-parameter norms", "clip_grad_norm", '''
def clip_grad_norm(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = sum(g.norm() for g in grads)
    with torch.no_grad():
        for g in grads:
            g.mul_(torch.clamp(max_norm / (total_norm + 1e-6), max=1.0))
    return total_norm
''', "test_clip_grad_norm"),
    wrong("scales a copy of each gradient", "clip_grad_norm", '''
def clip_grad_norm(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    for g in grads:
        g = g * torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)
    return total_norm
''', "test_clip_grad_norm"),
    wrong("factor max_norm / total_norm without PyTorch's 1e-6", "clip_grad_norm", '''
def clip_grad_norm(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    if total_norm > max_norm:
        with torch.no_grad():
            for g in grads:
                g.mul_(max_norm / total_norm)
    return total_norm
''', "test_clip_grad_norm"),
    wrong("a single tensor is iterated over (its rows have no .grad)", "clip_grad_norm", '''
def clip_grad_norm(parameters, max_norm):
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    with torch.no_grad():
        for g in grads:
            g.mul_(torch.clamp(max_norm / (total_norm + 1e-6), max=1.0))
    return total_norm
''', "test_clip_grad_norm"),
    wrong("clip_grad_norm calls torch.nn.utils.clip_grad_norm_", "clip_grad_norm", '''
def clip_grad_norm(parameters, max_norm):
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)
''', "test_clip_grad_norm"),
    wrong("value clipping clamps a copy", "clip_grad_value", '''
def clip_grad_value(parameters, clip_value):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    for p in parameters:
        if p.grad is not None:
            g = p.grad.clamp(-clip_value, clip_value)
''', "test_clip_grad_value"),
    wrong("value clipping clamps the parameters too", "clip_grad_value", '''
def clip_grad_value(parameters, clip_value):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    with torch.no_grad():
        for p in parameters:
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)
                p.clamp_(-clip_value, clip_value)
''', "test_clip_grad_value"),
    wrong("clip_grad_value calls torch.nn.utils.clip_grad_value_", "clip_grad_value", '''
def clip_grad_value(parameters, clip_value):
    torch.nn.utils.clip_grad_value_(parameters, clip_value)
''', "test_clip_grad_value"),
    _step_mistake("train_step zeroes the gradients before backward() only",
                  (_ZERO, ""), (_FORWARD, _ZERO + _FORWARD)),
    _step_mistake("train_step zeroes the gradients before step()", (_STEP + _ZERO, _ZERO + _STEP)),
    _step_mistake("train_step measures grad_norm_after before clipping",
                  (_BACKWARD, _BACKWARD + _AFTER), (_CLIP + _AFTER, _CLIP)),
    wrong("Q2 answered with norm clipping's result", "q2_value_clipping", 'Q2 = "a"',
          "test_q2_value_clipping"),
    wrong("Q4 answered with the inverse factor", "q4_clip_factor", "Q4 = 4", "test_q4_clip_factor"),
    wrong("Q5 answered before backward()", "q5_where_to_clip", 'Q5 = "a"', "test_q5_where_to_clip"),
    wrong("clip_grad_norm_ imported by name", "clip_grad_norm", '''
from torch.nn.utils import clip_grad_norm_


def clip_grad_norm(parameters, max_norm):
    return clip_grad_norm_(parameters, max_norm)
''', "test_clip_grad_norm"),
    # Contracts. No parameter has a gradient: PyTorch returns a norm of 0.
    wrong("clip_grad_norm stacks an empty list when no parameter has a gradient", "clip_grad_norm",
          edited("lab04_gradient_clipping", "clip_grad_norm",
                 ("    if not grads:\n        return torch.tensor(0.0)\n", "")),
          "test_clip_grad_norm"),
    # Float64 gradients: the norm and the factor in their dtype.
    wrong("clip_grad_norm returns torch.tensor(a Python float): float32 for float64 gradients",
          "clip_grad_norm", '''
def clip_grad_norm(parameters, max_norm):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(g.pow(2).sum().item() for g in grads))
    factor = min(1.0, max_norm / (total + 1e-6))
    with torch.no_grad():
        for g in grads:
            g.mul_(factor)
    return torch.tensor(total)
''', "test_clip_grad_norm"),
    wrong("clip_grad_norm adds the squares into a float32 torch.zeros(())", "clip_grad_norm", '''
def clip_grad_norm(parameters, max_norm):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = torch.zeros(())
    for g in grads:
        total += g.pow(2).sum()
    total_norm = total.sqrt()
    with torch.no_grad():
        for g in grads:
            g.mul_(torch.clamp(max_norm / (total_norm + 1e-6), max=1.0))
    return total_norm.item()
''', "test_clip_grad_norm"),
    wrong("clip_grad_value clamps to limits built with torch.full (float32)", "clip_grad_value", '''
def clip_grad_value(parameters, clip_value):
    params = [parameters] if isinstance(parameters, torch.Tensor) else parameters
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                limit = torch.full(p.grad.shape, clip_value)
                p.grad.copy_(torch.minimum(torch.maximum(p.grad, -limit), limit))
''', "test_clip_grad_value"),
    # train_step: both clipping options at once, max_norm=0.0, a frozen parameter, float64, modes.
    _step_mistake("train_step applies only max_norm when both options are given",
                  ("    if clip_value is not None:", "    elif clip_value is not None:")),
    _step_mistake("train_step tests `if max_norm:` (max_norm=0.0 clips nothing)",
                  ("    if max_norm is not None:", "    if max_norm:")),
    _step_mistake("train_step measures the norms over every parameter (a frozen one has no .grad)",
                  (_NORMS, "        return torch.linalg.vector_norm(torch.stack("
                           "[torch.linalg.vector_norm(p.grad) for p in model.parameters()])).item()\n")),
    _step_mistake("train_step adds the squared norms into a float32 torch.zeros(())",
                  (_NORMS, "        total = torch.zeros(())\n"
                           "        for p in model.parameters():\n"
                           "            if p.grad is not None:\n"
                           "                total += p.grad.pow(2).sum()\n"
                           "        return total.sqrt().item()\n")),
    _step_mistake("train_step leaves the model in eval mode", (_ZERO, _ZERO + "    model.eval()\n")),
    *DIVERGENCE_MISTAKES,
]

ALTERNATIVES = [
    right("clip_grad_norm from one concatenated vector, with an if", "clip_grad_norm", '''
def clip_grad_norm(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    params = [p for p in parameters if p.grad is not None]
    if len(params) == 0:
        return torch.tensor(0.0)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    total_norm = flat.norm()
    if total_norm > max_norm:
        for p in params:
            p.grad = p.grad * (max_norm / (total_norm + 1e-6))
    return total_norm
'''),
    right("clip_grad_norm with a loop, float64 sums and a float returned", "clip_grad_norm", '''
def clip_grad_norm(parameters, max_norm):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    squares = 0.0
    for p in params:
        if p.grad is not None:
            squares += p.grad.double().pow(2).sum().item()
    total = math.sqrt(squares)
    factor = min(1.0, max_norm / (total + 1e-6))
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p.grad.mul_(factor)
    return total
'''),
    right("clip_grad_value with torch.clamp assigned back", "clip_grad_value", '''
def clip_grad_value(parameters, clip_value):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    for p in parameters:
        if p.grad is not None:
            p.grad = torch.clamp(p.grad, -clip_value, clip_value)
'''),
    right("clip_grad_value with minimum and maximum", "clip_grad_value", '''
def clip_grad_value(parameters, clip_value):
    params = [parameters] if isinstance(parameters, torch.Tensor) else parameters
    with torch.no_grad():
        for p in params:
            if p.grad is None:
                continue
            limit = torch.full_like(p.grad, clip_value)
            p.grad.copy_(torch.minimum(torch.maximum(p.grad, -limit), limit))
'''),
    right("train_step zeroing at both ends, norms from torch.cat, tensors returned", "train_step", '''
def train_step(model, X, y, loss_fn, optimizer, max_norm=None, clip_value=None):
    model.zero_grad(set_to_none=True)
    out = model(X)
    loss = loss_fn(out, y)
    loss.backward()
    params = [p for p in model.parameters() if p.grad is not None]
    before = torch.cat([p.grad.flatten() for p in params]).norm()
    if max_norm is not None:
        clip_grad_norm(params, max_norm)
    if clip_value is not None:
        clip_grad_value(params, clip_value)
    after = torch.cat([p.grad.flatten() for p in params]).norm()
    optimizer.step()
    model.zero_grad(set_to_none=False)
    return {"loss": loss.detach(), "grad_norm_before": before, "grad_norm_after": after}
'''),
    right("train_step taking grad_norm_before from clip_grad_norm", "train_step", '''
def train_step(model, X, y, loss_fn, optimizer, max_norm=None, clip_value=None):
    loss = loss_fn(model(X), y)
    loss.backward()
    before = float(clip_grad_norm(model.parameters(), max_norm if max_norm is not None else float("inf")))
    if clip_value is not None:
        clip_grad_value(model.parameters(), clip_value)
    after = float(clip_grad_norm(model.parameters(), float("inf")))
    optimizer.step()
    optimizer.zero_grad()
    return {"loss": loss.item(), "grad_norm_before": before, "grad_norm_after": after}
'''),
    right("clip_grad_norm from a sum of squares, 0.0 returned without gradients", "clip_grad_norm", '''
def clip_grad_norm(parameters, max_norm):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    grads = [p.grad.detach() for p in params if p.grad is not None]
    if not grads:
        return 0.0
    total_norm = sum((g ** 2).sum() for g in grads).sqrt()
    coef = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef)
    return total_norm
'''),
    right("clip_grad_value with torch.where and Python numbers", "clip_grad_value", '''
def clip_grad_value(parameters, clip_value):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    for p in parameters:
        if p.grad is not None:
            g = p.grad
            p.grad = torch.where(g > clip_value, clip_value, torch.where(g < -clip_value, -clip_value, g))
'''),
    right("train_step clipping by value before norm, in train mode, norms from torch.cat", "train_step", '''
def train_step(model, X, y, loss_fn, optimizer, max_norm=None, clip_value=None):
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    before = torch.cat([g.reshape(-1) for g in grads]).norm().item()
    if clip_value is not None:
        clip_grad_value(model.parameters(), clip_value)
    if max_norm is not None:
        clip_grad_norm(model.parameters(), max_norm)
    after = torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None]).norm().item()
    optimizer.step()
    optimizer.zero_grad()
    return {"loss": float(loss), "grad_norm_before": before, "grad_norm_after": after}
'''),
    right("Q4 as a fraction", "q4_clip_factor", "Q4 = 2.5 / 10"),
    right("divergence_fraction with a loop, x != x for NaN and statistics.mean", "divergence_fraction", '''
def divergence_fraction(histories, blowup=10.0):
    import statistics
    if not histories:
        raise ValueError("no runs: pass a list of loss histories")
    flags = []
    for losses in histories:
        if not losses:
            raise ValueError("a run with no losses: pass each run's losses")
        first, diverged = losses[0], False
        for x in losses:
            if x != x or abs(x) == math.inf or x > blowup * first:
                diverged = True
                break
        flags.append(diverged)
    return statistics.mean(flags)
'''),
    right("divergence_fraction in a float64 tensor", "divergence_fraction", '''
def divergence_fraction(histories, blowup=10.0):
    if len(histories) == 0:
        raise ValueError("pass at least one run")
    diverged = 0
    for losses in histories:
        if len(losses) == 0:
            raise ValueError("pass at least one loss per run")
        t = torch.tensor(losses, dtype=torch.float64)
        diverged += bool((~torch.isfinite(t) | (t > blowup * t[0])).any())
    return diverged / len(histories)
'''),
    right("divergence_fraction as the ratio to the first loss, in a comprehension", "divergence_fraction", '''
def divergence_fraction(histories, blowup=10.0):
    if not histories or any(len(h) == 0 for h in histories):
        raise ValueError("pass a non-empty list of runs, each with at least one loss")

    def diverged(h):
        return not all(math.isfinite(x) for x in h) or max(x / h[0] for x in h) > blowup

    return sum(map(diverged, histories)) / len(histories)
'''),
]
