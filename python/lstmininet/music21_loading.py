"""Former name of :mod:`lstmininet.scores`; kept so existing imports keep working.

New code should import from :mod:`lstmininet.scores`.
"""

from .scores import (
    CONVERSION_VERSION,
    OFF_GRID_RULES,
    SCORE_EXTENSIONS,
    TRANSPOSE_TARGETS,
    LoadReport,
    is_score_file,
    load_score_files,
    melody_part,
    music21_corpus_files,
    parse_score_file,
    score_files_in,
    score_to_tokens,
    transposition_to_c,
)

__all__ = [
    "CONVERSION_VERSION",
    "OFF_GRID_RULES",
    "SCORE_EXTENSIONS",
    "TRANSPOSE_TARGETS",
    "LoadReport",
    "is_score_file",
    "load_score_files",
    "melody_part",
    "music21_corpus_files",
    "parse_score_file",
    "score_files_in",
    "score_to_tokens",
    "transposition_to_c",
]
