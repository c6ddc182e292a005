"""Expected calibration error against hand-computed cases, and on a network's own predictions."""

from __future__ import annotations

import pytest
import torch

from spikeopt.snn.config import ModelConfig
from spikeopt.tasks import make_task
from spikeopt.tasks.calibration import calibration_scores, expected_calibration_error


def test_hand_computed_two_bins():
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.55, 0.45], [0.5, 0.5]])
    labels = torch.tensor([0, 1, 1, 0, 1])
    ece, table = expected_calibration_error(probs, labels, bins=2)
    # bin (0, .5]: the 0.5 row, predicted class 0, wrong: |0 - 0.5| = 0.5, weight 1/5
    # bin (.5, 1]: confidences .9 .6 .7 .55 (mean .6875), right 3 of 4 (.75): |.75 - .6875| = .0625, weight 4/5
    assert ece == pytest.approx(0.5 / 5 + 0.0625 * 4 / 5)
    assert [b["count"] for b in table] == [1, 4]
    assert table[1]["accuracy"] == pytest.approx(0.75) and table[1]["confidence"] == pytest.approx(0.6875)


def test_perfectly_calibrated_and_overconfident_cases():
    # 10 rows at confidence 0.8, 8 of them right: calibrated; all wrong: ECE 0.8
    probs = torch.tensor([[0.8, 0.2]] * 10, dtype=torch.float64)
    assert expected_calibration_error(probs, torch.tensor([0] * 8 + [1] * 2))[0] == pytest.approx(0.0)
    assert expected_calibration_error(probs, torch.ones(10, dtype=torch.long))[0] == pytest.approx(0.8)


@pytest.mark.parametrize("probs, labels, bins, match", [
    (torch.ones(3, 2) / 2, torch.zeros(2, dtype=torch.long), 15, "labels"),
    (torch.ones(0, 2), torch.zeros(0, dtype=torch.long), 15, "at least one"),
    (torch.ones(3, 2) / 2, torch.zeros(3, dtype=torch.long), 0, "bins"),
])
def test_bad_inputs_are_refused(probs, labels, bins, match):
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(probs, labels, bins)


def test_network_scores_match_a_hand_loop_over_its_softmax():
    task = make_task("first-last-xor", steps=4, n_train=16, n_val=8, n_test=40)
    data = task.splits(0)["test"]
    model = ModelConfig(subnetworks=2, width=4).build(task.in_features, task.out_features, task.readout, seed=1)
    out = calibration_scores(task, model, data, bins=5)
    with torch.no_grad():
        logits = model(data.x)[0]
    probs = torch.softmax(logits.double(), -1)
    conf, pred = probs.max(-1)
    labels = data.y[:, 0]
    expected = 0.0
    for b in range(5):
        rows = [i for i in range(len(conf)) if b / 5 < conf[i] <= (b + 1) / 5]
        if rows:
            acc = sum(int(pred[i] == labels[i]) for i in rows) / len(rows)
            expected += len(rows) / len(conf) * abs(acc - sum(float(conf[i]) for i in rows) / len(rows))
    assert out["ece"] == pytest.approx(expected, abs=1e-12)
    assert sum(b["count"] for b in out["bins"]) == len(data)
