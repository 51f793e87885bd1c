"""The model runtime: bundle → engine (LiteRT fast path or Keras fallback) → decisions and Grad-CAM.

Nothing here knows about HTTP.
"""
