"""The model contract: what training promises and serving relies on.

Everything here is free of TensorFlow so the lean serving process can import it.
"""
