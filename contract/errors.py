"""Domain errors raised while turning bytes into model input.

They say what is wrong with the input, never which HTTP status it maps to:
the service maps them to responses in one place.
"""


class InvalidImage(ValueError):
    """The bytes are not a decodable image (empty, truncated, corrupt)."""


class UnsupportedImageFormat(InvalidImage):
    """The bytes are an image, but in a format the service does not accept."""


class ImageTooLarge(InvalidImage):
    """The image's declared dimensions exceed the configured pixel budget."""
