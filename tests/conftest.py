"""Shared fixtures: the collection on sys.path, real docker and SSH bottles."""

from __future__ import annotations

import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / ".cache" / "collections"
sys.path.insert(0, str(COLLECTIONS))
sys.path.insert(0, str(ROOT / "tests"))

from agents import PROVIDERS  # noqa: E402
from bottles import IMAGES, DockerBottle, SshBottle  # noqa: E402

EXAMPLES = ROOT / "examples"


def _docker_ready() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "info"], capture_output=True, check=False
    ).returncode == 0


@pytest.fixture(scope="session")
def ssh_server() -> t.Iterator[SshBottle]:
    """One sshd bottle per session (started and stopped by PID); homes reset per test."""
    if not _docker_ready():
        pytest.fail("integration tests need the docker engine: run scripts/bootstrap.sh")
    rootfs = SshBottle.prepare_rootfs(ROOT / ".cache" / "ssh-rootfs")
    bottle = SshBottle(rootfs).start()
    yield bottle
    bottle.stop()


@pytest.fixture(params=["docker", "ssh"])
def target_kind(request) -> str:
    return request.param


@pytest.fixture(params=PROVIDERS)
def provider(request) -> str:
    return request.param


@pytest.fixture
def make_bottle(request):
    """make_bottle(kind, provider) -> a fresh bottle of that kind for that provider."""
    started: list[DockerBottle] = []

    def make(kind: str, provider: str):
        if kind == "docker":
            if not _docker_ready():
                pytest.fail("integration tests need the docker engine: run scripts/bootstrap.sh")
            bottle = DockerBottle(IMAGES[provider]).start()
            started.append(bottle)
            return bottle
        ssh = request.getfixturevalue("ssh_server")
        ssh.reset_home()
        return ssh

    yield make
    for bottle in started:
        bottle.stop()
