#!/usr/bin/env python3
"""Reference numbers for the Optim target's tests (objectives, optimisers, schedules).

A textbook transcription of each formula in NumPy float64, written independently of the Swift code,
on inputs this script draws itself from a fixed seed. Inputs are rounded to float32 first so Swift
starts from exactly the same numbers. The analytic gradients are checked here against central finite
differences before anything is written.

    python3 scripts/optim_reference.py            # writes Tests/OptimTests/Fixtures/*.json
    python3 scripts/optim_reference.py --torch    # also cross-checks every number against PyTorch

The optional cross-check needs torch importable by the running interpreter (for example
/tmp/torch-ref/bin/python); it never changes the fixtures. It compares NT-Xent with F.normalize +
F.cross_entropy and autograd, cross-entropy with F.cross_entropy(label_smoothing=...), SGD, Adam and
AdamW with torch.optim (LARS has no torch counterpart), and ReduceLROnPlateau with torch's own class.
Last run: torch 2.15.0, every fixture agrees.
"""
import json
import math
import pathlib
import sys

import numpy as np

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "OptimTests" / "Fixtures"
SIGNIFICANT = 12   # outputs are rounded so BLAS's last bits never change the files


def f32(a):
    """float32 values as float64 arrays: what both sides start from."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def out(a):
    """A JSON-ready nested list of outputs, rounded to SIGNIFICANT digits."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return float(f"{float(a):.{SIGNIFICANT}g}")
    return [out(x) for x in a]


def exact(a):
    """A JSON-ready nested list of float32 inputs, written exactly."""
    return np.asarray(a, dtype=np.float64).tolist()


def numeric_gradient(f, x, h=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        saved = x[idx]
        x[idx] = saved + h
        up = f(x)
        x[idx] = saved - h
        down = f(x)
        x[idx] = saved
        g[idx] = (up - down) / (2 * h)
    return g


# ---------------------------------------------------------------------------------------------
# NT-Xent (SimCLR eq. 1): rows i and i+N are the two views of image i.

def ntxent_loss(z, tau):
    m = z.shape[0]
    n = m // 2
    norms = np.sqrt((z * z).sum(axis=1, keepdims=True))
    u = z / np.maximum(norms, 1e-12)
    logits = u @ u.T / tau
    np.fill_diagonal(logits, -np.inf)
    positive = (np.arange(m) + n) % m
    top = logits.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float(np.mean(log_norm - logits[np.arange(m), positive]))


def ntxent_gradient(z, tau):
    """dL/dz by the chain rule, written out factor by factor."""
    m, d = z.shape
    n = m // 2
    norms = np.sqrt((z * z).sum(axis=1))
    clamped = np.maximum(norms, 1e-12)
    u = z / clamped[:, None]
    logits = u @ u.T / tau
    np.fill_diagonal(logits, -np.inf)
    soft = np.exp(logits - logits.max(axis=1, keepdims=True))
    soft /= soft.sum(axis=1, keepdims=True)
    target = np.zeros((m, m))
    target[np.arange(m), (np.arange(m) + n) % m] = 1
    d_logits = (soft - target) / m                 # dL/d logits[i, j]
    d_sim = d_logits / tau                         # logits = sim / tau
    d_u = d_sim @ u + d_sim.T @ u                  # sim[i, j] = u_i . u_j
    dz = np.zeros_like(z)
    for i in range(m):
        if norms[i] >= 1e-12:
            jac = (np.eye(d) - np.outer(u[i], u[i])) / norms[i]   # d(z/|z|)/dz, symmetric
        else:
            jac = np.eye(d) / 1e-12                                # clamped norm: z / eps
        dz[i] = jac @ d_u[i]
    return dz


def ntxent_accuracy(z):
    m = z.shape[0]
    u = z / np.maximum(np.sqrt((z * z).sum(axis=1, keepdims=True)), 1e-12)
    sim = u @ u.T
    np.fill_diagonal(sim, -np.inf)
    return float(np.mean(sim.argmax(axis=1) == (np.arange(m) + m // 2) % m))


def ntxent_fixture(rng):
    cases = []
    base = f32(rng.normal(size=(8, 5)))
    for name, tau, z in [("tau0.5", 0.5, base), ("tau0.1", 0.1, base),
                         ("zero_row_tau0.5", 0.5, np.where(np.arange(8)[:, None] == 3, 0.0, base)),
                         ("pairs_tau0.2", 0.2, f32(np.concatenate([base[:4], base[:4] + 0.3 * rng.normal(size=(4, 5))])))]:
        loss = ntxent_loss(z, tau)
        grad = ntxent_gradient(z, tau)
        if not name.startswith("zero_row"):   # finite differences would leave the clamp
            fd = numeric_gradient(lambda x: ntxent_loss(x, tau), z.copy())
            assert np.allclose(grad, fd, rtol=1e-5, atol=1e-7), name
        cases.append({"name": name, "temperature": tau, "z": exact(z), "loss": out(loss),
                      "accuracy": out(ntxent_accuracy(z)), "grad": out(grad)})
    return {"cases": cases}


# ---------------------------------------------------------------------------------------------
# Softmax cross-entropy with torch's label smoothing: target (1 - eps) onehot + eps / K.

def cross_entropy(logits, labels, smoothing):
    n, k = logits.shape
    top = logits.max(axis=1, keepdims=True)
    log_p = logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
    q = np.full((n, k), smoothing / k)
    q[np.arange(n), labels] += 1 - smoothing
    return float(-(q * log_p).sum() / n)


def cross_entropy_gradient(logits, labels, smoothing):
    n, k = logits.shape
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    q = np.full((n, k), smoothing / k)
    q[np.arange(n), labels] += 1 - smoothing
    return (p - q) / n


def topk_hits(logits, labels, k):
    """A label is a hit when fewer than k logits of its row strictly exceed it."""
    above = (logits > logits[np.arange(len(labels)), labels][:, None]).sum(axis=1)
    return int((above < k).sum())


def cross_entropy_fixture(rng):
    logits = f32(3 * rng.normal(size=(6, 4)))
    logits[5] = f32([40.0, -30.0, 39.5, 0.0])        # large logits: the max must be subtracted
    labels = rng.integers(0, 4, size=6)
    labels[5] = 2
    cases = []
    for smoothing in [0.0, 0.1]:
        grad = cross_entropy_gradient(logits, labels, smoothing)
        fd = numeric_gradient(lambda x: cross_entropy(x, labels, smoothing), logits.copy())
        assert np.allclose(grad, fd, rtol=1e-5, atol=1e-7)
        cases.append({"label_smoothing": smoothing, "loss": out(cross_entropy(logits, labels, smoothing)),
                      "grad": out(grad)})
    return {"logits": exact(logits), "labels": labels.tolist(), "cases": cases,
            "top1_hits": topk_hits(logits, labels, 1), "top2_hits": topk_hits(logits, labels, 2),
            "predictions": logits.argmax(axis=1).tolist()}


# ---------------------------------------------------------------------------------------------
# Optimisers. Parameters carry roles; decayed() says whether weight decay (and LARS's trust ratio)
# applies: every parameter when decay_all, else role "weight" only.

PARAMETERS = [("layer.weight", [4, 3], "weight"), ("layer.bias", [4], "bias"),
              ("bn.weight", [4], "normWeight"), ("bn.bias", [4], "normBias"),
              ("head.weight", [2, 4], "weight")]


def decayed(role, decay_all):
    return decay_all or role == "weight"


def sgd(params, grads, lrs, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, decay_all=True):
    """torch.optim.SGD's documented algorithm; returns the values after each step and the buffers."""
    buffers = {}
    history = []
    for t, lr in enumerate(lrs):
        for name, _, role in PARAMETERS:
            g = grads[t][name].copy()
            if weight_decay != 0 and decayed(role, decay_all):
                g = g + weight_decay * params[name]
            if momentum != 0:
                if t == 0:
                    buffers[name] = g.copy()
                else:
                    buffers[name] = momentum * buffers[name] + (1 - dampening) * g
                g = g + momentum * buffers[name] if nesterov else buffers[name]
            params[name] = params[name] - lr * g
        history.append({k: v.copy() for k, v in params.items()})
    return history, {f"{k}.momentum_buffer": v for k, v in buffers.items()}


def adam(params, grads, lrs, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False,
         decay_all=True):
    """torch.optim.Adam / AdamW's documented algorithm (no amsgrad)."""
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(x) for k, x in params.items()}
    history = []
    for t0, lr in enumerate(lrs):
        t = t0 + 1
        for name, _, role in PARAMETERS:
            g = grads[t0][name].copy()
            lam = weight_decay if decayed(role, decay_all) else 0.0
            if decoupled:
                params[name] = params[name] * (1 - lr * lam)
            else:
                g = g + lam * params[name]
            m[name] = beta1 * m[name] + (1 - beta1) * g
            v[name] = beta2 * v[name] + (1 - beta2) * g * g
            m_hat = m[name] / (1 - beta1 ** t)
            v_hat = v[name] / (1 - beta2 ** t)
            params[name] = params[name] - lr * m_hat / (np.sqrt(v_hat) + eps)
        history.append({k: x.copy() for k, x in params.items()})
    state = {f"{k}.exp_avg": x for k, x in m.items()}
    state.update({f"{k}.exp_avg_sq": x for k, x in v.items()})
    return history, state


def lars(params, grads, lrs, momentum=0.9, weight_decay=1e-6, eta=0.001, nesterov=False, decay_all=False):
    """SimCLR's LARSOptimizer (lars_optimizer.py): biases and BatchNorm excluded from both."""
    velocity = {k: np.zeros_like(x) for k, x in params.items()}
    history = []
    for lr in lrs:
        for name, _, role in PARAMETERS:
            g = grads[len(history)][name].copy()
            scaled_lr = lr
            if decayed(role, decay_all):
                g = g + weight_decay * params[name]
                w_norm = np.linalg.norm(params[name])
                g_norm = np.linalg.norm(g)
                trust = eta * w_norm / g_norm if (w_norm > 0 and g_norm > 0) else 1.0
                scaled_lr = lr * trust
            velocity[name] = momentum * velocity[name] + scaled_lr * g
            update = momentum * velocity[name] + scaled_lr * g if nesterov else velocity[name]
            params[name] = params[name] - update
        history.append({k: x.copy() for k, x in params.items()})
    return history, {f"{k}.momentum": x for k, x in velocity.items()}


OPTIMIZER_CASES = [
    ("sgd_plain", sgd, {}, [0.1, 0.05, 0.08]),
    ("sgd_momentum", sgd, {"momentum": 0.9}, [0.1, 0.05, 0.08]),
    ("sgd_nesterov_wd", sgd, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.05}, [0.1, 0.05, 0.08]),
    ("sgd_dampening_wd", sgd, {"momentum": 0.8, "dampening": 0.3, "weight_decay": 0.05}, [0.1, 0.05, 0.08]),
    ("sgd_wd_decayed_only", sgd, {"momentum": 0.9, "weight_decay": 0.05, "decay_all": False}, [0.1, 0.05, 0.08]),
    ("adam", adam, {}, [0.01, 0.02, 0.005]),
    ("adam_l2", adam, {"weight_decay": 0.05, "beta1": 0.8, "beta2": 0.99}, [0.01, 0.02, 0.005]),
    ("adam_l2_decayed_only", adam, {"weight_decay": 0.05, "decay_all": False}, [0.01, 0.02, 0.005]),
    ("adamw", adam, {"weight_decay": 0.05, "decoupled": True}, [0.01, 0.02, 0.005]),
    ("adamw_decayed_only", adam, {"weight_decay": 0.05, "decoupled": True, "decay_all": False}, [0.01, 0.02, 0.005]),
    ("lars", lars, {}, [1.0, 2.0, 1.5]),
    ("lars_wd", lars, {"weight_decay": 0.01, "momentum": 0.8}, [1.0, 2.0, 1.5]),
    ("lars_nesterov_eta", lars, {"weight_decay": 0.01, "eta": 0.02, "nesterov": True}, [0.5, 1.0, 0.75]),
    ("lars_decay_all", lars, {"weight_decay": 0.01, "decay_all": True}, [1.0, 2.0, 1.5]),
]


def optimizer_fixture(rng):
    initial = {}
    for name, shape, _ in PARAMETERS:
        initial[name] = np.zeros(shape) if name == "head.weight" else f32(rng.normal(size=shape))
    grads = [{name: f32(rng.normal(size=shape)) for name, shape, _ in PARAMETERS} for _ in range(3)]
    for g in grads:   # gradients near sqrt(eps) tell eps outside Adam's square root from eps inside
        g["bn.bias"] = f32(1e-5 * g["bn.bias"])
    cases = []
    for case, rule, options, lrs in OPTIMIZER_CASES:
        history, state = rule({k: v.copy() for k, v in initial.items()}, grads, lrs, **options)
        cases.append({"name": case, "optimizer": rule.__name__, "options": options, "lrs": lrs,
                      "after": [{k: out(v) for k, v in h.items()} for h in history],
                      "state": {k: out(v) for k, v in state.items()}})
    return {"parameters": [{"name": n, "shape": s, "role": r, "value": exact(initial[n])} for n, s, r in PARAMETERS],
            "grads": [{k: exact(v) for k, v in g.items()} for g in grads],
            "cases": cases}


# ---------------------------------------------------------------------------------------------
# Schedules.

def warmup_cosine(base, warmup, total, final, step):
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(step - warmup, total - warmup) / (total - warmup)
    return final + (base - final) * 0.5 * (1 + math.cos(math.pi * progress))


class Plateau:
    """torch.optim.lr_scheduler.ReduceLROnPlateau's algorithm, one parameter group."""

    def __init__(self, lr, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        self.lr, self.mode, self.factor, self.patience = lr, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.min_lr, self.eps = min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def better(self, a):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < self.best * (1 - self.threshold)
        if self.mode == "min":
            return a < self.best - self.threshold
        if self.threshold_mode == "rel":
            return a > self.best * (1 + self.threshold)
        return a > self.best + self.threshold

    def step(self, metric):
        if self.better(metric):
            self.best = metric
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        reduced = False
        if self.num_bad_epochs > self.patience:
            new = max(self.lr * self.factor, self.min_lr)
            if self.lr - new > self.eps:
                self.lr = new
                reduced = True
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return reduced


PLATEAU_CASES = [
    ("min_rel_patience_cooldown_minlr", 0.1,
     {"mode": "min", "factor": 0.5, "patience": 2, "threshold": 0.01, "threshold_mode": "rel",
      "cooldown": 2, "min_lr": 0.02},
     [1.0, 0.9, 0.895, 0.893, 0.9, 0.95, 0.8, 0.81, 0.8, 0.79, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7, 0.8, 0.8, 0.8,
      0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]),
    ("min_abs", 1.0,
     {"mode": "min", "factor": 0.1, "patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
     [2.0, 1.97, 1.96, 1.9, 1.86, 1.84, 1.7, 1.69, 1.68, 1.67, 1.5]),
    ("max_rel_cooldown", 0.5,
     {"mode": "max", "factor": 0.2, "patience": 0, "threshold": 0.1, "threshold_mode": "rel", "cooldown": 1},
     [0.5, 0.56, 0.54, 0.6, 0.7, 0.7, 0.78, 0.8, 0.9, 0.95]),
    ("max_abs", 0.3,
     {"mode": "max", "factor": 0.5, "patience": 2, "threshold": 0.02, "threshold_mode": "abs", "min_lr": 0.01},
     [0.1, 0.2, 0.21, 0.215, 0.219, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25]),
    ("eps_ignores_tiny_updates", 1.5e-8,
     {"mode": "min", "factor": 0.5, "patience": 0},
     [3.0, 3.0, 3.0, 3.0, 2.0, 2.0]),
    ("torch_defaults", 0.001, {},
     [1.0] + [1.0] * 12 + [0.99995, 0.5] + [0.5] * 12),
]


def schedule_fixture():
    warmup = []
    for base, w, total, final in [(0.3, 5, 20, 0.0), (4.8, 3, 10, 0.001), (1.0, 0, 4, 0.0)]:
        warmup.append({"base_lr": base, "warmup_steps": w, "total_steps": total, "final_lr": final,
                       "lrs": out([warmup_cosine(base, w, total, final, s) for s in range(total + 3)])})
    step_decay = {"base_lr": 0.1, "gamma": 0.5, "step_epochs": 3,
                  "lrs": out([0.1 * 0.5 ** (e // 3) for e in range(11)])}
    plateau = []
    for name, lr, options, metrics in PLATEAU_CASES:
        s = Plateau(lr, **options)
        trace = []
        for metric in metrics:
            reduced = s.step(metric)
            trace.append({"lr": s.lr, "reduced": reduced, "best": s.best, "num_bad_epochs": s.num_bad_epochs,
                          "cooldown_counter": s.cooldown_counter})
        plateau.append({"name": name, "lr": lr, "options": options, "metrics": metrics, "trace": trace})
    return {"warmup_cosine": warmup, "step_decay": step_decay, "plateau": plateau}


# ---------------------------------------------------------------------------------------------
# Optional: the same numbers from PyTorch.

def torch_cross_check(fixtures):
    import torch
    import torch.nn.functional as F
    torch.set_default_dtype(torch.float64)

    for case in fixtures["ntxent"]["cases"]:
        z = torch.tensor(case["z"], requires_grad=True)
        m = z.shape[0]
        u = F.normalize(z, dim=1)
        logits = u @ u.T / case["temperature"]
        logits = logits.masked_fill(torch.eye(m, dtype=torch.bool), float("-inf"))
        loss = F.cross_entropy(logits, (torch.arange(m) + m // 2) % m)
        loss.backward()
        assert np.allclose(loss.item(), case["loss"], rtol=1e-9), case["name"]
        assert np.allclose(z.grad.numpy(), case["grad"], rtol=1e-7, atol=1e-9), case["name"]

    ce = fixtures["cross_entropy"]
    for case in ce["cases"]:
        logits = torch.tensor(ce["logits"], requires_grad=True)
        loss = F.cross_entropy(logits, torch.tensor(ce["labels"]), label_smoothing=case["label_smoothing"])
        loss.backward()
        assert np.allclose(loss.item(), case["loss"], rtol=1e-9)
        assert np.allclose(logits.grad.numpy(), case["grad"], rtol=1e-7, atol=1e-12)

    opt = fixtures["optimizers"]
    for case in opt["cases"]:
        if case["optimizer"] == "lars":
            continue   # torch has no LARS
        o = dict(case["options"])
        decay_all = o.pop("decay_all", True)
        params = {p["name"]: torch.tensor(p["value"], requires_grad=True) for p in opt["parameters"]}
        roles = {p["name"]: p["role"] for p in opt["parameters"]}
        wd = o.pop("weight_decay", 0.0)
        groups = [{"params": [params[n] for n in params if decay_all or roles[n] == "weight"], "weight_decay": wd},
                  {"params": [params[n] for n in params if not (decay_all or roles[n] == "weight")],
                   "weight_decay": 0.0}]
        groups = [g for g in groups if g["params"]]
        if case["optimizer"] == "sgd":
            optimizer = torch.optim.SGD(groups, lr=1.0, **o)
        else:
            betas = (o.pop("beta1", 0.9), o.pop("beta2", 0.999))
            cls = torch.optim.AdamW if o.pop("decoupled", False) else torch.optim.Adam
            optimizer = cls(groups, lr=1.0, betas=betas, **o)
        for t, lr in enumerate(case["lrs"]):
            for g in optimizer.param_groups:
                g["lr"] = lr
            for n, p in params.items():
                p.grad = torch.tensor(opt["grads"][t][n])
            optimizer.step()
            for n, p in params.items():
                assert np.allclose(p.detach().numpy(), case["after"][t][n], rtol=1e-9, atol=1e-12), (case["name"], n)

    for case in fixtures["schedules"]["plateau"]:
        p = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.SGD([p], lr=case["lr"])
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **case["options"])
        for metric, expected in zip(case["metrics"], case["trace"]):
            sched.step(metric)
            assert optimizer.param_groups[0]["lr"] == expected["lr"], case["name"]
            assert sched.num_bad_epochs == expected["num_bad_epochs"], case["name"]
            assert sched.cooldown_counter == expected["cooldown_counter"], case["name"]
            assert sched.best == expected["best"], case["name"]
    print(f"torch {torch.__version__}: every fixture agrees", file=sys.stderr)


def main():
    rng = np.random.default_rng(20240229)
    fixtures = {"ntxent": ntxent_fixture(rng), "cross_entropy": cross_entropy_fixture(rng),
                "optimizers": optimizer_fixture(rng), "schedules": schedule_fixture()}
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, content in fixtures.items():
        content = {"generator": "scripts/optim_reference.py", **content}
        (FIXTURES / f"{name}.json").write_text(json.dumps(content, indent=1, allow_nan=True) + "\n")
    if "--torch" in sys.argv:
        torch_cross_check(fixtures)


if __name__ == "__main__":
    main()
