"""`.env.example`, copied to `.env` as it says, gives a configuration that starts."""

import shutil
import subprocess

import pytest
from dotenv import dotenv_values

from eventbook import create_app
from tests.live import ROOT


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_copied_env_example_gets_a_secret_key_and_starts_the_application(tmp_path):
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    environment = {"PATH": "/usr/bin:/bin", "PYTHON": "python3"}
    for _ in range(2):  # the second run keeps the key of the first
        subprocess.run(
            ["make", "-s", "-f", str(ROOT / "Makefile"), "secret-key"],
            cwd=tmp_path,
            env=environment,
            check=True,
            capture_output=True,
        )
    lines = (tmp_path / ".env").read_text().splitlines()
    assert sum(line.startswith("SECRET_KEY=") for line in lines) == 1
    settings = dotenv_values(tmp_path / ".env")
    assert len(settings["SECRET_KEY"]) >= 32
    app = create_app({"SECRET_KEY": settings["SECRET_KEY"], "DEBUG": False})
    assert app.config["SECRET_KEY"] == settings["SECRET_KEY"]
    assert settings["TRUSTED_PROXIES"] == "0"
