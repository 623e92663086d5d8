"""Reward models trained on exported preference sets (never opens the database).

``config`` (the CLI), ``snapshot`` (targets and the split by prompt), ``dataset`` (token ids,
truncation, collator, batches), ``model`` (local loading), ``loss``, ``train``, ``checkpoint``,
``score``, ``baseline`` (frozen embeddings + logistic head), ``metrics`` (accuracy, ceiling,
calibration, divergences), ``probes``, ``attribution`` and ``inspection`` (the report).
"""

__all__: list[str] = []
