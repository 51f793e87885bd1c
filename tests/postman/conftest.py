"""The live server of the deployment tests (tests/deploy/conftest.py) runs the collection's requests."""

from tests.deploy.conftest import live_server  # noqa: F401 - a fixture, used by name
