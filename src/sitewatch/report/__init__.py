"""Analyst report: estimative language and confidence (HTML/PDF rendering to come)."""

from sitewatch.report.data import evidence_of, judgements
from sitewatch.report.judgement import KeyJudgement, key_judgement
from sitewatch.report.language import (
    SCALE,
    Confidence,
    Evidence,
    Term,
    assess_confidence,
    term_for,
)

__all__ = [
    "SCALE",
    "Confidence",
    "Evidence",
    "KeyJudgement",
    "Term",
    "assess_confidence",
    "evidence_of",
    "judgements",
    "key_judgement",
    "term_for",
]
