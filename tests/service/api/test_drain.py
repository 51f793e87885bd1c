"""The declared Content-Length that the body-limit and admission middleware act on before reading a byte."""

from __future__ import annotations

import pytest

from service.api.drain import declared_length


def _scope(value: bytes | None) -> dict:
    return {"type": "http", "headers": [] if value is None else [(b"content-length", value)]}


@pytest.mark.parametrize(("value", "expected"), [
    (None, None),
    (b"1234", 1234),
    (b" 42 ", 42),
    (b"-5", None),
    (b"12ab", None),
    ("\u00b2".encode("latin-1"), None),  # a latin-1 superscript two: str.isdigit() says yes, int() says no
    (b"9" * 5000, 10**18),  # too long for int(); larger than any cap, so refused as declared
])
def test_only_a_plain_number_of_ascii_digits_is_a_declared_length(value, expected):
    assert declared_length(_scope(value)) == expected
