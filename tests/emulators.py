"""Cloud storage emulators for the backends tests: Azurite (Azure Blob Storage,
from npm) and gcp-storage-emulator (Google Cloud Storage, from PyPI).

Each runs as a process on 127.0.0.1 and a free port, keeps its data in memory,
and is stopped by its pid. Stacks reach an emulator through a
:class:`~tests.faultproxy.FaultProxy` whose :class:`WriteCounter` counts the
requests per container (bucket) that could change it, so a test can prove that
no write reached a read-only layer; the tests' own seeding and checking go to
the emulator directly and are not counted.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
# `make test` installs Azurite here (npm ci --prefix tests/node).
AZURITE = ROOT / "tests" / "node" / "node_modules" / ".bin" / "azurite-blob"

# Azurite's one account and its key, as documented for every Azurite user.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

READS = frozenset({"GET", "HEAD", "OPTIONS"})


class EmulatorProcess:
    """A server process listening on 127.0.0.1:``port``, stopped by its pid."""

    name = "emulator"

    def __init__(self, argv: list[str], port: int, directory: Path) -> None:
        self.argv = argv
        self.port = port
        self.directory = directory
        self.log = directory / f"{self.name}.log"
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> EmulatorProcess:
        with open(self.log, "wb") as log:
            self._process = subprocess.Popen(
                self.argv, cwd=self.directory, stdout=log, stderr=subprocess.STDOUT
            )
        self.pid = self._process.pid
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                output = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.name} did not start on port {self.port}:\n{output}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.pid is None or self._process is None:
            return
        if self._process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self._process.wait()
        self.pid = None


class Azurite(EmulatorProcess):
    """Azurite's Blob service, in memory, without telemetry."""

    name = "azurite"

    def __init__(self, binary: str, port: int, directory: Path) -> None:
        argv = [
            binary,
            *("--blobHost", "127.0.0.1", "--blobPort", str(port)),
            # In memory; the process runs in ``directory``, where anything else goes.
            *("--inMemoryPersistence", "--disableTelemetry"),
            # The Azure SDK may be newer than the Azurite release.
            "--skipApiVersionCheck",
        ]
        super().__init__(argv, port, directory)

    def connection_string(self, endpoint: str | None = None) -> str:
        """A connection string for the emulator, or for ``endpoint`` in front of it."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint or self.url}/{AZURITE_ACCOUNT};"
        )


class GcsEmulator(EmulatorProcess):
    """gcp-storage-emulator, in memory."""

    name = "gcp-storage-emulator"

    def __init__(self, python: str, port: int, directory: Path) -> None:
        argv = [
            *(python, "-m", "gcp_storage_emulator", "start"),
            *("--host", "127.0.0.1", "--port", str(port), "--in-memory", "--quiet"),
        ]
        super().__init__(argv, port, directory)


class WriteCounter:
    """``on_request`` for a proxy: requests, and writes (any method but GET,
    HEAD and OPTIONS), per container or bucket."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.requests: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, method: str, path: str) -> None:
        container = container_of(self.kind, path)
        with self._lock:
            self.requests[container] += 1
            if method not in READS:
                self.writes[container] += 1


_GCS_BUCKET = re.compile(r"/b/([^/?]+)")


def container_of(kind: str, path: str) -> str:
    """The Azure container or Google Cloud bucket a request path is about."""
    path = unquote(urlsplit(path).path)
    if kind == "azure":  # /devstoreaccount1/<container>/<blob>
        parts = path.split("/")
        return parts[2] if len(parts) > 2 else ""
    match = _GCS_BUCKET.search(path)  # /storage/v1/b/<bucket>/o/..., /upload/..., /download/...
    return match.group(1) if match else ""


def anonymous_gcs_client(endpoint: str) -> Any:
    """A google-cloud-storage client for the emulator (or a proxy) at ``endpoint``."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.storage import Client

    return Client(
        project="storage-mixins-tests",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )
