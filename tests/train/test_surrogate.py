"""Surrogate-gradient training: gradients against snnTorch, selection, early stopping, fine-tuning."""

import copy

import pytest
import torch

from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks import make_task
from spikeopt.train.surrogate import SGConfig, train_sg


def snntorch_output(net: ParallelLIFSNN, x: torch.Tensor, snn) -> torch.Tensor:
    """The same network written as a user would with snnTorch: a loop over subnetworks and steps."""
    outs = []
    for k in range(net.subnetworks):
        layers = [snn.Leaky(beta=float(net.beta[0, 0, 0]), threshold=float(net.threshold[0, 0, 0]),
                            spike_grad=snn.surrogate.atan(alpha=2.0)) for _ in range(net.depth)]
        mems = [lay.init_leaky() for lay in layers]
        spk = None
        for t in range(x.shape[0]):
            h = x[t]
            for layer, lay in enumerate(layers):
                cur = h @ net.weights[layer][k] + net.biases[layer][k]
                h, mems[layer] = lay(cur, mems[layer])
            spk = h
        outs.append(spk)
    return torch.cat(outs, dim=-1) @ net.output.weight.T + net.output.bias


def test_gradients_equal_snntorch():
    import snntorch as snn  # a reference test: fails, never skips, when snnTorch is missing
    net = ParallelLIFSNN(3, 2, subnetworks=3, width=5, depth=2, beta=0.8, threshold=1.0, init_scale=2.5, seed=0)
    x = torch.rand(6, 7, 3)
    y = torch.randint(0, 2, (7,))
    ours, _ = net(x)
    torch.nn.functional.cross_entropy(ours, y).backward()
    grads = {n: p.grad.clone() for n, p in net.named_parameters()}
    net.zero_grad()
    theirs = snntorch_output(net, x, snn)
    assert torch.allclose(ours, theirs, atol=1e-6)
    torch.nn.functional.cross_entropy(theirs, y).backward()
    for n, p in net.named_parameters():
        assert torch.allclose(grads[n], p.grad, atol=1e-5), n
        assert p.grad.abs().sum() > 0, n


def _setup(seed=0):
    task = make_task("first-last-xor", steps=4, n_train=256, n_val=128, n_test=64)
    splits = task.splits(seed)
    net = ParallelLIFSNN(1, 2, subnetworks=4, width=8, readout="final", seed=seed)
    return task, splits, net


def test_training_learns_and_keeps_best_validation_weights():
    task, splits, net = _setup()
    history = train_sg(net, task, splits["train"], splits["val"], SGConfig(epochs=15, lr=1e-2, batch_size=32, progress=False))
    losses = [r["train_loss"] for r in history.records if r["train_loss"] is not None]
    assert losses[-1] < losses[0]
    assert task.evaluate(net, splits["val"])["accuracy"] == pytest.approx(history.best_score)
    assert history.best_score == max(r["val_accuracy"] for r in history.records)


def test_same_seed_same_result():
    results = []
    for _ in range(2):
        task, splits, net = _setup()
        train_sg(net, task, splits["train"], splits["val"], SGConfig(epochs=2, batch_size=32, progress=False), seed=3)
        results.append(net.output.weight.detach().clone())
    assert torch.equal(results[0], results[1])


def test_patience_stops_early():
    task, splits, net = _setup()
    history = train_sg(net, task, splits["train"], splits["val"],
                       SGConfig(epochs=50, lr=1e-9, patience=2, progress=False))
    assert history.records[-1]["epoch"] <= 3


def test_finetuning_starts_from_the_given_model():
    task, splits, net = _setup()
    before = copy.deepcopy(net.state_dict())
    train_sg(net, task, splits["train"], None, SGConfig(epochs=1, lr=1e-6, progress=False))
    for k, v in net.state_dict().items():
        assert torch.allclose(v, before[k], atol=1e-4), k


def test_readout_only_training_freezes_hidden_layers():
    task, splits, net = _setup()
    before = net.weights[0].detach().clone()
    train_sg(net, task, splits["train"], None, SGConfig(epochs=2, train_hidden=False, progress=False))
    assert torch.equal(net.weights[0], before)


def test_weight_decay_shrinks_weights():
    norms = []
    for wd in (0.0, 1.0):
        task, splits, net = _setup()
        train_sg(net, task, splits["train"], None, SGConfig(epochs=10, lr=1e-2, weight_decay=wd, progress=False))
        norms.append(sum(p.norm() ** 2 for p in net.parameters()).item())
    assert norms[1] < 0.8 * norms[0]


@pytest.mark.parametrize("kwargs", [{"epochs": -1}, {"lr": 0.0}, {"batch_size": 0}, {"grad_clip": -1.0}, {"patience": 0}])
def test_bad_config_raises(kwargs):
    with pytest.raises(ValueError):
        SGConfig(**kwargs)
