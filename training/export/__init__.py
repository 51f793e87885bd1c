"""Export: the only step that writes files. The bundle's files, the LiteRT model, the contract last."""
