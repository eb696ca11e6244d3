"""Comparing documents: positions on a question (with a calibrated silence floor), paragraph
alignment, shared talking points. Every score is Search's 0-1 relevance (calibration.relevance)."""

from __future__ import annotations

from ..calibration import FLOOR_DEVIATIONS, FLOOR_DOCUMENTS, NULL_QUESTIONS, SILENCE, Floor
from .align import SHARED_THRESHOLD, Alignment, align
from .points import POINT_WORDS, Point, talking_points
from .positions import (
    MAX_QUESTIONS,
    closest_score,
    compare,
    coverage,
    far_note,
    first_documents,
    grid,
    silence_floor,
    silent_documents,
)

__all__ = [
    "FLOOR_DEVIATIONS",
    "FLOOR_DOCUMENTS",
    "MAX_QUESTIONS",
    "NULL_QUESTIONS",
    "POINT_WORDS",
    "SHARED_THRESHOLD",
    "SILENCE",
    "Alignment",
    "Floor",
    "Point",
    "align",
    "closest_score",
    "compare",
    "coverage",
    "far_note",
    "first_documents",
    "grid",
    "silence_floor",
    "silent_documents",
    "talking_points",
]
