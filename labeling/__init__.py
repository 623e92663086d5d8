"""Labeling: assignment, agreement, aggregation, reliability, blind spots, and the pages."""
