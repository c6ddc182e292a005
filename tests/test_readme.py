"""The README's Python examples run as written (with a shorter training budget)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the checkpoint example writes m.pt into the working folder
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 3, "the README lost its Python examples"
    code = "\n".join(blocks).replace("SGConfig(epochs=20, lr=3e-3)", "SGConfig(epochs=1, lr=3e-3, progress=False)")
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    sol = namespace["sol"]
    assert sol.dual <= sol.primal and sol.gap <= 1e-6
    assert namespace["report"].active_atoms == len(sol.active)
    assert namespace["extra"] == {"note": "any JSON-able extra"}
    x = namespace["splits"]["test"].x
    assert (namespace["net"](x)[0] == namespace["model"](x)[0]).all()
