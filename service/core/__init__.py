"""Process-wide plumbing: configuration, logging, metrics."""
