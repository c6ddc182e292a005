"""Which time statistic of the default witnesses' spikes carries the label: a readout diagnostic.

    python benchmarks/readout_features.py --suites mnist ucr-ItalyPowerDemand ucr-GunPoint --seeds 0

The question behind it: CVX's default readout counts each witness neuron's spikes over the whole
sequence. A count cannot tell *when* a neuron fired, while logistic regression on the raw,
flattened input sees every step where it happened. On time-locked data (a digit's rows, a day's
load profile) that may be what CVX loses to logistic regression.

For each suite and seed this builds the library's default CVX witnesses exactly as ``spikeopt
train --method cvx`` does (recommended architecture, calibrated witnesses through the delay line,
``convex.atoms`` informative atoms), rolls train / val / test through them, and fits one
classifier (L2 logistic regression, C chosen on val, features standardised on train) on each
statistic of the spike trains:

- ``count``: spikes over all steps (today's readout);
- ``last``: the last step's spikes (the paper's readout);
- ``count+last``: both;
- ``leaky``: leaky integrators with decays 1, 0.9 and 0.7 per neuron (three readout time constants, realisable as
  non-spiking LIF readout neurons);
- ``windows4``: counts in four equal windows of the sequence.

Logistic regression on the raw input is printed beside them. It is the same classifier for every statistic, so the
comparison is between the features. It is not CVX's group-lasso readout: the accuracies are a diagnostic,
not the library's.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from _meta import run_meta  # noqa: E402
from accuracy import logreg_run, suite_spec  # noqa: E402

HERE = Path(__file__).resolve().parent
CS = (0.001, 0.01, 0.1, 1.0, 10.0)


def witnesses_for(task, train, seed: int):
    """The default CVX witness network of ``spikeopt train --method cvx`` on ``train``."""
    import torch

    from spikeopt.convex.dictionary import LAYOUT_OF_READOUT
    from spikeopt.convex.dictionary_fill import fill_dictionary
    from spikeopt.snn.config import ModelConfig
    from spikeopt.train.convex_config import ConvexConfig
    from spikeopt.train.cvx import BLOCK_NEURONS, block_seed, witness_sampler

    model = ModelConfig.recommended().resolved(train.x.shape[0])
    c = ConvexConfig()
    per_block = max(model.subnetworks, -(-min(c.atoms, BLOCK_NEURONS) // model.width))
    model = replace(model, subnetworks=per_block)
    max_blocks = c.max_blocks or 4 * -(-c.atoms // (per_block * model.width)) + 1
    readout = model.resolve_readout(task.readout)
    layout = LAYOUT_OF_READOUT[readout]
    sample = witness_sampler(task, c, train, model, layout, 1.0, [])
    _, witnesses = fill_dictionary(lambda b: sample(block_seed(seed, b)), train.x, c.atoms, layout, 1.0,
                                   c.near_duplicate, c.chunk_size, max_blocks, device=torch.device("cpu"), seed=seed)
    return witnesses


def statistics(witnesses, x) -> dict[str, np.ndarray]:
    import torch

    with torch.no_grad():
        s = witnesses.hidden_spikes(x).flatten(2).double()  # [T, B, neurons]
    steps = s.shape[0]
    out = {"count": s.sum(0), "last": s[-1]}
    out["count+last"] = torch.cat([out["count"], out["last"]], 1)
    leaky = []
    for decay in (1.0, 0.9, 0.7):
        w = decay ** torch.arange(steps - 1, -1, -1, dtype=torch.float64)
        leaky.append(torch.einsum("t,tbn->bn", w, s))
    out["leaky"] = torch.cat(leaky, 1)
    edges = np.linspace(0, steps, 5).round().astype(int)
    out["windows4"] = torch.cat([s[a:b].sum(0) for a, b in zip(edges[:-1], edges[1:])], 1)
    return {k: v.numpy() for k, v in out.items()}


def fit_score(train, val, test, ytr, yva, yte) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    keep = train.std(0) > 0
    sc = StandardScaler().fit(train[:, keep])
    tr, va, te = (sc.transform(a[:, keep]) for a in (train, val, test))
    best = max(CS, key=lambda c: (np.mean(LogisticRegression(C=c, max_iter=3000).fit(tr, ytr).predict(va) == yva), -c))
    model = LogisticRegression(C=best, max_iter=3000).fit(tr, ytr)
    return float(np.mean(model.predict(te) == yte)), best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suites", nargs="+", default=["mnist", "ucr-ItalyPowerDemand", "ucr-GunPoint"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--out", default=str(HERE / "results" / "readout_features.json"))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from spikeopt.experiments.run import write_json
    from spikeopt.tasks import make_task

    rows = []
    for suite in args.suites:
        task_name, options, _ = suite_spec(suite)
        for seed in args.seeds:
            task = make_task(task_name, **options)
            splits = task.splits(seed)
            wit = witnesses_for(task, splits["train"], seed)
            feats = {k: statistics(wit, splits[k].x) for k in ("train", "val", "test")}
            ys = [splits[k].y[:, 0].numpy() for k in ("train", "val", "test")]
            row = {"suite": suite, "seed": seed, "neurons": int(wit.subnetworks * wit.width),
                   "logreg_raw": logreg_run(task_name, options, seed)["metrics"]["test"]["accuracy"]}
            for name in feats["train"]:
                acc, c = fit_score(feats["train"][name], feats["val"][name], feats["test"][name], *ys)
                row[name] = acc
                row[f"{name}_C"] = c
            rows.append(row)
            print(f"{suite:22s} seed {seed} neurons {row['neurons']:5d} raw {row['logreg_raw']:.3f}  " +
                  "  ".join(f"{k} {row[k]:.3f}" for k in feats["train"]), flush=True)
    write_json({"command": " ".join(sys.argv), "meta": run_meta(), "rows": rows}, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
