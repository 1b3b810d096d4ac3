"""Analyst report: estimative language and confidence (HTML/PDF rendering to come)."""

from sitewatch.report.language import (
    SCALE,
    Confidence,
    Evidence,
    Term,
    assess_confidence,
    term_for,
)

__all__ = ["SCALE", "Confidence", "Evidence", "Term", "assess_confidence", "term_for"]
