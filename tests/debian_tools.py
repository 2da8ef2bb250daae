"""Command-line tools the tests take from Debian, installed with apt-get when missing (as root).

Where a tool cannot be installed the tests that need it are skipped locally, and fail on CI
(``CI=true``), where a silent skip would hide them: the same rule as the browser tests' Chromium.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

PROMTOOL = Path("/usr/bin/promtool")
PROMETHEUS_PORT = 9090
# While a package installs, invoke-rc.d and deb-systemd-invoke ask this script whether to start its
# service; 101 means "no". Debian's Docker images ship one; elsewhere it is written for the install.
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (these tests must run on CI)", pytrace=False)
    pytest.skip(reason)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _apt_get_install(package: str) -> str | None:
    """``apt-get install`` without recommends (an update first if needed); the error, or None."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            return f"apt-get install {package} failed: {done.stderr.strip()[-500:]}"
    return None


def install_promtool() -> str | None:
    """Debian's promtool at /usr/bin/promtool, installed if missing; a reason when that cannot be.

    promtool comes in the ``prometheus`` package, whose server would start as a service and listen
    on 9090: the install forbids services from starting, then disables the server for later boots.
    Its recommended node exporter (another server, on 9100) is not installed.
    """
    if PROMTOOL.exists():
        return None
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return f"{PROMTOOL} is missing and cannot be installed here (as root: apt-get install prometheus)"
    port_was_free = not _listening(PROMETHEUS_PORT)
    written_policy = not POLICY_RC_D.exists()
    if written_policy:
        POLICY_RC_D.write_text("#!/bin/sh\n# Written by omnibot's tests while they install promtool.\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        problem = _apt_get_install("prometheus")
    finally:
        if written_policy:
            POLICY_RC_D.unlink()
    if shutil.which("systemctl"):  # the package enabled the server for the next boot (systemd and SysV links)
        running = Path("/run/systemd/system").is_dir()
        subprocess.run(["systemctl", "disable", *(["--now"] if running else []), "prometheus"], capture_output=True)
    if problem:
        return problem
    if port_was_free and _listening(PROMETHEUS_PORT):
        pytest.fail(f"installing promtool started a Prometheus server on port {PROMETHEUS_PORT}: stop it "
                    "(systemctl disable --now prometheus, or /etc/init.d/prometheus stop)", pytrace=False)
    return None if PROMTOOL.exists() else f"apt-get installed prometheus, but {PROMTOOL} is still missing"
