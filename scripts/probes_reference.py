#!/usr/bin/env python3
"""Reference numbers for the Probes target's tests (logistic regression, k-NN).

Needs numpy, scipy and scikit-learn (for example /tmp/torch-ref/bin/python):

    python scripts/probes_reference.py    # writes Tests/ProbesTests/Fixtures/probe_*.json

The datasets are drawn here from a fixed seed and quantised to multiples of 1/64, so they are exact
in float32, short in JSON and identical on both sides.

Logistic regression: scikit-learn's LogisticRegression (lbfgs; multinomial for K >= 3, binomial with
2 C for K = 2, see logistic_case) fitted with a tight tolerance so that it sits at the minimum; the
softmax objective is then evaluated here in NumPy float64 (mean cross-entropy + ||W||^2 / (2 C N),
intercept unpenalised) at scikit-learn's solution, its gradient must vanish there, and scipy's
L-BFGS-B run on that same NumPy objective must reach the same minimum, which checks the objective
written here against scikit-learn's. The standardised case is Pipeline(StandardScaler,
LogisticRegression).

k-NN: a NumPy transcription of the weighted vote of Wu et al. 2018 (cosine similarity of L2-normalised
rows, the k most similar memory rows, weight exp(s / tau), votes summed per class, ties to the lower
index) and of the uniform majority vote, which must agree with scikit-learn's
KNeighborsClassifier(metric="cosine", algorithm="brute"). Float32 similarities differ from these
float64 ones in the last bits, so the script asserts that every query's k-th and (k+1)-th similarity,
and its competing vote totals, are far enough apart for float32 to give the same answers.
"""
import json
import pathlib

import numpy as np
import scipy.optimize
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "ProbesTests" / "Fixtures"
SIGNIFICANT = 10   # solver outputs are rounded so the last bits of BLAS and L-BFGS never change the files
QUANTUM = 64


def quantised(a):
    return np.round(np.asarray(a, dtype=np.float64) * QUANTUM) / QUANTUM


def out(a):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return float(f"{float(a):.{SIGNIFICANT}g}")
    return [out(x) for x in a]


def blobs(rng, n, f, k, spread, scale=None, offset=None):
    """n points of k overlapping Gaussian classes in f dimensions (balanced labels, shuffled)."""
    centres = rng.normal(size=(k, f)) * spread
    labels = rng.permutation(np.arange(n) % k)
    x = centres[labels] + rng.normal(size=(n, f))
    if scale is not None:
        x = x * scale + offset
    return quantised(x), labels


# ---------------------------------------------------------------------------------------------
# Multinomial logistic regression.

def objective(theta, x, y, k, lam):
    """mean cross-entropy + lam/2 ||W||^2 and its gradient; theta = [W (k*f, row-major), b (k)]."""
    n, f = x.shape
    w = theta[:k * f].reshape(k, f)
    b = theta[k * f:]
    logits = x @ w.T + b
    top = logits.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    loss = np.mean(lse - logits[np.arange(n), y]) + 0.5 * lam * np.sum(w * w)
    p = np.exp(logits - lse[:, None])
    p[np.arange(n), y] -= 1
    p /= n
    return loss, np.concatenate([(p.T @ x + lam * w).ravel(), p.sum(axis=0)])


def logistic_case(name, x, y, x_test, c, standardize):
    n, f = x.shape
    k = int(y.max()) + 1
    # With two classes scikit-learn fits one binomial vector v; the two softmax rows +-v/2 pay half
    # its penalty, so the softmax model with C is scikit-learn's binary model with 2 C.
    model = LogisticRegression(C=2 * c if k == 2 else c, max_iter=1000, tol=1e-10)
    estimator = make_pipeline(StandardScaler(), model) if standardize else model
    estimator.fit(x, y)
    xs = StandardScaler().fit(x).transform(x) if standardize else x
    lam = 1.0 / (c * n)
    if k == 2:
        theta = np.concatenate([np.concatenate([-model.coef_, model.coef_]).ravel() / 2,
                                np.concatenate([-model.intercept_, model.intercept_]) / 2])
    else:
        theta = np.concatenate([model.coef_.ravel(), model.intercept_])
    minimum, grad = objective(theta, xs, y, k, lam)
    assert np.abs(grad).max() < 1e-7, (name, np.abs(grad).max())

    check = scipy.optimize.minimize(objective, np.zeros(k * f + k), args=(xs, y, k, lam), jac=True,
                                    method="L-BFGS-B", options={"maxiter": 10000, "gtol": 1e-12, "ftol": 1e-15})
    assert check.fun >= minimum - 1e-12 and abs(check.fun - minimum) < 1e-10 * abs(minimum), (name, check.fun, minimum)

    return {"name": name, "C": c, "standardize": standardize, "classes": k,
            "train_features": x.tolist(), "train_labels": y.tolist(), "test_features": x_test.tolist(),
            "objective": out(minimum),
            "train_predictions": estimator.predict(x).tolist(),
            "test_predictions": estimator.predict(x_test).tolist(),
            "test_probabilities": out(estimator.predict_proba(x_test)),
            "train_accuracy": out(estimator.score(x, y))}


def logistic_fixture(rng):
    cases = []
    x, y = blobs(rng, 240, 6, 4, spread=1.2)
    x_test, _ = blobs(rng, 60, 6, 4, spread=1.2)
    cases.append(logistic_case("raw_C0.5", x, y, x_test, 0.5, False))
    pair = y < 2
    cases.append(logistic_case("binary_C0.5", x[pair], y[pair], x_test[:30], 0.5, False))

    scale = np.array([0.05, 1.0, 8.0, 0.5, 20.0])
    offset = np.array([3.0, -2.0, 40.0, 0.25, -100.0])
    both, labels = blobs(rng, 300, 5, 5, spread=1.0, scale=scale, offset=offset)
    cases.append(logistic_case("standardized_C2", both[:240], labels[:240], both[240:], 2.0, True))
    return {"cases": cases}


# ---------------------------------------------------------------------------------------------
# k-NN.

def normalise(x):
    return x / np.maximum(np.sqrt((x * x).sum(axis=1, keepdims=True)), 1e-12)


def knn_votes(memory, labels, queries, k, classes, tau):
    """[Q, classes] vote totals; tau None means uniform weights. Also the smallest gap between the
    k-th and (k+1)-th similarity over all queries."""
    sims = normalise(queries) @ normalise(memory).T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    chosen = np.take_along_axis(sims, order, axis=1)
    following = np.take_along_axis(sims, np.argsort(-sims, axis=1, kind="stable")[:, k:k + 1], axis=1)
    gap = float((chosen[:, -1] - following[:, 0]).min())
    weights = np.ones_like(chosen) if tau is None else np.exp(chosen / tau)
    votes = np.zeros((len(queries), classes))
    for q in range(len(queries)):
        for j in range(k):
            votes[q, labels[order[q, j]]] += weights[q, j]
    return votes, gap


def ranking(votes):
    """classes by votes descending, ties to the lower class."""
    return np.argsort(-votes, axis=1, kind="stable")


def vote_margin(votes, weighted):
    """The smallest relative gap between vote totals that the top-1 and top-5 answers depend on
    (unweighted votes are integer counts, exact in float32 too)."""
    if not weighted:
        return float("inf")
    ranked = np.take_along_axis(votes, ranking(votes), axis=1)
    margins = []
    for row in ranked:
        for a, b in [(0, 1), (4, 5)]:
            if b < len(row) and row[a] > 0 and row[a] != row[b]:
                margins.append((row[a] - row[b]) / row[a])
            elif b < len(row) and row[a] > 0:
                raise AssertionError("tied nonzero vote totals")
    return float(min(margins))


def knn_case(name, memory, labels, queries, query_labels, classes, k, tau):
    votes, gap = knn_votes(memory, labels, queries, k, classes, tau)
    margin = vote_margin(votes, tau is not None)
    assert gap > 1e-5, (name, gap)
    assert margin > 1e-4, (name, margin)
    ranked = ranking(votes)
    predictions = ranked[:, 0]
    case = {"name": name, "k": k, "temperature": tau, "votes": out(votes),
            "predictions": predictions.tolist(),
            "top1": out(np.mean(predictions == query_labels)),
            "top5": out(np.mean([y in r[:5] for y, r in zip(query_labels, ranked)])),
            "similarity_gap": out(gap)}
    if tau is None:
        sk = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute").fit(memory, labels)
        sk_predictions = sk.predict(queries)
        assert (sk_predictions == predictions).all(), name
        case["sklearn_predictions"] = sk_predictions.tolist()
        case["sklearn_accuracy"] = out(sk.score(queries, query_labels))
    return case


def knn_fixture(rng):
    classes = 8
    both, labels = blobs(rng, 300, 8, classes, spread=0.9)
    memory, memory_labels = both[:220], labels[:220]
    queries, query_labels = both[220:], labels[220:]
    cases = [knn_case("weighted_k20_tau0.07", memory, memory_labels, queries, query_labels, classes, 20, 0.07),
             knn_case("weighted_k5_tau0.5", memory, memory_labels, queries, query_labels, classes, 5, 0.5),
             knn_case("uniform_k20", memory, memory_labels, queries, query_labels, classes, 20, None),
             knn_case("uniform_k7", memory, memory_labels, queries, query_labels, classes, 7, None)]
    return {"classes": classes, "memory": memory.tolist(), "memory_labels": memory_labels.tolist(),
            "queries": queries.tolist(), "query_labels": query_labels.tolist(), "cases": cases}


def dumps(value, depth=0):
    """JSON with one key per line and every list on one line: readable diffs, small files."""
    if isinstance(value, dict):
        pad = " " * (depth + 1)
        items = [f"{pad}{json.dumps(k)}: {dumps(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        pad = " " * (depth + 1)
        return "[\n" + ",\n".join(pad + dumps(v, depth + 1) for v in value) + "\n" + " " * depth + "]"
    return json.dumps(value, separators=(",", ":"))


def main():
    rng = np.random.default_rng(20240612)
    fixtures = {"probe_logistic": logistic_fixture(rng), "probe_knn": knn_fixture(rng)}
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, content in fixtures.items():
        content = {"generator": "scripts/probes_reference.py", "sklearn": sklearn.__version__, **content}
        (FIXTURES / f"{name}.json").write_text(dumps(content) + "\n")


if __name__ == "__main__":
    main()
