"""Evaluation: metrics and plots of a model's scores on a labelled split. Nothing here writes files."""
