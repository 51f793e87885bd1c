"""Reading uploaded files under a byte cap."""

from __future__ import annotations

from fastapi import UploadFile

from service.errors import PayloadTooLarge

_CHUNK = 1024 * 1024


async def read_capped(upload: UploadFile, limit: int) -> bytes:
    """The upload's bytes, or PayloadTooLarge as soon as more than `limit` bytes are seen."""
    if upload.size is not None and upload.size > limit:
        raise PayloadTooLarge(f"{_name(upload)} is {upload.size} bytes; the limit is {limit}")
    data = bytearray()
    while chunk := await upload.read(_CHUNK):
        data += chunk
        if len(data) > limit:
            raise PayloadTooLarge(f"{_name(upload)} exceeds the limit of {limit} bytes")
    return bytes(data)


def _name(upload: UploadFile) -> str:
    return f"file {upload.filename!r}" if upload.filename else "the file"
