#!/usr/bin/env bash
# Install spikeopt (editable) with the CPU build of PyTorch where no GPU is present.
#   bash scripts/setup.sh          # the library and its command
#   bash scripts/setup.sh test     # ... plus what the tests need (snnTorch, cvxpy, matplotlib, pytest)
# A bare `torch` requirement with no torch installed pulls a multi-GB CUDA build; installing the
# pinned CPU build first keeps a CPU-only machine (and CI) fast. With a GPU, torch is left to pip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    echo "setup: a GPU is present; pip will pick the torch build"
  else
    echo "setup: no GPU found; installing the CPU build torch==2.13.0 first"
    "$PY" -m pip install -q torch==2.13.0
  fi
fi
extras=""
[ "${1:-}" = "test" ] && extras="[test]"
"$PY" -m pip install -q -e ".${extras}"
echo "setup: spikeopt installed${extras:+ with test extras}"
