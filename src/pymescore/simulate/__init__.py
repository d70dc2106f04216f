"""Synthetic Peru SME population with a known ground-truth PD.

>>> from pymescore.simulate import SimulationConfig, simulate
>>> data = simulate(SimulationConfig(firms=300, months=24, seed=1, error_rate=0.0))
>>> set(data.oracle.columns) == {"ruc", "as_of", "true_pd", "defaulted"}
True
"""

from pymescore.simulate._chunks import simulate_chunked
from pymescore.simulate._config import DEFAULT_DEFINITION, SimulationConfig
from pymescore.simulate._engine import RAW_TABLES, STEPS, SimulatedData, simulate
from pymescore.simulate._write import check_output_dir, write_simulation

__all__ = [
    "DEFAULT_DEFINITION",
    "RAW_TABLES",
    "STEPS",
    "SimulatedData",
    "SimulationConfig",
    "check_output_dir",
    "simulate",
    "simulate_chunked",
    "write_simulation",
]
