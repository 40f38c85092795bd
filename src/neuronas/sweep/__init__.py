"""The paper's precision experiments as one command: a search per weight precision, SNASNet's
baseline, optional training of each pick, and their table and figures (`neuronas sweep`)."""

from neuronas.sweep.config import PAPER_BITS, Row, SweepConfig
from neuronas.sweep.run import SweepObserver, run_sweep

__all__ = ["PAPER_BITS", "Row", "SweepConfig", "SweepObserver", "run_sweep"]
