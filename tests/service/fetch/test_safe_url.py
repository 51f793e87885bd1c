"""/predict-url's SSRF guard. Refusals are proven against local servers that must never be hit.

Loopback is refused like any private address, so the positive paths open exactly 127.0.0.1/32
through URL_ALLOWED_PRIVATE_NETWORKS (the test/dev seam); everything else stays refused.
"""

from __future__ import annotations

import socket
import time

import pytest

from service.fetch import safe_url
from tests.service import sample_images as images
from tests.service.harness import serving
from tests.service.servers import CountingServer, image, redirect, send

PROBLEM = "application/problem+json"
PNG = images.png()
EXEMPT_LOOPBACK = {"url_allowed_private_networks": ["127.0.0.1/32"]}


@pytest.fixture
def sentinel():
    """On 127.0.0.1, serving a valid image at every path we use: a leak would succeed visibly."""
    routes = {path: image(PNG) for path in ("/", "/image.png", "/latest/meta-data")}
    with CountingServer("127.0.0.1", routes) as server:
        yield server
    assert server.hits == [], f"the SSRF sentinel was reached: {server.hits}"


@pytest.fixture
def sentinel_2():
    """Another loopback address, for tests where 127.0.0.1 itself is exempt."""
    try:
        server = CountingServer("127.0.0.2", {"/": image(PNG), "/image.png": image(PNG)})
    except OSError:
        pytest.skip("cannot bind 127.0.0.2 here")
    with server:
        yield server
    assert server.hits == [], f"the SSRF sentinel was reached: {server.hits}"


@pytest.fixture
def origin(sentinel_2):
    """An exempted 'public' image host on 127.0.0.1 with redirects, slow paths, and bad answers."""
    server = CountingServer("127.0.0.1")

    def slow_headers(handler):
        server.stop_waiting.wait(5)
        send(handler, 200, PNG, {"Content-Type": "image/png"})

    def slow_body(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", str(len(PNG)))
        handler.end_headers()
        handler.wfile.write(PNG[:20])
        handler.wfile.flush()
        server.stop_waiting.wait(5)

    def endless_undeclared(handler):  # no Content-Length: the body runs until the connection closes
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.end_headers()
        for _ in range(64):
            handler.wfile.write(b"\0" * 1024)

    server.routes.update(
        {
            "/image.png": image(PNG),
            "/octet": image(PNG, "application/octet-stream"),
            "/hop1": redirect("/hop2"),
            "/hop2": redirect(server.url("/image.png")),
            "/loop": redirect("/loop"),
            "/to-sentinel-2": redirect(sentinel_2.url("/image.png")),
            "/to-metadata": redirect("http://169.254.169.254/latest/meta-data"),
            "/to-file": redirect("file:///etc/passwd"),
            "/to-malformed": redirect("http://x]/"),  # httpx passes it on; urllib's urljoin raises ValueError
            "/to-bad-port": redirect("http://images.example.org:99999/a.png"),
            "/slow-headers": slow_headers,
            "/slow-body": slow_body,
            "/big-declared": lambda h: send(h, 200, b"\0" * 100_000, {"Content-Type": "image/png"}),
            "/big-undeclared": endless_undeclared,
            "/html": image(b"<html></html>", "text/html"),
            "/no-type": lambda h: send(h, 200, PNG),
            "/gzip": lambda h: send(h, 200, PNG, {"Content-Type": "image/png", "Content-Encoding": "gzip"}),
            "/not-an-image": image(b"definitely not a png", "image/png"),
            "/gone": lambda h: send(h, 404),
        }
    )
    with server:
        yield server


def _predict_url(client, url: str):
    return client.post("/predict-url", json={"url": url})


def _assert_refused(response, slug: str = "url-refused", status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith(slug)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "LOCALHOST.",
        "2130706433",
        "0177.0.0.1",
        "0x7f.1",
        "0x7f000001",
        "127.1",
        "0.0.0.0",
        "0",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::]",
        "[2002:7f00:1::]",
        "[64:ff9b::7f00:1]",
    ],
)
def test_loopback_in_every_spelling_is_refused(make_settings, sentinel, host):
    with serving(make_settings()) as running:
        _assert_refused(_predict_url(running.client, f"http://{host}:{sentinel.port}/image.png"))


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "198.18.0.1",
        "192.0.2.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "[fe80::1]",
        "[fc00::1]",
        "[ff02::1]",
        "[fec0::1]",
        "[2001:db8::1]",
    ],
)
def test_private_link_local_multicast_and_reserved_are_refused(make_settings, host):
    with serving(make_settings()) as running:
        response = _predict_url(running.client, f"http://{host}/latest/meta-data")
    _assert_refused(response)
    assert "only public addresses" in response.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/x.png",
        "gopher://127.0.0.1:70/_",
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "//example.org/x.png",
        "example.org/x.png",
        "http://",
        "http://:80/",
        "http://user:secret@example.org/x.png",
        "http://example.org:99999/x.png",
        "http://[::1/x.png",
    ],
)
def test_other_schemes_and_malformed_urls_are_refused(make_settings, url):
    with serving(make_settings()) as running:
        _assert_refused(_predict_url(running.client, url))


def test_empty_url_is_a_validation_problem(served):
    response = _predict_url(served.client, "")
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM


def test_image_from_a_url_through_redirects(make_settings, origin):
    with serving(make_settings(**EXEMPT_LOOPBACK)) as running:
        direct = _predict_url(running.client, origin.url("/image.png"))
        redirected = _predict_url(running.client, origin.url("/hop1"))
    assert direct.status_code == 200, direct.text
    assert redirected.status_code == 200, redirected.text
    assert redirected.json()["probability"] == direct.json()["probability"]
    assert redirected.json()["timing"]["fetch_ms"] > 0
    assert origin.hits == ["/image.png", "/hop1", "/hop2", "/image.png"]
    assert set(origin.hosts_seen) == {f"127.0.0.1:{origin.port}"}


def test_octet_stream_is_accepted(make_settings, origin):
    with serving(make_settings(**EXEMPT_LOOPBACK)) as running:
        assert _predict_url(running.client, origin.url("/octet")).status_code == 200


@pytest.mark.parametrize("path", ["/to-sentinel-2", "/to-metadata", "/to-file"])
def test_every_redirect_hop_is_checked_again(make_settings, origin, path):
    with serving(make_settings(**EXEMPT_LOOPBACK)) as running:
        _assert_refused(_predict_url(running.client, origin.url(path)))
    assert origin.hits == [path]


@pytest.mark.parametrize("path", ["/to-malformed", "/to-bad-port"])
def test_a_malformed_redirect_location_is_the_remote_failing(make_settings, origin, path):
    with serving(make_settings(**EXEMPT_LOOPBACK)) as running:
        _assert_refused(_predict_url(running.client, origin.url(path)), "url-fetch-failed", 502)
    assert origin.hits == [path]


def test_too_many_redirects(make_settings, origin):
    with serving(make_settings(url_max_redirects=3, **EXEMPT_LOOPBACK)) as running:
        _assert_refused(_predict_url(running.client, origin.url("/loop")), "too-many-redirects", 502)
    assert origin.hits == ["/loop"] * 4  # the first request and three followed redirects, no more


def test_redirects_can_be_switched_off(make_settings, origin):
    with serving(make_settings(url_max_redirects=0, **EXEMPT_LOOPBACK)) as running:
        _assert_refused(_predict_url(running.client, origin.url("/hop1")), "too-many-redirects", 502)
    assert origin.hits == ["/hop1"]


@pytest.mark.parametrize("path", ["/slow-headers", "/slow-body"])
def test_slow_servers_hit_the_deadline(make_settings, origin, path):
    settings = make_settings(url_fetch_timeout_s=0.5, url_connect_timeout_s=0.5, **EXEMPT_LOOPBACK)
    with serving(settings) as running:
        started = time.monotonic()
        response = _predict_url(running.client, origin.url(path))
        elapsed = time.monotonic() - started
    _assert_refused(response, "url-fetch-timeout", 504)
    assert elapsed < 3


@pytest.mark.parametrize("path", ["/big-declared", "/big-undeclared"])
def test_remote_body_is_capped(make_settings, origin, path):
    with serving(make_settings(url_max_bytes=2048, **EXEMPT_LOOPBACK)) as running:
        _assert_refused(_predict_url(running.client, origin.url(path)), "remote-image-too-large", 413)


@pytest.mark.parametrize("path", ["/html", "/no-type", "/gzip"])
def test_non_image_content_is_415(make_settings, origin, path):
    with serving(make_settings(**EXEMPT_LOOPBACK)) as running:
        _assert_refused(_predict_url(running.client, origin.url(path)), "remote-content-rejected", 415)


def test_upstream_error_status_is_502(make_settings, origin):
    with serving(make_settings(**EXEMPT_LOOPBACK)) as running:
        _assert_refused(_predict_url(running.client, origin.url("/gone")), "url-fetch-failed", 502)


def test_fetched_bytes_still_go_through_image_validation(make_settings, origin):
    with serving(make_settings(**EXEMPT_LOOPBACK)) as running:
        _assert_refused(_predict_url(running.client, origin.url("/not-an-image")), "invalid-image", 422)


def test_host_allowlist_refuses_other_hosts(make_settings, origin):
    with serving(make_settings(url_allowed_hosts=["images.example.org"], **EXEMPT_LOOPBACK)) as running:
        _assert_refused(_predict_url(running.client, origin.url("/image.png")))
    assert origin.hits == []


class _ScriptedResolver:
    """Replaces getaddrinfo: answers each lookup of a name from a script (for rebinding tests)."""

    def __init__(self, *answers: list[str]):
        self.answers = list(answers)
        self.calls: list[str] = []

    def __call__(self, host, port, *args, **kwargs):
        self.calls.append(host)
        addresses = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses]


def test_connects_to_the_checked_address_with_the_original_host_header(
    make_settings, origin, sentinel_2, monkeypatch
):
    # First answer passes the check; a re-bound second answer (127.0.0.2) must never be used.
    resolver = _ScriptedResolver(["127.0.0.1"], ["127.0.0.2"])
    monkeypatch.setattr(safe_url.socket, "getaddrinfo", resolver)
    with serving(make_settings(url_allowed_hosts=["images.example.test"], **EXEMPT_LOOPBACK)) as running:
        response = _predict_url(running.client, f"http://images.example.test:{origin.port}/image.png")
    assert response.status_code == 200, response.text
    assert resolver.calls == ["images.example.test"]
    assert origin.hosts_seen == [f"images.example.test:{origin.port}"]


def test_a_name_with_any_private_address_is_refused(make_settings, origin, monkeypatch):
    monkeypatch.setattr(safe_url.socket, "getaddrinfo", _ScriptedResolver(["127.0.0.1", "10.1.2.3"]))
    with serving(make_settings(**EXEMPT_LOOPBACK)) as running:
        _assert_refused(_predict_url(running.client, f"http://mixed.example.test:{origin.port}/image.png"))
    assert origin.hits == []


def test_unresolvable_host_is_502(make_settings, monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(safe_url.socket, "getaddrinfo", fail)
    with serving(make_settings()) as running:
        _assert_refused(
            _predict_url(running.client, "https://no-such-host.example/x.png"), "url-fetch-failed", 502
        )


def test_environment_proxies_are_ignored(make_settings, origin, sentinel_2, monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, sentinel_2.url("/"))
    with serving(make_settings(**EXEMPT_LOOPBACK)) as running:
        assert _predict_url(running.client, origin.url("/image.png")).status_code == 200


def test_gradcam_accepts_a_url_field(make_settings, origin):
    with serving(make_settings(**EXEMPT_LOOPBACK)) as running:
        fetched = running.client.post("/gradcam", data={"url": origin.url("/image.png")})
    assert fetched.status_code == 200 and fetched.json()["heatmap_base64"]
    assert fetched.json()["timing"]["fetch_ms"] > 0


def test_gradcam_url_is_behind_the_same_guard(make_settings, sentinel):
    with serving(make_settings()) as running:
        _assert_refused(
            running.client.post("/gradcam", data={"url": f"http://0x7f.1:{sentinel.port}/image.png"})
        )
