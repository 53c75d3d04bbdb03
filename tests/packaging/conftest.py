"""One built and installed tarball per session (tests/support/galaxy_build.py), in the session's own temporary
directory, so two runs (or two worktrees) never share a tarball."""

from __future__ import annotations

import pytest

from tests.support.galaxy_build import BuiltCollection, build_and_install


@pytest.fixture(scope="session")
def built_collection(tmp_path_factory: pytest.TempPathFactory) -> BuiltCollection:
    return build_and_install(tmp_path_factory.mktemp("galaxy-build"))
