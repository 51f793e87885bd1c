"""Header reading on a raw ASGI scope: any case asked, the first value, latin-1 as Starlette decodes."""

from service.api.scope import header, route_path


def test_the_first_value_of_a_header_is_read_in_any_case_and_latin_1():
    note = "caf\u00e9".encode("latin-1")
    scope = {"headers": [(b"x-api-key", b"first"), (b"x-api-key", b"second"), (b"x-note", note)]}
    assert header(scope, "X-API-Key") == "first"
    assert header(scope, "x-note") == "caf\u00e9"
    assert header(scope, "content-length") is None
    assert header({}, "content-length") is None


def test_the_route_path_drops_a_proxys_mount_prefix():
    assert route_path({"path": "/skin/predict", "root_path": "/skin"}) == "/predict"
    assert route_path({"path": "/skin", "root_path": "/skin"}) == "/"
    assert route_path({"path": "/skinny/predict", "root_path": "/skin"}) == "/skinny/predict"  # not its prefix
    assert route_path({"path": "/predict", "root_path": ""}) == route_path({"path": "/predict"}) == "/predict"
