"""prometheus-client reads PROMETHEUS_MULTIPROC_DIR once, when first imported: whatever `omnibot
serve` and `omnibot worker` import before they set it must not import it, or each gunicorn process
counts alone and /metrics answers one process's counters (README, "Metrics")."""

from __future__ import annotations

import subprocess
import sys

BEFORE_THE_DIRECTORY = ("omnibot.entrypoints.cli", "omnibot.entrypoints.config_check",
                        "omnibot.entrypoints.metrics_setup", "omnibot.bootstrap",
                        "omnibot.entrypoints.http.gunicorn_config")


def test_nothing_run_before_the_metrics_directory_is_set_imports_prometheus_client() -> None:
    imports = "; ".join(f"import {module}" for module in BEFORE_THE_DIRECTORY)
    found = subprocess.run([sys.executable, "-c", f"import sys; {imports}; "
                            "print('prometheus_client' in sys.modules)"],
                           capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
