"""The README's Python examples run as written (with a shorter training budget)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2, "the README lost its Python examples"
    code = "\n".join(blocks).replace("SGConfig(epochs=20, lr=3e-3)", "SGConfig(epochs=1, lr=3e-3, progress=False)")
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    sol = namespace["sol"]
    assert sol.dual <= sol.primal and sol.gap <= 1e-6
    assert namespace["report"].active_atoms == len(sol.active)
