"""Sharpness-aware surrogate training: the SAM step by hand, rho = 0 is plain training, smooth -> hard
as the slope grows, hard-spike model selection, the method's report, and config validation."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch
from torch.func import functional_call

from spikeopt.snn.config import ModelConfig
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks import make_task
from spikeopt.tasks.base import SequenceData
from spikeopt.train.sast import (
    SASTConfig,
    make_optimizer,
    method_sast,
    sam_step,
    spike_mode,
    train_sast,
    transfer_scores,
)
from spikeopt.train.surrogate import SGConfig, train_sg


def tiny_net(seed: int = 0) -> ParallelLIFSNN:
    net = ParallelLIFSNN(3, 2, subnetworks=2, width=4, depth=2, init_scale=2.0, seed=seed).double()
    net.spike_mode = "smooth"
    net.detach_reset = False
    return net


def tiny_batch(seed: int = 0, n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(5, n, 3, generator=gen, dtype=torch.float64), torch.randint(0, 2, (n,), generator=gen)


def loss_at(net: ParallelLIFSNN, weights: dict[str, torch.Tensor], x, y) -> torch.Tensor:
    out, _ = functional_call(net, weights, (x,))
    return torch.nn.functional.cross_entropy(out, y)


def hand_sam(net, x_a, y_a, x_d, y_d, rho):
    """SAM by hand with plain autograd: g at w, e = rho g / ||g||, g' at w + e."""
    names = [n for n, _ in net.named_parameters()]
    w = {n: p.detach().clone().requires_grad_(True) for n, p in net.named_parameters()}
    g = torch.autograd.grad(loss_at(net, w, x_a, y_a), [w[n] for n in names])
    norm = torch.sqrt(sum((gi**2).sum() for gi in g))
    w_pert = {n: (w[n] + rho * gi / norm).detach().requires_grad_(True) for n, gi in zip(names, g)}
    g2 = torch.autograd.grad(loss_at(net, w_pert, x_d, y_d), [w_pert[n] for n in names])
    return {n: w[n].detach() for n in names}, dict(zip(names, g2))


def closure(net, x, y):
    return lambda: torch.nn.functional.cross_entropy(net(x)[0], y)


@pytest.mark.parametrize("rho", [0.05, 0.3])
def test_sam_step_with_sgd_equals_hand_computed_update(rho):
    net = tiny_net()
    x, y = tiny_batch()
    w, g2 = hand_sam(net, x, y, x, y, rho)
    params = list(net.parameters())
    opt = torch.optim.SGD(params, lr=0.1)
    step = sam_step(params, closure(net, x, y), closure(net, x, y), opt, rho)
    for n, p in net.named_parameters():
        torch.testing.assert_close(p.detach(), w[n] - 0.1 * g2[n], rtol=1e-10, atol=1e-12)
    assert step.grad_norm > 0 and step.perturbed_loss > step.loss  # the ascent went uphill


def test_sam_step_with_adam_and_two_batches_equals_hand_computed_update():
    net = tiny_net(1)
    (x_a, y_a), (x_d, y_d) = tiny_batch(1), tiny_batch(2)
    w, g2 = hand_sam(net, x_a, y_a, x_d, y_d, 0.2)
    params = list(net.parameters())
    opt = torch.optim.Adam(params, lr=0.01, eps=1e-8)
    sam_step(params, closure(net, x_a, y_a), closure(net, x_d, y_d), opt, 0.2)
    for n, p in net.named_parameters():  # Adam's first step: lr * g / (|g| + eps)
        expected = w[n] - 0.01 * g2[n] / (g2[n].abs() + 1e-8)
        torch.testing.assert_close(p.detach(), expected, rtol=1e-9, atol=1e-10)


def test_sam_step_with_rho_zero_is_a_plain_step():
    net, plain = tiny_net(2), tiny_net(2)
    x, y = tiny_batch(3)
    calls = []

    def ascent():
        calls.append("ascent")
        return closure(net, x, y)()

    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    sam_step(list(net.parameters()), ascent, closure(net, x, y), opt, 0.0, grad_clip=0.5)
    ref = torch.optim.SGD(plain.parameters(), lr=0.1, momentum=0.9)
    closure(plain, x, y)().backward()
    torch.nn.utils.clip_grad_norm_(list(plain.parameters()), 0.5)
    ref.step()
    assert calls == []  # no ascent gradient is computed
    for a, b in zip(net.parameters(), plain.parameters()):
        assert torch.equal(a, b)


def digits(n_train=96):
    task = make_task("mnist-seq", steps=8, n_train=n_train)
    return task, task.splits(0)


@pytest.mark.parametrize("two_batches", [False, True])
def test_rho_zero_training_equals_plain_surrogate_forward_training(two_batches):
    task, splits = digits()
    model = ModelConfig(subnetworks=2, width=8).build(task.in_features, task.out_features, "final", seed=0)
    plain = copy.deepcopy(model)
    cfg = SASTConfig(rho=0.0, epochs=2, batch_size=32, lr=1e-2, grad_clip=0.5, two_batches=two_batches,
                     progress=False)
    history = train_sast(model, task, splits["train"], None, cfg, seed=4)
    plain.spike_mode, plain.detach_reset = "smooth", False
    train_sg(plain, task, splits["train"], None, SGConfig(epochs=2, batch_size=32, lr=1e-2, grad_clip=0.5,
                                                          progress=False), seed=4)
    for a, b in zip(model.state_dict().values(), plain.state_dict().values()):
        assert torch.equal(a, b)
    assert model.spike_mode == "hard" and model.detach_reset is True  # restored for deployment
    assert history.overhead == pytest.approx(1.0) and len(history.epoch_seconds) == 2


@pytest.mark.parametrize("name", ["atan", "sigmoid", "fast_sigmoid", "triangle", "straight_through"])
def test_smooth_model_converges_to_hard_model_as_slope_grows(name):
    x = torch.rand(12, 64, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    errors = []
    for slope in (1.0, 10.0, 1e2, 1e4, 1e6):
        net = ParallelLIFSNN(5, 3, subnetworks=3, width=6, depth=2, surrogate=name, slope=slope,
                             init_scale=3.0, seed=0).double()
        hard, _ = net(x)
        with spike_mode(net, "smooth"):
            smooth, _ = net(x)
        errors.append((smooth - hard).abs().max().item())
    # far from the limit the worst case may wobble; from slope 100 on the error may only shrink, to ~0
    assert errors[2] >= errors[3] >= errors[4], errors
    assert max(errors[:2]) > 1e-2 and errors[-1] < 1e-3, errors


def test_selection_keeps_the_best_hard_spike_validation_epoch():
    task, splits = digits()
    model = ModelConfig(subnetworks=2, width=8).build(task.in_features, task.out_features, "final", seed=1)
    cfg = SASTConfig(rho=0.1, epochs=3, batch_size=32, lr=3e-2, progress=False, two_batches=True)
    history = train_sast(model, task, splits["train"], splits["val"], cfg, seed=0)
    records = [r for r in history.records if "val_hard" in r]
    best = max(records, key=lambda r: r["val_hard"])
    assert history.best_epoch == best["epoch"] and history.best_score == best["val_hard"]
    scores = transfer_scores(task, model, splits["val"])
    assert scores["hard"] == history.best_score and model.spike_mode == "hard"
    assert scores["gap"] == pytest.approx(scores["smooth"] - scores["hard"])
    assert history.plain_epoch_seconds > 0 and history.overhead > 0


def test_method_sast_reports_transfer_corruptions_and_overhead():
    task, splits = digits(64)
    settings = SimpleNamespace(
        model=ModelConfig(subnetworks=2, width=8),
        sast=SASTConfig(rho=0.2, epochs=2, batch_size=32, progress=False),
    )
    out = method_sast(task, splits, settings, 0, torch.device("cpu"))
    info = out.info["sast"]
    assert out.model.spike_mode == "hard"
    assert info["hard_accuracy"] == task.evaluate(out.model, splits["test"])["accuracy"]
    assert info["transfer_gap"] == pytest.approx(info["clean_accuracy"] - info["hard_accuracy"])
    assert set(info["transfer"]) == {"train", "val", "test"}
    assert set(info["corruptions"]) == {"gaussian"} and info["corruptions"]["gaussian"]["level"] == 0.3
    assert info["overhead"] > 0 and info["grad_evals_per_step"] == 2
    assert len(out.info["history"]["sast"]["records"]) == 3
    # calibration of the deployed hard-spike predictions: its reliability bins count every test sample and
    # the accuracy they pool is the hard-spike test accuracy
    bins = info["calibration"]["bins"]
    assert sum(b["count"] for b in bins) == len(splits["test"])
    pooled = sum(b["accuracy"] * b["count"] for b in bins) / len(splits["test"])
    assert pooled == pytest.approx(info["hard_accuracy"]) and 0 <= info["calibration"]["ece"] <= 1
    assert info["theory"]["rho"] == SASTConfig().sharpness_rho and info["theory"]["input_grad_norm"] > 0
    default = method_sast(task, splits, SimpleNamespace(model=ModelConfig(subnetworks=2, width=8)), 0, "cpu")
    assert default.info["sast"]["rho"] == SASTConfig().rho  # settings without a sast section


def test_method_sast_on_event_data_uses_event_corruptions(tmp_path):
    task = make_task("event-digits", size=8, steps=3, cache_dir=str(tmp_path), n_train=60)
    splits = task.splits(0)
    settings = SimpleNamespace(model=ModelConfig(subnetworks=2, width=4),
                               sast=SASTConfig(rho=0.3, epochs=1, progress=False, measure_overhead=False))
    info = method_sast(task, splits, settings, 0, torch.device("cpu")).info["sast"]
    assert set(info["corruptions"]) == {"drop", "noise", "jitter"}
    assert all("hard" in v and "smooth" in v for v in info["corruptions"].values())
    assert info["overhead"] is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rho": -0.1}, {"rho": float("nan")}, {"optimizer": "lbfgs"}, {"lr": 0}, {"momentum": 1.0},
        {"epochs": -1}, {"batch_size": 0}, {"weight_decay": -1}, {"grad_clip": 0}, {"drop_fraction": 1.5},
        {"noise_fraction": -1}, {"jitter_us": float("inf")}, {"noise_std": -0.5}, {"corruption_seed": -1},
        {"two_batches": "yes"}, {"epochs": 2.5},
    ],
)
def test_bad_config_raises(kwargs):
    with pytest.raises(ValueError):
        SASTConfig(**kwargs)


def test_bad_calls_raise():
    net = tiny_net()
    opt = make_optimizer(list(net.parameters()), SASTConfig(optimizer="sgd"))
    assert isinstance(opt, torch.optim.SGD)
    x, y = tiny_batch()
    with pytest.raises(ValueError, match="rho"):
        sam_step(list(net.parameters()), closure(net, x, y), closure(net, x, y), opt, -1.0)
    with pytest.raises(ValueError, match="spike mode"):
        with spike_mode(net, "soft"):
            pass
    with pytest.raises(FloatingPointError):
        sam_step(list(net.parameters()), lambda: torch.tensor(float("nan")), closure(net, x, y), opt, 0.1)
    task, splits = digits(32)
    with pytest.raises(TypeError, match="ParallelLIFSNN"):
        train_sast(torch.nn.Linear(2, 2), task, splits["train"], None)  # type: ignore[arg-type]
    bad = SequenceData(splits["train"].x, splits["train"].y + 20)
    model = ModelConfig(subnetworks=2, width=4).build(task.in_features, task.out_features, "final")
    with pytest.raises(ValueError, match="labels"):
        train_sast(model, task, bad, None, SASTConfig(epochs=1, progress=False))


def test_rho_sweep_plot_writes_a_png(tmp_path):
    import matplotlib  # noqa: F401  (in the test extra: fails, never skips)
    from spikeopt.plots.sast import plot_rho_sweep

    sweep = {"rho": [0.0, 0.1], "hard": [[0.5, 0.6], [0.7, 0.8]], "gap": [[0.1, 0.2], [0.0, 0.05]]}
    path = plot_rho_sweep({"toy": sweep}, tmp_path / "sub" / "rho.png", title="toy")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="lacks"):
        plot_rho_sweep({"toy": {"rho": [0.0]}}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="per rho"):
        plot_rho_sweep({"toy": {**sweep, "hard": [[0.5]]}}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="no sweeps"):
        plot_rho_sweep({}, tmp_path / "x.png")
