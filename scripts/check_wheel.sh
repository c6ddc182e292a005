#!/usr/bin/env bash
# Packaging check: the wheel builds, installs into a fresh venv (dependencies taken from the
# system site-packages, nothing downloaded) and works from outside the source tree, with py.typed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
leftovers=()  # build outputs that this script creates in the tree (kept if they were there before)
for d in "$root/build" "$root/src/spikeopt.egg-info"; do [ -e "$d" ] || leftovers+=("$d"); done
python3 -m pip wheel "$root" --no-deps --no-build-isolation -w "$work/dist" -q
for d in "${leftovers[@]}"; do rm -rf "$d"; done
python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install --no-deps --force-reinstall -q "$work"/dist/spikeopt-*.whl
cd "$work"
"$work/venv/bin/python" - <<'PY'
import importlib.resources, pathlib, spikeopt
location = pathlib.Path(spikeopt.__file__).resolve()
assert "site-packages" in str(location), f"imported from the source tree: {location}"
assert importlib.resources.files("spikeopt").joinpath("py.typed").is_file(), "py.typed missing from the wheel"
from spikeopt.export import to_nir  # noqa: F401  (the optional extras import lazily)
print(f"wheel ok: spikeopt {spikeopt.__version__} from {location.parent}")
PY
"$work/venv/bin/spikeopt" --help > /dev/null
