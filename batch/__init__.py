"""Score a whole source (feature rows, texts, images) into a database table.

Two engines give the same rows: ``server`` calls a running TorchServe over HTTP and
``local`` runs the handler packed in the model's ``.mar`` in this process. Runs are
idempotent and resumable: one row per (model, version, input id), written by upsert.
``read_predictions`` reads a model's rows back as a DataFrame (batch.results);
``python -m batch export`` writes them to Parquet or CSV (batch.export).
"""

from batch.results import read_predictions

__all__ = ["read_predictions"]
