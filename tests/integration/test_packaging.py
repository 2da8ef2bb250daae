"""The distribution a `pip install` gets: both packages, with the files they read at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_omnibot_and_the_sandbox_with_their_pages_and_migrations(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("omnibot-*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    def some(prefix: str, suffix: str) -> bool:
        return any(name.startswith(prefix) and name.endswith(suffix) for name in names)

    assert some("omnibot_sandbox/templates/", ".html") and some("omnibot_sandbox/static/", "")
    assert "omnibot_sandbox/app.py" in names and "omnibot_sandbox/README.md" in names
    assert some("omnibot/entrypoints/http/admin/templates/admin/", ".html")
    assert some("omnibot/adapters/db/migrations/versions/", "_priorities.py")
    assert some("omnibot/templates/", ".toml")
    assert not any(name.startswith("tests/") or name.startswith("bench/") for name in names)
