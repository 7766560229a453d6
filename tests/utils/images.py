"""Test images built with qemu-img in the test, a loopback HTTP server to import them from, and valid
first-boot inputs (an SSH public key, a crypt hash)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import os
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024
# A sha-512 crypt(3) hash (of "dcloud", computed once with `openssl passwd -6 -salt dctestsalt`).
PASSWORD_HASH = (
    "$6$dctestsalt$QSMh8yHROUdeIdqFccrF66b8/KZLP/lnB/ToJ9PSqyUKbrNneh8TFbkLwZB9z9ddqVl7VQ24GIJ9IPmWELQDO1"
)


def ssh_key(comment: str = "dctest@example", seed: bytes = b"k") -> str:
    """A well-formed ssh-ed25519 public key line (the blob names its type, then 32 key bytes)."""
    key_type = b"ssh-ed25519"
    point = hashlib.sha256(seed).digest()
    blob = struct.pack(">I", len(key_type)) + key_type + struct.pack(">I", len(point)) + point
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


def raw_image(path: Path, size_mib: int = 8, marker: bytes = b"dcloud-test-image") -> Path:
    """A sparse raw image with a marker at its start (so the guest disk's content can be checked)."""
    with path.open("wb") as f:
        f.write(marker)
        f.truncate(size_mib * MIB)
    return path


def qcow2_image(path: Path, size_mib: int = 16, marker: bytes | None = b"dcloud-qcow2-image") -> Path:
    if marker is None:
        qemu_img("create", "-q", "-f", "qcow2", str(path), f"{size_mib}M")
        return path
    raw = raw_image(path.with_suffix(".marker-raw"), size_mib, marker)
    qemu_img("convert", "-f", "raw", "-O", "qcow2", str(raw), str(path))
    raw.unlink()
    return path


def backing_file_qcow2(path: Path, backing: Path) -> Path:
    qemu_img("create", "-q", "-f", "qcow2", "-b", str(backing), "-F", "raw", str(path))
    return path


def data_file_qcow2(path: Path, data_file: Path) -> Path:
    qemu_img("create", "-q", "-f", "qcow2", "-o", f"data_file={data_file}", str(path), "16M")
    return path


def vmdk_image(path: Path) -> Path:
    qemu_img("create", "-q", "-f", "vmdk", str(path), "16M")
    return path


def truncated(source: Path, path: Path, keep_bytes: int = 600) -> Path:
    path.write_bytes(source.read_bytes()[:keep_bytes])
    return path


@dataclass
class ServedFiles:
    """What the loopback server serves (`/<name>`), and how it misbehaves when told to."""

    root: Path
    hang: bool = False
    # Drop the connection after this many body bytes on the first GET of each file (resume tests).
    cut_after: int | None = None
    # Send the body in 64 KiB pieces this far apart: a slow link, so fetches overlap in time.
    piece_delay_s: float = 0.0
    # Send the headers, then one body byte this often (well under any per-read timeout), until released.
    trickle_every_s: float | None = None
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    _cut: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(files: ServedFiles) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            files.requests.append((self.path, self.headers.get("Range")))
            if files.hang:
                files.release.wait(30)
                return
            path = files.root / self.path.lstrip("/")
            if not path.is_file():
                self.send_error(404)
                return
            data = path.read_bytes()
            start = 0
            ranged = self.headers.get("Range")
            if ranged and ranged.startswith("bytes="):
                start = int(ranged[6:].split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if files.cut_after is not None and self.path not in files._cut:
                files._cut.add(self.path)
                self.wfile.write(body[: files.cut_after])
                self.wfile.flush()
                self.connection.shutdown(2)
                return
            with contextlib.suppress(OSError):  # the client gave up (a deadline, a timeout)
                self._send_body(body)

        def _send_body(self, body: bytes) -> None:
            if files.trickle_every_s is not None:
                for offset in range(len(body)):
                    self.wfile.write(body[offset : offset + 1])
                    self.wfile.flush()
                    if files.release.wait(files.trickle_every_s):
                        return
                return
            if files.piece_delay_s:
                for offset in range(0, len(body), 64 * 1024):
                    self.wfile.write(body[offset : offset + 64 * 1024])
                    self.wfile.flush()
                    time.sleep(files.piece_delay_s)
                return
            self.wfile.write(body)

    return Handler


@contextlib.contextmanager
def serve_files(root: Path, **behaviour: object) -> Iterator[tuple[str, ServedFiles]]:
    """An HTTP server on 127.0.0.1 serving `root`; yields (base URL, its controls)."""
    files = ServedFiles(root=root, **behaviour)  # type: ignore[arg-type]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(files))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files
    finally:
        files.release.set()
        server.shutdown()
        server.server_close()


def files_in(directory: Path) -> list[str]:
    return sorted(os.listdir(directory)) if directory.exists() else []
