"""Model evaluation: metrics, score bands, fairness slices, population stability and the validation report.

Everything here is computed from outcomes ``y`` (1 = default), PDs and scores, so it serves the trainer,
the CLI and monitoring alike. Results are JSON-ready (plain floats, ``None`` where undefined). Only the
report needs the ``report`` extra (matplotlib, jinja2), imported when a report is rendered.
"""

from pymescore.evaluate._bands import DEFAULT_BANDS, assign_bands, band_inversions, band_table, bands_monotone
from pymescore.evaluate._fairness import fairness_gaps, fairness_table, sme_slices
from pymescore.evaluate._metrics import binary_metrics, calibration_table
from pymescore.evaluate._report import ReportData, render_report
from pymescore.evaluate._shadow import shadow_comparison
from pymescore.evaluate._stability import (
    PSI_THRESHOLDS,
    Verdict,
    psi,
    psi_against_reference,
    psi_verdict,
    reference_bins,
    worst_verdict,
)

__all__ = [
    "DEFAULT_BANDS",
    "PSI_THRESHOLDS",
    "ReportData",
    "Verdict",
    "assign_bands",
    "band_inversions",
    "band_table",
    "bands_monotone",
    "binary_metrics",
    "calibration_table",
    "fairness_gaps",
    "fairness_table",
    "psi",
    "psi_against_reference",
    "psi_verdict",
    "reference_bins",
    "render_report",
    "shadow_comparison",
    "sme_slices",
    "worst_verdict",
]
