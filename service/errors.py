"""The service's domain errors: each says what went wrong, never which HTTP status it becomes.

`service.api.problems` maps these (and contract.errors) to RFC 7807 responses in one place.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the errors the service raises on purpose."""


class ModelNotReady(ServiceError):
    """The model is still loading, or its bundle could not be loaded."""


class Overloaded(ServiceError):
    """More model requests are in flight than MAX_INFLIGHT_REQUESTS allows; the client should retry."""


class InvalidInferenceRequest(ServiceError):
    """An Open Inference Protocol request that does not follow the protocol (shape, datatype, data, names)."""


class UnknownModel(ServiceError):
    """The path names a model this server does not serve."""


class NotAcceptable(ServiceError):
    """The request's Accept header names no media type this endpoint can answer in."""


class InvalidOperatingPoint(ServiceError):
    """The request's operating point cannot be used (both given, or the bundle lacks the one named)."""


class OutOfDistribution(ServiceError):
    """INPUT_CHECK=refuse, and the image is unlike the dermoscopy images the model was trained on."""


class EngineFailure(ServiceError):
    """The model runtime returned something the contract does not allow (a server fault)."""


class Unauthenticated(ServiceError):
    """The request lacks the configured API key, or carries a wrong one."""


class PayloadTooLarge(ServiceError):
    """The request body, or one uploaded file, exceeds the configured byte cap."""


class TooManyFiles(ServiceError):
    """A batch carries more files than MAX_BATCH_FILES."""


class MissingImage(ServiceError):
    """The request names no image: neither a file nor a URL (or both)."""


class UrlRefused(ServiceError):
    """The URL is malformed, or points somewhere the service will not go (SSRF guard)."""


class TooManyRedirects(ServiceError):
    """The URL redirected more often than URL_MAX_REDIRECTS allows."""


class UrlFetchFailed(ServiceError):
    """The remote host could not be reached or answered with an error status."""


class UrlFetchTimeout(ServiceError):
    """The remote host did not deliver the image within the deadline."""


class RemoteImageTooLarge(PayloadTooLarge):
    """The remote image exceeds URL_MAX_BYTES."""


class RemoteContentRejected(ServiceError):
    """The remote resource does not declare an image content type."""
