"""The shipped production set-up (deploy/) run for real on loopback, for tests.

render_nginx_site() turns deploy/nginx/engage.conf into a config for this machine by
replacing only the values an operator replaces (ports, upstream servers, certificate,
checkout and log paths), each of which must be found: the file cannot drift from what
the tests check. Nginx, gunicorn nodes (with deploy/gunicorn.conf.py) and `engage worker`
run as real processes, stopped at the end.
"""

from __future__ import annotations

import http.client
import os
import pwd
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX_SITE = DEPLOY / "nginx" / "engage.conf"
GUNICORN_CONF = DEPLOY / "gunicorn.conf.py"
NGINX = "/usr/sbin/nginx"
BIN = Path(sys.executable).parent
REDIS_CLAIM = "engage-tests:claimed-by"  # the one key a claimed test database starts with


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, seconds: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(interval)


def make_certificate(folder: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` (clients trust it as their CA)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"deploy/nginx/engage.conf no longer contains {old!r}"
    return text.replace(old, new)


def render_nginx_site(
    *,
    upstreams: list[int],
    http_port: int,
    https_port: int,
    cert: Path,
    key: Path,
    logs: Path,
) -> str:
    """deploy/nginx/engage.conf with this machine's ports and paths."""
    text = NGINX_SITE.read_text()
    text = _replace(text, "    listen [::]:80;\n", "")
    text = _replace(text, "    listen [::]:443 ssl http2;\n", "")
    text = _replace(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
    text = _replace(text, "listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    servers = "".join(
        f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;\n" for port in upstreams
    )
    text = _replace(
        text,
        "    server 127.0.0.1:8001 max_fails=3 fail_timeout=10s;\n"
        "    server 127.0.0.1:8002 max_fails=3 fail_timeout=10s;\n",
        servers,
    )
    text = _replace(text, "/etc/ssl/engage/fullchain.pem", str(cert))
    text = _replace(text, "/etc/ssl/engage/privkey.pem", str(key))
    text = _replace(text, "/opt/engage/app/", f"{ROOT}/")
    text = _replace(text, "/var/log/nginx/", f"{logs}/")
    return text


def nginx_main_config(site: Path, prefix: Path) -> str:
    """What /etc/nginx/nginx.conf provides around a site, in ``prefix``."""
    # Run as root (as here), nginx's workers would be "nobody", who cannot write the
    # request bodies it buffers into the test's private temporary folder.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    return f"""
{user}
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {site};
}}
"""


def write_nginx(prefix: Path, **site_values) -> Path:
    """Write the rendered site and a main config into ``prefix``; return the main one."""
    prefix.mkdir(parents=True, exist_ok=True)
    site = prefix / "engage.conf"
    site.write_text(render_nginx_site(logs=prefix, **site_values))
    main = prefix / "nginx.conf"
    main.write_text(nginx_main_config(site, prefix))
    return main


def nginx_test(main: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [NGINX, "-t", "-p", str(main.parent), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=30,
    )


class Process:
    """A child process with its output in a file; stopped (or killed) at the end."""

    def __init__(self, name: str, command: list[str], env: dict, log: Path):
        self.name = name
        self.log = log
        self._out = log.open("ab")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise AssertionError(
                f"{self.name} exited with {self.process.returncode}:\n{self.output()[-3000:]}"
            )

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: nothing in the process gets to tidy up."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.alive():
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._out.close()


def start_nginx(main: Path) -> Process:
    return Process("nginx", [NGINX, "-p", str(main.parent), "-c", str(main)], os.environ.copy(),
                   main.parent / "nginx.out")  # fmt: skip


def start_node(port: int, env: dict, folder: Path, workers: int = 2) -> Process:
    """gunicorn with the shipped deploy/gunicorn.conf.py on 127.0.0.1:``port``."""
    node_env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
    }
    if env.get("ENGAGE_METRICS_TOKEN"):
        node_env["PROMETHEUS_MULTIPROC_DIR"] = str(folder / f"metrics-{port}")
    return Process(
        f"web node :{port}",
        [str(BIN / "gunicorn"), "-c", str(GUNICORN_CONF)],
        node_env,
        folder / f"node-{port}.log",
    )


def start_worker(name: str, env: dict, folder: Path, threads: int = 2) -> Process:
    return Process(
        f"worker {name}",
        [str(BIN / "engage"), "worker", "--workers", str(threads)],
        env,
        folder / f"worker-{name}.log",
    )


def engage(env: dict, *args: str, input: str | None = None, timeout: float = 300) -> str:
    """Run the `engage` command; fail with its output when it fails."""
    done = subprocess.run(
        [str(BIN / "engage"), *args],
        cwd=ROOT,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"engage {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict | None = None,
    tls: ssl.SSLContext | None = None,
    source: str | None = None,
    timeout: float = 60,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One HTTP(S) request to 127.0.0.1:``port``, from ``source`` (a loopback address)."""
    source_address = (source, 0) if source else None
    if tls is not None:
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            "localhost", port, context=tls, timeout=timeout, source_address=source_address
        )
    else:
        connection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=timeout, source_address=source_address
        )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def wait_ready(port: int, process: Process, seconds: float = 90) -> None:
    """Until the node's /readyz answers 200 (the database is migrated and reachable)."""
    wait_answering(port, process, "/readyz", seconds)


def wait_answering(port: int, process: Process, path: str, seconds: float = 90) -> None:
    """Until ``process`` answers GET ``path`` on ``port`` with 200 (it dies: fail now)."""

    def answering() -> bool:
        process.check_alive()
        try:
            return request(port, "GET", path, timeout=5)[0] == 200
        except OSError:
            return False

    wait_until(answering, seconds, f"{process.name} to answer {path}", interval=0.2)


def free_redis_db() -> int | None:
    """A Redis database number nobody is using (never 0), or None when there is none.

    The SQLite and PostgreSQL suites run side by side in CI, so an empty database is
    claimed with a key only one process can set; flush_redis_db() lets it go again."""
    import redis

    for number in range(15, 0, -1):
        client = redis.Redis(db=number)
        if client.dbsize() == 0 and client.set(REDIS_CLAIM, os.getpid(), nx=True):
            return number
    return None


def flush_redis_db(number: int | None) -> None:
    """Empty a database number free_redis_db() gave (never 0: that one is shared)."""
    import redis

    if number:
        redis.Redis(db=number).flushdb()
