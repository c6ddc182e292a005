"""Settings of the convex stage (methods ``cvx``, ``sg-cvx``, ``cvx-sg``), validated on construction."""

from __future__ import annotations

from dataclasses import dataclass

from spikeopt.convex.cv import SELECT_MODES
from spikeopt.convex.path import check_reg_spec
from spikeopt.train.base import option
from spikeopt.validation import check_bool, check_choice, check_int, check_number

CONVEX_LOSSES = ("cross_entropy", "squared")
WITNESS_KINDS = ("calibrated", "gaussian")
ATOM_BUDGET = 2**26  # rows x outputs x atoms of the default dictionary (convex.atoms="auto")
AUTO_ATOMS = (8192, 32768)  # the sizes "auto" chooses between
AUTO_MIN_YIELD = 1 / 32  # "auto" is a soft target: stop at a witness block adding fewer new atoms than this


@dataclass
class ConvexConfig:
    """Settings of the convex stage: witnesses, dictionary, solver path and column generation.

    Witnesses (``cvx``): ``witnesses="calibrated"`` (default; see :mod:`spikeopt.convex.calibrate`:
    per-neuron time constants, each bias set on ``calibration_samples`` training sequences so the
    neuron's firing statistic lands at a target drawn from ``rate_band``) or ``"gaussian"`` (the
    paper's: ``witness_scale``, ``beta_range``, ``threshold_range``). ``witness_scale`` scales the
    weights of both kinds. ``atoms=P`` draws witness blocks until the dictionary has ``P``
    informative atoms (constant, duplicate and near-duplicate columns rejected: binary atoms that
    differ on fewer than ``near_duplicate`` of the rows, integrate atoms correlated above
    ``1 - near_duplicate``; at most ``max_blocks`` blocks, default ``4 P / block + 1``);
    ``atoms=None`` rolls one block of ``model.subnetworks x model.width`` witnesses (the paper's).
    ``atoms="auto"`` (default) spends a fixed budget, ``rows x outputs x P = 2^26`` (dictionary rows,
    readout outputs), with ``P`` a power of two between 8,192 and 32,768 (:meth:`resolved_atoms`):
    e.g. 32,768 atoms for 2 classes up to 1,024 training rows or 10 classes up to 204, 8,192 from
    4,096 rows x outputs on. Why: the optimum over a larger dictionary is never worse in objective
    and is closer to the paper's "optimal over all witnesses", and measured it generalises better too
    (32,768 against 8,192 atoms, paired by seed, on eight small UCR sets: README); but a solve pass
    costs ``rows x P x outputs`` and the run's time grew 10-20x for 4x the atoms, so where the data
    and the readout are large the same budget buys fewer atoms. The constant was set from those
    measurements: the largest budget that keeps the slowest set measured (PLAID, 428 rows x 11
    classes, 17-22 min a run at 32,768 atoms) at 8,192. The auto size is a soft target: drawing stops
    early at a witness block that adds fewer than ``AUTO_MIN_YIELD`` of its columns as new atoms
    (inputs with few distinct sequences saturate). Memory is ``rows x P`` bytes for binary layouts
    and ``4 rows x P`` for the integrate readout's float32 rates, estimated before building; lower
    ``atoms`` if the estimate is refused.
    ``merge``: the rebuilt network keeps each witness subnetwork an active atom comes from once
    (``False``: once per atom, the paper's literal construction). ``pack``: with one hidden layer,
    keep only the active atoms' neurons, packed ``width`` to a subnetwork (same spikes and outputs,
    tens of times fewer neurons); ``None`` (auto) packs for ``cvx`` and ``sg-cvx`` and not for
    ``cvx-sg``, whose fine-tuning can then recruit the witness neurons the readout left unused.
    ``progress`` prints one-line updates on stderr while a long dictionary is built.

    ``reg``: one value, a list (a path) or ``"auto"`` (a path scaled to ``reg_max``, see
    :mod:`spikeopt.convex.path`). ``select``: how a path's points are scored: ``"val"`` (the
    validation split), ``"cv"`` (5-fold cross-validation on the dictionary's rows pooled with the
    validation split, :mod:`spikeopt.convex.cv`) or ``"auto"`` (cv where the validation split has
    fewer than 250 sequences and the layout allows it, else val). ``allow_unconverged``: keep a solve that stopped
    short of ``tol`` (recorded with its gap) instead of refusing it. ``grow_rounds`` > 0 grows the
    dictionary by column generation at the selected reg: each round prices ``grow_candidates`` fresh
    witness subnetworks of the dictionary's own kind (``witnesses``) and adds up to ``grow_add``
    violating atoms.

    ``refit``: once a reg is selected, solve the readout once more at that reg on the training and
    validation rows together and rebuild the network from that solve (its certificate is the one
    recorded). ``None`` (auto) refits wherever a reg path was selected, and not for ``cvx-sg`` (whose
    fine-tuning early-stops on the validation split) or a single given reg (its validation split is
    the only held-out measure). Why: once the reg is selected, the validation split has no job left
    but to be trained on: 20-25% more labelled sequences. The validation metrics of a refit network
    are then in-sample; the result's ``refit`` record keeps the selected point's held-out score
    (cross-validated where the path was).
    """

    reg: float | list[float] | str = option("auto", flag="reg", help="group-lasso regularisation of the convex readout: one value, a list 1e-2,1e-3 or auto "
                                      "(a path from reg_max); a path is selected on validation")
    select: str = "auto"
    loss: str = option("cross_entropy", flag="loss", help="convex loss: cross_entropy or squared")
    tol: float = option(1e-6, flag="tol", help="duality-gap tolerance of the convex solve")
    max_iter: int = option(20000, flag="max-iter", help="iteration budget of each convex solve")
    intercept: bool = False
    witness_scale: float = option(1.0, flag="witness-scale", help="std scale of Gaussian witnesses")
    beta_range: tuple[float, float] | None = None
    threshold_range: tuple[float, float] | None = None
    merge: bool = True
    pack: bool | None = None
    refit: bool | None = None
    chunk_size: int = 1024
    allow_unconverged: bool = False
    grow_rounds: int = option(0, flag="grow-rounds", help="column-generation rounds at the selected reg (0 = off)")
    grow_candidates: int = option(64, flag="grow-candidates", help="fresh candidate witness subnetworks priced per round")
    grow_add: int = option(32, flag="grow-add", help="most violating atoms added per column-generation round")
    witnesses: str = "calibrated"
    atoms: int | str | None = "auto"
    rate_band: tuple[float, float] = (0.05, 0.95)
    near_duplicate: float = 0.005
    calibration_samples: int = 256
    max_blocks: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        self.reg = check_reg_spec(self.reg)
        if not isinstance(self.allow_unconverged, bool):
            raise TypeError(f"allow_unconverged must be true or false, got {self.allow_unconverged!r}")
        for name, low in (("max_iter", 1), ("grow_rounds", 0), ("grow_candidates", 1), ("grow_add", 1)):
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():  # YAML reads 2e4 as a float
                value = int(value)
                setattr(self, name, value)
            check_int(value, f"convex.{name}", low)
        if self.pack is not None:
            check_bool(self.pack, "convex.pack (None: auto)")
        if self.refit is not None:
            check_bool(self.refit, "convex.refit (None: auto)")
        check_choice(self.select, "convex.select", SELECT_MODES)
        check_choice(self.loss, "convex loss", CONVEX_LOSSES)
        check_number(self.tol, "tol", 0.0, open_low=True)
        check_number(self.witness_scale, "witness_scale", 0.0, open_low=True)
        check_choice(self.witnesses, "witnesses", WITNESS_KINDS)
        if isinstance(self.atoms, str):
            check_choice(self.atoms, "convex.atoms (or a positive integer, or None: one witness block)", ("auto",))
        elif self.atoms is not None:
            if isinstance(self.atoms, float) and self.atoms.is_integer():
                self.atoms = int(self.atoms)
            check_int(self.atoms, "convex.atoms (auto, None: one witness block)", 1)
        band = tuple(float(v) for v in self.rate_band)
        if len(band) != 2 or not 0.0 < band[0] <= band[1] < 1.0:
            raise ValueError(f"rate_band must be (low, high) with 0 < low <= high < 1, got {self.rate_band!r}")
        self.rate_band = band  # type: ignore[assignment]
        check_number(self.near_duplicate, "near_duplicate", 0.0, 1.0, open_high=True)
        for name in ("beta_range", "threshold_range"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, tuple(float(v) for v in value))

    def resolved_atoms(self, rows: int, outputs: int) -> int | None:
        """The dictionary size for ``rows`` dictionary rows and ``outputs`` readout outputs: ``atoms``
        itself unless it is ``"auto"``, then the power of two nearest below ``ATOM_BUDGET / (rows x
        outputs)``, clipped to ``AUTO_ATOMS``."""
        if self.atoms != "auto":
            return self.atoms  # type: ignore[return-value]
        check_int(rows, "rows (of the dictionary)", 1)
        check_int(outputs, "outputs (of the readout)", 1)
        low, high = AUTO_ATOMS
        fit = 1 << (max(1, ATOM_BUDGET // (rows * outputs)).bit_length() - 1)
        return min(high, max(low, fit))
