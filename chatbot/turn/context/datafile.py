"""The context room's two data files (lexicon, rules): read through the one YAML loader, errors named plainly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from prompts import load_data
from retrieval.errors import DataFileError

PACKAGE = "chatbot.turn.context"
LEXICON_FILE = "context_lexicon.yaml"
RULES_FILE = "context_rules.yaml"


class RulesFileError(DataFileError):
    """The context rules file (or the context lexicon) is malformed; the message names the rule and field."""


def read_yaml(path: str | Path | None, packaged: str) -> Any:
    """Parse the YAML file at `path`, or the packaged one; a missing file or a parse error is RulesFileError."""
    try:
        return load_data(PACKAGE, packaged, path)
    except RulesFileError:
        raise
    except DataFileError as exc:
        raise RulesFileError(str(exc)) from exc


def describe(exc: ValidationError) -> str:
    """A validation error as short 'field: problem' phrases."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
