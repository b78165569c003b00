"""Known answers to lab 05: mistakes its tests must catch, and correct answers written differently."""

from autograder.variants import edited, right, wrong

LAB = "lab05_transfer_learning"

MISTAKES = [
    wrong("reuse_body shares layers with model A", "reuse_body", '''
def reuse_body(model_a, n_outputs):
    return nn.Sequential(*model_a[:-1], nn.Linear(model_a[-1].in_features, n_outputs))
''', "test_reuse_body"),
    wrong("new head keeps model A's number of outputs", "reuse_body", '''
def reuse_body(model_a, n_outputs):
    body = copy.deepcopy(model_a[:-1])
    return nn.Sequential(*body, nn.Linear(model_a[-1].in_features, model_a[-1].out_features))
''', "test_reuse_body"),
    wrong("reuse_body replaces model A's head in place", "reuse_body", '''
def reuse_body(model_a, n_outputs):
    model_a[-1] = nn.Linear(model_a[-1].in_features, n_outputs)
    return model_a
''', "test_reuse_body"),
    wrong("reuse_body copies model A's body with fresh weights", "reuse_body", '''
def reuse_body(model_a, n_outputs):
    body = copy.deepcopy(model_a[:-1])
    for layer in body:
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    return nn.Sequential(*body, nn.Linear(model_a[-1].in_features, n_outputs))
''', "test_reuse_body"),
    wrong("reuse_body builds the head in float32 for a float64 model A", "reuse_body",
          edited(LAB, "reuse_body", ("device=old_head.weight.device,\n                     "
                                     "dtype=old_head.weight.dtype)", "device=old_head.weight.device)")),
          "test_reuse_body"),
    wrong("reuse_body builds the head on the CPU whatever model A's device", "reuse_body",
          edited(LAB, "reuse_body", ("device=old_head.weight.device,\n", "\n")), "test_reuse_body"),
    wrong("reuse_body freezes model A's body before copying it", "reuse_body",
          edited(LAB, "reuse_body", ("    body = copy.deepcopy(model_a[:-1])\n",
                                     "    for parameter in model_a[:-1].parameters():\n"
                                     "        parameter.requires_grad = False\n"
                                     "    body = copy.deepcopy(model_a[:-1])\n")), "test_reuse_body"),
    wrong("reuse_body puts model A in eval mode to copy it", "reuse_body",
          edited(LAB, "reuse_body", ("    body = copy.deepcopy(model_a[:-1])\n",
                                     "    model_a.eval()\n    body = copy.deepcopy(model_a[:-1])\n")),
          "test_reuse_body"),
    wrong("set_trainable(False) leaves biases and batch-norm trainable", "set_trainable", '''
def set_trainable(module, trainable):
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            layer.weight.requires_grad = trainable
    return module
''', "test_set_trainable"),
    wrong("set_trainable freezes nn.Linear layers only (not batch-norm)", "set_trainable", '''
def set_trainable(module, trainable):
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            for parameter in layer.parameters():
                parameter.requires_grad = trainable
    return module
''', "test_set_trainable"),
    wrong("set_trainable skips nested layers", "set_trainable", '''
def set_trainable(module, trainable):
    for layer in [module, *module.children()]:
        for parameter in layer.parameters(recurse=False):
            parameter.requires_grad = trainable
    return module
''', "test_set_trainable"),
    wrong("set_trainable also switches frozen layers to eval mode (as Keras does)", "set_trainable",
          edited(LAB, "set_trainable",
                 ("    return module\n", "    module.train(trainable)\n    return module\n")),
          "test_set_trainable"),
    wrong("set_trainable clears .grad when it freezes", "set_trainable", '''
def set_trainable(module, trainable):
    for parameter in module.parameters():
        parameter.requires_grad = trainable
        if not trainable:
            parameter.grad = None
    return module
''', "test_set_trainable"),
    wrong("set_trainable switches train/eval mode instead of requires_grad", "set_trainable", '''
def set_trainable(module, trainable):
    module.train(trainable)
    return module
''', "test_set_trainable"),
    wrong("param_groups leaves out frozen parameters", "param_groups", '''
def param_groups(model, body_lr, head_lr):
    return [{"params": [p for p in model[:-1].parameters() if p.requires_grad], "lr": body_lr},
            {"params": [p for p in model[-1].parameters() if p.requires_grad], "lr": head_lr}]
''', "test_param_groups"),
    wrong("param_groups takes the head's weight and bias by name", "param_groups", '''
def param_groups(model, body_lr, head_lr):
    return [{"params": list(model[:-1].parameters()), "lr": body_lr},
            {"params": [model[-1].weight, model[-1].bias], "lr": head_lr}]
''', "test_param_groups"),
    wrong("param_groups puts the head in both groups", "param_groups", '''
def param_groups(model, body_lr, head_lr):
    return [{"params": list(model.parameters()), "lr": body_lr},
            {"params": list(model[-1].parameters()), "lr": head_lr}]
''', "test_param_groups"),
    wrong("param_groups puts the head in neither group", "param_groups", '''
def param_groups(model, body_lr, head_lr):
    return [{"params": list(model[:-1].parameters()), "lr": body_lr}]
''', "test_param_groups"),
    wrong("param_groups swaps the two learning rates", "param_groups", '''
def param_groups(model, body_lr, head_lr):
    return [{"params": list(model[:-1].parameters()), "lr": head_lr},
            {"params": list(model[-1].parameters()), "lr": body_lr}]
''', "test_param_groups"),
    wrong("task B drawn from the classes of task A", "split_task_a_b", '''
def split_task_a_b(X, y, n_b_train=20, seed=0, pair=(0, 2)):
    in_b = (y == pair[0]) | (y == pair[1])
    a_classes = [c for c in range(10) if c not in pair]
    new_label = torch.zeros(10, dtype=torch.long)
    new_label[a_classes] = torch.arange(8)
    index = torch.arange(len(X))
    if n_b_train is not None:
        index = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))[:n_b_train]
    return {"a": (X[~in_b], new_label[y[~in_b]]),
            "b": (X[index], (y[index] == pair[0]).float().unsqueeze(1))}
''', "test_split_task_a_b"),
    wrong("task A keeps its original labels", "split_task_a_b", '''
def split_task_a_b(X, y, n_b_train=20, seed=0, pair=(0, 2)):
    in_b = (y == pair[0]) | (y == pair[1])
    index = torch.nonzero(in_b).flatten()
    if n_b_train is not None:
        index = index[torch.randperm(len(index), generator=torch.Generator().manual_seed(seed))[:n_b_train]]
    return {"a": (X[~in_b], y[~in_b]), "b": (X[index], (y[index] == pair[0]).float().unsqueeze(1))}
''', "test_split_task_a_b"),
    wrong("task B takes the first n_b_train images", "split_task_a_b", '''
def split_task_a_b(X, y, n_b_train=20, seed=0, pair=(0, 2)):
    in_b = (y == pair[0]) | (y == pair[1])
    a_classes = [c for c in range(10) if c not in pair]
    new_label = torch.zeros(10, dtype=torch.long)
    new_label[a_classes] = torch.arange(8)
    index = torch.nonzero(in_b).flatten()[:n_b_train]
    return {"a": (X[~in_b], new_label[y[~in_b]]),
            "b": (X[index], (y[index] == pair[0]).float().unsqueeze(1))}
''', "test_split_task_a_b"),
    wrong("task B targets are the class labels 0 and 2", "split_task_a_b", '''
def split_task_a_b(X, y, n_b_train=20, seed=0, pair=(0, 2)):
    in_b = (y == pair[0]) | (y == pair[1])
    a_classes = [c for c in range(10) if c not in pair]
    new_label = torch.zeros(10, dtype=torch.long)
    new_label[a_classes] = torch.arange(8)
    index = torch.nonzero(in_b).flatten()
    if n_b_train is not None:
        index = index[torch.randperm(len(index), generator=torch.Generator().manual_seed(seed))[:n_b_train]]
    return {"a": (X[~in_b], new_label[y[~in_b]]), "b": (X[index], y[index])}
''', "test_split_task_a_b"),
    wrong("fine_tune never unfreezes", "fine_tune", '''
def fine_tune(model, data, frozen_epochs, unfrozen_epochs, lr, unfrozen_lr):
    set_trainable(model, False)
    set_trainable(model[-1], True)
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model[-1].parameters(), lr=lr, momentum=0.9)
    first = labs.fit(model, optimizer, data["train"], data["valid"], epochs=frozen_epochs,
                     batch_size=32, loss_fn=loss_fn, progress=False)
    optimizer = torch.optim.SGD(model[-1].parameters(), lr=unfrozen_lr, momentum=0.9)
    second = labs.fit(model, optimizer, data["train"], data["valid"], epochs=unfrozen_epochs,
                      batch_size=32, loss_fn=loss_fn, progress=False)
    history = labs.History()
    history.records = [dict(r, epoch=i) for i, r in enumerate(first.records + second.records, 1)]
    return history
''', "test_fine_tune"),
    wrong("fine_tune never freezes the body", "fine_tune", '''
def fine_tune(model, data, frozen_epochs, unfrozen_epochs, lr, unfrozen_lr):
    loss_fn = nn.BCEWithLogitsLoss()
    history = labs.History()
    for epochs, rate in ((frozen_epochs, lr), (unfrozen_epochs, unfrozen_lr)):
        optimizer = torch.optim.SGD(model.parameters(), lr=rate, momentum=0.9)
        part = labs.fit(model, optimizer, data["train"], data["valid"], epochs=epochs,
                        batch_size=32, loss_fn=loss_fn, progress=False)
        history.records += part.records
    for i, record in enumerate(history.records, 1):
        record["epoch"] = i
    return history
''', "test_fine_tune"),
    wrong("fine_tune keeps the high learning rate after unfreezing", "fine_tune", '''
def fine_tune(model, data, frozen_epochs, unfrozen_epochs, lr, unfrozen_lr):
    loss_fn = nn.BCEWithLogitsLoss()
    set_trainable(model, False)
    set_trainable(model[-1], True)
    optimizer = torch.optim.SGD(model[-1].parameters(), lr=lr, momentum=0.9)
    first = labs.fit(model, optimizer, data["train"], data["valid"], epochs=frozen_epochs,
                     batch_size=32, loss_fn=loss_fn, progress=False)
    set_trainable(model, True)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    second = labs.fit(model, optimizer, data["train"], data["valid"], epochs=unfrozen_epochs,
                      batch_size=32, loss_fn=loss_fn, progress=False)
    history = labs.History()
    history.records = [dict(r, epoch=i) for i, r in enumerate(first.records + second.records, 1)]
    return history
''', "test_fine_tune"),
    wrong("fine_tune returns the second phase's History only", "fine_tune", '''
def fine_tune(model, data, frozen_epochs, unfrozen_epochs, lr, unfrozen_lr):
    loss_fn = nn.BCEWithLogitsLoss()
    set_trainable(model, False)
    set_trainable(model[-1], True)
    optimizer = torch.optim.SGD(model[-1].parameters(), lr=lr, momentum=0.9)
    labs.fit(model, optimizer, data["train"], data["valid"], epochs=frozen_epochs,
             batch_size=32, loss_fn=loss_fn, progress=False)
    set_trainable(model, True)
    optimizer = torch.optim.SGD(model.parameters(), lr=unfrozen_lr, momentum=0.9)
    return labs.fit(model, optimizer, data["train"], data["valid"], epochs=unfrozen_epochs,
                    batch_size=32, loss_fn=loss_fn, progress=False)
''', "test_fine_tune"),
    wrong("fine_tune uses MSELoss on the logits", "fine_tune", '''
def fine_tune(model, data, frozen_epochs, unfrozen_epochs, lr, unfrozen_lr):
    loss_fn = nn.MSELoss()
    set_trainable(model, False)
    set_trainable(model[-1], True)
    optimizer = torch.optim.SGD(model[-1].parameters(), lr=lr, momentum=0.9)
    first = labs.fit(model, optimizer, data["train"], data["valid"], epochs=frozen_epochs,
                     batch_size=32, loss_fn=loss_fn, progress=False)
    set_trainable(model, True)
    optimizer = torch.optim.SGD(model.parameters(), lr=unfrozen_lr, momentum=0.9)
    second = labs.fit(model, optimizer, data["train"], data["valid"], epochs=unfrozen_epochs,
                      batch_size=32, loss_fn=loss_fn, progress=False)
    history = labs.History()
    history.records = [dict(r, epoch=i) for i, r in enumerate(first.records + second.records, 1)]
    return history
''', "test_fine_tune"),
    wrong("fine_tune leaves labs.fit's progress bars on", "fine_tune",
          edited(LAB, "fine_tune",
                 ("loss_fn, progress=False)\n    set_trainable", "loss_fn)\n    set_trainable"),
                 ("loss_fn, progress=False)\n    records", "loss_fn)\n    records")),
          "test_fine_tune"),
    wrong("fine_tune gives labs.fit no validation data in the frozen phase", "fine_tune",
          edited(LAB, "fine_tune", (' frozen = labs.fit(model, optimizer, data["train"], data["valid"],',
                                    ' frozen = labs.fit(model, optimizer, data["train"],')),
          "test_fine_tune"),
    wrong("split_task_a_b refuses to draw every image of the pair", "split_task_a_b",
          edited(LAB, "split_task_a_b", ("if n_b_train > len(b_index):", "if n_b_train >= len(b_index):")),
          "test_split_task_a_b"),
    wrong("paired_gain subtracts the wrong way (scratch − transfer)", "paired_gain",
          edited(LAB, "paired_gain", ("float(after) - float(before)", "float(before) - float(after)")),
          "test_paired_gain"),
    wrong("paired_gain uses z = 1.96 instead of Student's t", "paired_gain",
          edited(LAB, "paired_gain", ("t = float(stats.t.ppf((1 + confidence) / 2, n - 1))",
                                      "t = 1.96")),
          "test_paired_gain"),
    wrong("paired_gain uses the normal quantile of the confidence", "paired_gain",
          edited(LAB, "paired_gain", ("stats.t.ppf((1 + confidence) / 2, n - 1)",
                                      "stats.norm.ppf((1 + confidence) / 2)")),
          "test_paired_gain"),
    wrong("paired_gain gives t n degrees of freedom", "paired_gain",
          edited(LAB, "paired_gain", ("(1 + confidence) / 2, n - 1)", "(1 + confidence) / 2, n)")),
          "test_paired_gain"),
    wrong("paired_gain uses the population std (ddof = 0)", "paired_gain",
          edited(LAB, "paired_gain", ("for gain in gains) / (n - 1))", "for gain in gains) / n)")),
          "test_paired_gain"),
    wrong("paired_gain uses the std instead of the standard error (no / √n)", "paired_gain",
          edited(LAB, "paired_gain", ("half_width = t * std / math.sqrt(n)", "half_width = t * std")),
          "test_paired_gain"),
    wrong("paired_gain takes the one-sided quantile t.ppf(confidence)", "paired_gain",
          edited(LAB, "paired_gain", ("stats.t.ppf((1 + confidence) / 2, n - 1)",
                                      "stats.t.ppf(confidence, n - 1)")),
          "test_paired_gain"),
    wrong("paired_gain ignores confidence (always 95%)", "paired_gain",
          edited(LAB, "paired_gain", ("stats.t.ppf((1 + confidence) / 2, n - 1)",
                                      "stats.t.ppf(0.975, n - 1)")),
          "test_paired_gain"),
    wrong("paired_gain averages the ratios transfer / scratch", "paired_gain",
          edited(LAB, "paired_gain", ("float(after) - float(before)", "float(after) / float(before)")),
          "test_paired_gain"),
    wrong("paired_gain compares two unpaired means (Welch's interval)", "paired_gain", '''
def paired_gain(scratch, transfer, confidence=0.95):
    if len(scratch) != len(transfer) or len(scratch) < 2:
        raise ValueError("pass at least 2 seeds, as many from scratch as with transfer")
    interval = stats.ttest_ind(transfer, scratch, equal_var=False).confidence_interval(confidence)
    mean = float(np.mean(transfer) - np.mean(scratch))
    return {"mean": mean, "low": float(interval.low), "high": float(interval.high), "n": len(scratch)}
''', "test_paired_gain"),
    wrong("paired_gain compares two unpaired means (pooled variance, by hand)", "paired_gain", '''
def paired_gain(scratch, transfer, confidence=0.95):
    n = len(scratch)
    if len(transfer) != n or n < 2:
        raise ValueError("pass at least 2 seeds, as many from scratch as with transfer")
    a, b = np.array(scratch), np.array(transfer)
    mean = float(b.mean() - a.mean())
    error = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / n)
    t = stats.t.ppf((1 + confidence) / 2, 2 * n - 2)
    return {"mean": mean, "low": float(mean - t * error), "high": float(mean + t * error), "n": n}
''', "test_paired_gain"),
    wrong("paired_gain computes in torch's default float32", "paired_gain", '''
def paired_gain(scratch, transfer, confidence=0.95):
    if len(scratch) != len(transfer) or len(scratch) < 2:
        raise ValueError("pass at least 2 seeds, as many from scratch as with transfer")
    gains = torch.tensor(transfer) - torch.tensor(scratch)
    n = len(gains)
    half = stats.t.ppf((1 + confidence) / 2, n - 1) * gains.std().item() / math.sqrt(n)
    mean = gains.mean().item()
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}
''', "test_paired_gain"),
    wrong("paired_gain returns tensors, not floats", "paired_gain", '''
def paired_gain(scratch, transfer, confidence=0.95):
    if len(scratch) != len(transfer) or len(scratch) < 2:
        raise ValueError("pass at least 2 seeds, as many from scratch as with transfer")
    gains = torch.tensor(transfer, dtype=torch.float64) - torch.tensor(scratch, dtype=torch.float64)
    n = len(gains)
    half = stats.t.ppf((1 + confidence) / 2, n - 1) * gains.std() / math.sqrt(n)
    return {"mean": gains.mean(), "low": gains.mean() - half, "high": gains.mean() + half, "n": n}
''', "test_paired_gain"),
    wrong("paired_gain returns percentage points", "paired_gain",
          edited(LAB, "paired_gain", ("gains = [float(after) - float(before)",
                                      "gains = [100 * float(after) - 100 * float(before)")),
          "test_paired_gain"),
    wrong("paired_gain lets zip drop the extra accuracies of a longer list", "paired_gain",
          edited(LAB, "paired_gain", ("    if len(scratch) != len(transfer):\n", "    if False:\n")),
          "test_paired_gain"),
    wrong("paired_gain divides by zero for a single seed instead of raising ValueError", "paired_gain",
          edited(LAB, "paired_gain", ("    if n < 2:\n", "    if n < 1:\n")), "test_paired_gain"),
    wrong("paired_gain raises ValueError without a message", "paired_gain",
          edited(LAB, "paired_gain",
                 ('raise ValueError(f"pass the accuracies of at least 2 seeds, got {n}: the spread of the "\n'
                  '                         f"gains needs two of them.")', "raise ValueError()")),
          "test_paired_gain"),
    wrong("paired_gain calls scipy.stats.ttest_rel", "paired_gain", '''
def paired_gain(scratch, transfer, confidence=0.95):
    if len(scratch) != len(transfer) or len(scratch) < 2:
        raise ValueError("pass at least 2 seeds, as many from scratch as with transfer")
    interval = stats.ttest_rel(transfer, scratch).confidence_interval(confidence)
    mean = float(np.mean(np.subtract(transfer, scratch)))
    return {"mean": mean, "low": float(interval.low), "high": float(interval.high), "n": len(scratch)}
''', "test_paired_gain"),
    wrong("paired_gain calls ttest_1samp on the gains (imported by name)", "paired_gain", '''
from scipy.stats import ttest_1samp


def paired_gain(scratch, transfer, confidence=0.95):
    if len(scratch) != len(transfer) or len(scratch) < 2:
        raise ValueError("pass at least 2 seeds, as many from scratch as with transfer")
    gains = np.subtract(transfer, scratch)
    interval = ttest_1samp(gains, 0.0).confidence_interval(confidence)
    return {"mean": float(gains.mean()), "low": float(interval.low), "high": float(interval.high),
            "n": len(gains)}
''', "test_paired_gain"),
    wrong("paired_gain takes the interval from scipy.stats.bayes_mvs", "paired_gain", '''
def paired_gain(scratch, transfer, confidence=0.95):
    if len(scratch) != len(transfer) or len(scratch) < 2:
        raise ValueError("pass at least 2 seeds, as many from scratch as with transfer")
    gains = np.subtract(transfer, scratch)
    low, high = stats.bayes_mvs(gains, alpha=confidence)[0].minmax
    return {"mean": float(gains.mean()), "low": float(low), "high": float(high), "n": len(gains)}
''', "test_paired_gain"),
    wrong("paired_gain uses t.interval without handling s = 0", "paired_gain", '''
def paired_gain(scratch, transfer, confidence=0.95):
    if len(scratch) != len(transfer) or len(scratch) < 2:
        raise ValueError("pass at least 2 seeds, as many from scratch as with transfer")
    gains = np.subtract(np.asarray(transfer, dtype=float), np.asarray(scratch, dtype=float))
    n = len(gains)
    low, high = stats.t.interval(confidence, n - 1, loc=gains.mean(), scale=gains.std(ddof=1) / np.sqrt(n))
    return {"mean": float(gains.mean()), "low": float(low), "high": float(high), "n": n}
''', "test_paired_gain"),
    wrong("Q1 answered: freezing is to save computation", "q1_why_freeze", 'Q1 = "a"', "test_q1_why_freeze"),
    wrong("Q2 counts the head's weights only", "q2_trainable_count", "Q2 = 150",
          "test_q2_trainable_count"),
    wrong("Q3 answered a", "q3_lucky_seed", 'Q3 = "a"', "test_q3_lucky_seed"),
]

ALTERNATIVES = [
    right("split_task_a_b with boolean masks and numpy's generator", "split_task_a_b", '''
def split_task_a_b(X, y, n_b_train=20, seed=0, pair=(0, 2)):
    import numpy as np
    positive, negative = pair
    in_b = torch.isin(y, torch.tensor(pair, device=y.device))
    others = [c for c in range(10) if c not in pair]
    y_a = torch.zeros_like(y[~in_b])
    for new, old in enumerate(others):
        y_a[y[~in_b] == old] = new
    X_pool, y_pool = X[in_b], y[in_b]
    if n_b_train is not None:
        rng = np.random.default_rng(seed)
        chosen = torch.as_tensor(rng.choice(len(X_pool), size=n_b_train, replace=False))
        X_pool, y_pool = X_pool[chosen], y_pool[chosen]
    return {"a": (X[~in_b], y_a),
            "b": (X_pool, (y_pool == positive).to(torch.float32).reshape(-1, 1))}
'''),
    right("split_task_a_b seeding the global generator", "split_task_a_b", '''
def split_task_a_b(X, y, n_b_train=20, seed=0, pair=(0, 2)):
    keep_a = (y != pair[0]) & (y != pair[1])
    mapping = {old: new for new, old in enumerate(c for c in range(10) if c not in pair)}
    y_a = torch.tensor([mapping[int(label)] for label in y[keep_a]], dtype=torch.long)
    b_rows = [i for i in range(len(y)) if int(y[i]) in pair]
    if n_b_train is not None:
        torch.manual_seed(seed)
        order = torch.randperm(len(b_rows)).tolist()
        b_rows = [b_rows[i] for i in order[:n_b_train]]
    b_rows = torch.tensor(b_rows, dtype=torch.long)
    y_b = torch.where(y[b_rows] == pair[0], 1.0, 0.0).view(-1, 1)
    return {"a": (X[keep_a], y_a), "b": (X[b_rows], y_b)}
'''),
    right("reuse_body by copying model A whole and swapping the head", "reuse_body", '''
def reuse_body(model_a, n_outputs):
    model_b = copy.deepcopy(model_a)
    model_b[-1] = nn.Linear(model_b[-1].in_features, n_outputs).to(model_b[-1].weight)
    return model_b
'''),
    right("reuse_body copying layer by layer, with Sequential.append", "reuse_body", '''
def reuse_body(model_a, n_outputs):
    layers = [copy.deepcopy(layer) for layer in list(model_a)[:-1]]
    weight = model_a[-1].weight
    head = nn.Linear(weight.shape[1], n_outputs, device=weight.device, dtype=weight.dtype)
    return nn.Sequential(*layers).append(head)
'''),
    right("reuse_body keeping the body nested", "reuse_body", '''
def reuse_body(model_a, n_outputs):
    factory = {"device": next(model_a.parameters()).device, "dtype": next(model_a.parameters()).dtype}
    return nn.Sequential(copy.deepcopy(model_a[:-1]),
                         nn.Linear(model_a[-1].in_features, n_outputs, **factory))
'''),
    right("reuse_body building the head on the CPU, then moving it with .to(device, dtype)", "reuse_body", '''
def reuse_body(model_a, n_outputs):
    old = model_a[-1]
    head = nn.Linear(old.in_features, n_outputs)
    head = head.to(device=old.weight.device, dtype=old.weight.dtype)
    return nn.Sequential(*copy.deepcopy(model_a[:-1]), head)
'''),
    right("set_trainable with PyTorch's requires_grad_", "set_trainable", '''
def set_trainable(module, trainable):
    return module.requires_grad_(trainable)
'''),
    right("set_trainable over named_parameters with requires_grad_", "set_trainable", '''
def set_trainable(module, trainable):
    for _, parameter in module.named_parameters():
        parameter.requires_grad_(trainable)
    return module
'''),
    right("param_groups with one group per body layer", "param_groups", '''
def param_groups(model, body_lr, head_lr):
    groups = [{"params": list(layer.parameters()), "lr": body_lr}
              for layer in list(model)[:-1] if len(list(layer.parameters())) > 0]
    groups.append({"params": list(model[-1].parameters()), "lr": head_lr})
    return groups
'''),
    right("param_groups as a list comprehension over named_parameters", "param_groups", '''
def param_groups(model, body_lr, head_lr):
    head = {id(p) for p in model[-1].parameters()}
    body = [p for _, p in model.named_parameters() if id(p) not in head]
    return [{"params": body, "lr": body_lr}, {"params": [p for p in model[-1].parameters()], "lr": head_lr}]
'''),
    right("set_trainable looping over modules with recurse=False", "set_trainable", '''
def set_trainable(module, trainable):
    for layer in module.modules():
        for parameter in layer.parameters(recurse=False):
            parameter.requires_grad_(trainable)
    return module
'''),
    right("param_groups head first, by parameter name", "param_groups", '''
def param_groups(model, body_lr, head_lr):
    head_prefix = f"{len(model) - 1}."
    named = list(model.named_parameters())
    return [{"lr": head_lr, "params": [p for n, p in named if n.startswith(head_prefix)]},
            {"lr": body_lr, "params": [p for n, p in named if not n.startswith(head_prefix)]}]
'''),
    right("fine_tune with all parameters in both optimizers and a loop over phases", "fine_tune", '''
def fine_tune(model, data, frozen_epochs, unfrozen_epochs, lr, unfrozen_lr):
    history = labs.History()
    for frozen, epochs, rate in ((True, frozen_epochs, lr), (False, unfrozen_epochs, unfrozen_lr)):
        set_trainable(model, not frozen)
        set_trainable(model[-1], True)
        optimizer = torch.optim.SGD(model.parameters(), lr=rate, momentum=0.9)
        part = labs.fit(model, optimizer, data["train"], data["valid"], epochs=epochs,
                        batch_size=32, loss_fn=nn.BCEWithLogitsLoss(), progress=False)
        for record in part.records:
            history.records.append(dict(record, epoch=len(history.records) + 1))
    return history
'''),
    right("fine_tune with param_groups for the second phase", "fine_tune", '''
def fine_tune(model, data, frozen_epochs, unfrozen_epochs, lr, unfrozen_lr):
    train, valid = data["train"], data["valid"]
    loss = nn.BCEWithLogitsLoss()
    set_trainable(model[:-1], False)
    head_optimizer = torch.optim.SGD(model[-1].parameters(), lr=lr, momentum=0.9)
    h1 = labs.fit(model, head_optimizer, train, valid, epochs=frozen_epochs, batch_size=32,
                  loss_fn=loss, progress=False)
    set_trainable(model[:-1], True)
    optimizer = torch.optim.SGD(param_groups(model, unfrozen_lr, unfrozen_lr), momentum=0.9)
    h2 = labs.fit(model, optimizer, train, valid, epochs=unfrozen_epochs, batch_size=32,
                  loss_fn=loss, progress=False)
    records = h1.records + h2.records
    for number, record in enumerate(records, start=1):
        record["epoch"] = number
    return labs.History(records)
'''),
    right("paired_gain with NumPy (ddof=1)", "paired_gain", '''
def paired_gain(scratch, transfer, confidence=0.95):
    scratch, transfer = np.asarray(scratch, dtype=np.float64), np.asarray(transfer, dtype=np.float64)
    if scratch.shape != transfer.shape:
        raise ValueError("give as many accuracies with transfer as from scratch, one per seed")
    if len(scratch) < 2:
        raise ValueError("give the accuracies of 2 seeds or more")
    gains = transfer - scratch
    n = len(gains)
    error = gains.std(ddof=1) / np.sqrt(n)
    t = stats.t.ppf(1 - (1 - confidence) / 2, df=n - 1)
    mean = gains.mean()
    return {"mean": float(mean), "low": float(mean - t * error), "high": float(mean + t * error), "n": n}
'''),
    right("paired_gain with the statistics module", "paired_gain", '''
import statistics


def paired_gain(scratch, transfer, confidence=0.95):
    if len(scratch) != len(transfer) or len(scratch) < 2:
        raise ValueError("pass two lists of the same length, with at least 2 seeds")
    gains = [b - a for a, b in zip(scratch, transfer)]
    mean = statistics.fmean(gains)
    half = stats.t.ppf((1 + confidence) / 2, len(gains) - 1) * statistics.stdev(gains) / len(gains) ** 0.5
    return {"mean": mean, "low": float(mean - half), "high": float(mean + half), "n": len(gains)}
'''),
    right("paired_gain with torch in float64 (torch.std is unbiased)", "paired_gain", '''
def paired_gain(scratch, transfer, confidence=0.95):
    if len(scratch) != len(transfer):
        raise ValueError(f"one accuracy per seed for both: {len(scratch)} vs {len(transfer)}")
    if len(scratch) < 2:
        raise ValueError("at least two seeds are needed")
    gains = torch.tensor(transfer, dtype=torch.float64) - torch.tensor(scratch, dtype=torch.float64)
    n = gains.numel()
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * gains.std() / n ** 0.5
    return {"mean": gains.mean().item(), "low": (gains.mean() - half).item(),
            "high": (gains.mean() + half).item(), "n": n}
'''),
    right("paired_gain with stats.t.interval, s = 0 handled", "paired_gain", '''
def paired_gain(scratch, transfer, confidence=0.95):
    if len(scratch) != len(transfer) or len(scratch) < 2:
        raise ValueError("pass at least 2 seeds, as many from scratch as with transfer")
    gains = np.array(transfer, dtype=float) - np.array(scratch, dtype=float)
    n = len(gains)
    mean, error = float(gains.mean()), float(gains.std(ddof=1) / math.sqrt(n))
    low, high = (mean, mean) if error == 0 else stats.t.interval(confidence, n - 1, loc=mean, scale=error)
    return {"n": n, "mean": mean, "low": float(low), "high": float(high)}
'''),
    right("paired_gain with a loop and the variance of the mean", "paired_gain", '''
def paired_gain(scratch, transfer, confidence=0.95):
    n = len(scratch)
    if n != len(transfer):
        raise ValueError("scratch and transfer need one accuracy per seed each")
    if n < 2:
        raise ValueError("need at least 2 seeds")
    total = 0.0
    for i in range(n):
        total += transfer[i] - scratch[i]
    mean = total / n
    squares = 0.0
    for i in range(n):
        squares += (transfer[i] - scratch[i] - mean) ** 2
    variance_of_mean = squares / (n - 1) / n
    half = -stats.t.ppf((1 - confidence) / 2, n - 1) * math.sqrt(variance_of_mean)
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}
'''),
    right("Q2 as a float", "q2_trainable_count", "Q2 = 153.0"),
]
