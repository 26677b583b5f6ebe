"""The exception tree: every error tastebud raises on purpose, its message meant for the person."""

from __future__ import annotations


class TastebudError(Exception):
    """Base of every error tastebud raises on purpose; its message is meant for the person."""


class CatalogError(TastebudError):
    """A catalog file or row that cannot be used."""


class FilterError(TastebudError):
    """A malformed filter expression (unknown field, wrong type, bad JSON)."""


class IndexUnavailable(TastebudError):
    """The search index is missing, stale or cannot be written."""


class ModelUnavailable(TastebudError):
    """A model file or package is missing; the message names what to install or run."""


class LLMError(TastebudError):
    """The LLM failed, timed out or returned something unusable."""


class ContextUnavailable(TastebudError):
    """A context source (place, weather) could not be resolved."""


class DataFileError(TastebudError):
    """A packaged or operator-given data file (prompt, replies, lexicon, rules) that is missing or malformed."""
