"""The shipped nginx site (deploy/nginx/eventbook.conf), run by a test.

The site is rendered into a temporary directory with two changes only: the
upstream servers and the port it listens on. A minimal main configuration
around it keeps every file nginx writes (pid, logs, buffers) in that
directory.
"""

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests import services
from tests.live import ROOT, free_port

SITE = ROOT / "deploy" / "nginx" / "eventbook.conf"
NGINX_INSTALL = "apt-get install nginx"

MAIN = """\
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/eventbook.conf;
}}
"""


def nginx_binary():
    found = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
    if not found:
        services.skip_or_fail(f"nginx is not installed ({NGINX_INSTALL})")
    return found


def render_site(upstreams, port, replace=()):
    """Return the shipped site with its upstream servers and port replaced.

    `replace` holds further (old, new) pairs, each of which must occur.
    """
    site = SITE.read_text()
    servers = "".join(f"server {address};\n    " for address in upstreams)
    for old, new in (
        ("server 127.0.0.1:8000;\n    ", servers),
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        *replace,
    ):
        assert old in site, f"{old!r} is no longer in {SITE.name}"
        site = site.replace(old, new)
    return site


class Nginx:
    """nginx with the shipped site in front of `upstreams` ("host:port" strings)."""

    def __init__(self, upstreams, replace=()):
        binary = nginx_binary()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.directory = Path(tempfile.mkdtemp(prefix="eventbook-nginx-"))
        self.directory.chmod(0o755)  # the worker processes run as an unprivileged user
        (self.directory / "eventbook.conf").write_text(render_site(upstreams, self.port, replace))
        (self.directory / "nginx.conf").write_text(MAIN.format(directory=self.directory))
        self.command = [
            binary,
            "-e",
            str(self.directory / "error.log"),
            "-p",
            str(self.directory),
            "-c",
            str(self.directory / "nginx.conf"),
        ]
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def wait_until_up(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"nginx exited: {self.process.stderr.read().decode()}{self.error_log()}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not answer at {self.url}: {self.error_log()}")

    def error_log(self):
        path = self.directory / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stderr.close()
        shutil.rmtree(self.directory, ignore_errors=True)
