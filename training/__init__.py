"""Training package: HAM10000 -> tuned, evaluated, exported model bundle (`python -m training`)."""
