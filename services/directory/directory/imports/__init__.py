"""Import national extracts: stage what is read, then apply the difference with events."""

from directory.extract.batches import FORMATS
from directory.imports.runner import ImportFailed, run_import

__all__ = ["FORMATS", "ImportFailed", "run_import"]
