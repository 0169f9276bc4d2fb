"""What the benchmark ran on: hardware, system and the versions that matter."""

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version

from bench.dataset import connect

PACKAGES = ("Flask", "SQLAlchemy", "Flask-SQLAlchemy", "psycopg2-binary", "gunicorn", "bcrypt")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib():
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def wrk_version():
    completed = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    first = (completed.stdout or completed.stderr).splitlines()
    return first[0].split(" [")[0] if first else "unknown"


def package_version(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def describe(database_url):
    """Return the machine and software the benchmark runs with."""
    with connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgresql = cursor.fetchone()[0]
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": memory_gib(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": postgresql,
        "wrk": wrk_version(),
        "packages": {name: package_version(name) for name in PACKAGES},
    }
