"""Fixtures for the emulated Windows host tests: a started host over HTTP and one over HTTPS."""

from tests.support.windows_host.testing import http_host, https_host

__all__ = ["http_host", "https_host"]
