"""Data: ingest metadata and images, split by lesion, and feed tf.data pipelines."""
