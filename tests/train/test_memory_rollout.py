"""The SG / SAST memory estimate is that of the blocked, checkpointed rollout the model really takes.

Independent reference: the peak resident memory a child process really reaches (forward and
backward of ParallelLIFSNN), against the estimate, on sizes where the rollout's tensors are tens
to hundreds of MiB (so allocator and page noise stay small beside them).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spikeopt.snn import blocked
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.train import memory

CHILD = Path(__file__).with_name("_rollout_peak.py")
MIB = 2**20


def _measure(*args) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(CHILD), *map(str, args)], capture_output=True, text=True, check=True,
                         env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("steps,batch,k,depth,readout,grad", [
    (256, 128, 16, 2, "final", 1),        # no checkpointing: every membrane kept
    (1024, 128, 16, 2, "final", 1),       # "auto" checkpointing on: ~sqrt(T) kept
    (256, 128, 16, 2, "per_step", 1),     # every step's spikes returned (and their gradient)
    (256, 1024, 16, 2, "final", 0),       # evaluation: no graph
])
def test_estimate_matches_measured_peak(steps, batch, k, depth, readout, grad):
    res = _measure(steps, batch, k, 32, depth, readout, grad)
    measured, estimate = res["measured"], res["estimate"]
    assert 0.7 * estimate - 16 * MIB <= measured <= 1.3 * estimate + 16 * MIB, (measured / MIB, estimate / MIB)


@pytest.mark.parametrize("readout", ["final", "integrate", "per_step"])
def test_size_only_estimate_equals_the_models(readout):
    """What experiments/run.py computes from the config equals what the built model budgets."""
    for steps, samples, batch in ((8, 64, 128), (512, 5000, 128), (4096, 300, 256)):
        net = ParallelLIFSNN(3, 4, subnetworks=8, width=16, depth=2, readout=readout, seed=0)
        want = (4 * 5 * memory.network_parameters(3, 4, 8, 16, 2) + net.rollout_bytes(steps, min(batch, samples), True)
                + net.rollout_bytes(steps, min(1024, samples), False))
        got = memory.gradient_training_bytes(steps, samples, 3, 4, 8, 16, 2, batch, readout=readout)
        assert got == want


def test_blocked_estimate_is_flat_where_the_full_one_grows():
    """T = 4,096 was refused by the all-steps estimate (~30 GiB); the blocked rollout needs far less."""
    args = (6000, 1, 2, 16, 32, 1, 128)
    full = memory.gradient_training_bytes(4096, *args, rollout="full")
    ours = [memory.gradient_training_bytes(t, *args) for t in (1024, 4096)]
    assert full > 20 * 2**30
    assert ours[1] < 2**30 and ours[1] < 2.2 * ours[0]


def test_check_uses_the_models_plan():
    net = ParallelLIFSNN(1, 2, subnetworks=16, width=32, seed=0)
    need = 4 * 5 * memory.network_parameters(1, 2, 16, 32, 1) + net.rollout_bytes(4096, 128, True) \
        + net.rollout_bytes(4096, 1024, False)
    memory.check_gradient_training(net, 4096, 6000, 128, limit=need)  # fits exactly
    with pytest.raises(MemoryError, match="SG training needs about"):
        memory.check_gradient_training(net, 4096, 6000, 128, limit=need - 1)
    net.spike_mode = "smooth"  # not on the blocked path: the all-steps count applies
    full = memory.gradient_training_bytes(4096, 6000, 1, 2, 16, 32, 1, 128, rollout="full")
    memory.check_gradient_training(net, 4096, 6000, 128, limit=full)
    with pytest.raises(MemoryError):
        memory.check_gradient_training(net, 4096, 6000, 128, limit=full - 1)


def test_arguments_are_validated():
    with pytest.raises(ValueError, match="unknown rollout 'chunked'; valid: blocked, full"):
        memory.gradient_training_bytes(8, 10, 1, 1, 1, 1, 1, 4, rollout="chunked")
    with pytest.raises(ValueError, match="unknown readout 'last'; valid: "):
        memory.gradient_training_bytes(8, 10, 1, 1, 1, 1, 1, 4, readout="last")
    with pytest.raises(ValueError, match="unknown reduce"):
        blocked.rollout_bytes(8, 4, 1, 16, 1, "mean", True)


def test_gpu_blocks_are_budgeted():
    """On a GPU the blocks are larger (fewer launches), and the estimate counts their buffers."""
    # 128 x 512 floats a step: 2^19 floats hold 8 steps, 2^26 hold all 1,024
    assert blocked.block_and_segment(1024, 128, 512, 1, 4, False)[0] == 8
    assert blocked.block_and_segment(1024, 128, 512, 1, 4, False, gpu=True)[0] == 1024
    args = (1024, 6000, 1, 2, 16, 32, 1, 128)
    cpu, gpu = memory.gradient_training_bytes(*args), memory.gradient_training_bytes(*args, gpu=True)
    step = 128 * 512 * 4
    assert gpu - cpu >= (1024 - 8) * step * (3 + 2 + 6)  # block buffers of the forward and the backward
