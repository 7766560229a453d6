"""`dcloud console SERVER`: attach this terminal to a server's serial console, like `virsh console`.

Gets a single-use ticket (`POST /v1/servers/{id}/console-tickets`, with DCLOUD_TOKEN), opens the console
WebSocket with it, puts the terminal in raw mode (so Ctrl-C, arrows and tabs reach the guest), and copies
bytes both ways until Ctrl-] (the escape, as in virsh and telnet) or the session ends.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from typing import Any, BinaryIO

from controlplane.cli.api_client import add_api_flags, client_for, detail_of
from controlplane.cli.args import leaf
from controlplane.cli.routes import calls

ESCAPE = 0x1D  # Ctrl-]
EXIT_REFUSED = 1


def ws_url(api_url: str, path: str) -> str:
    base = api_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + path
    return "ws://" + base.removeprefix("http://") + path


def cmd_console(args: argparse.Namespace) -> int:
    with client_for(args) as http:
        response = http.post(f"/v1/servers/{args.server}/console-tickets")
    if response.status_code >= 400:
        detail = detail_of(response)
        print(f"dcloud console: error ({response.status_code}): {detail}", file=sys.stderr)
        return EXIT_REFUSED
    url = ws_url(args.api_url, response.json()["path"])
    return attach(url, sys.stdin.fileno(), sys.stdout.buffer, banner=sys.stderr)


def attach(url: str, input_fd: int, output: BinaryIO, *, banner: Any = None) -> int:
    """Relays `input_fd` -> console and console -> `output` until the escape byte or the end."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    try:
        ws = connect(url, open_timeout=15, max_size=2**20)
    except InvalidStatus as exc:
        body = exc.response.body.decode(errors="replace") if exc.response.body else ""
        print(f"dcloud console: error ({exc.response.status_code}): {body}", file=sys.stderr)
        return EXIT_REFUSED
    if banner is not None:
        print("Connected to the server's console. Escape character is ^]", file=banner, flush=True)
    ended = threading.Event()

    def output_loop() -> None:
        try:
            for message in ws:
                output.write(message.encode() if isinstance(message, str) else message)
                output.flush()
        except ConnectionClosed:
            pass
        finally:
            ended.set()

    with ws, _raw_terminal(input_fd):
        reader = threading.Thread(target=output_loop, name="console-output", daemon=True)
        reader.start()
        _input_loop(ws, input_fd, ended)
    reader.join(2)
    reason = ws.close_reason or ""
    if banner is not None:
        print(f"\r\nConsole closed{': ' + reason if reason else ''}", file=banner, flush=True)
    return 0


def _input_loop(ws: Any, input_fd: int, ended: threading.Event) -> None:
    while not ended.is_set():
        ready, _, _ = select.select([input_fd], [], [], 0.2)
        if not ready:
            continue
        data = os.read(input_fd, 4096)
        if not data:
            return  # end of input (a pipe): leave the session
        if ESCAPE in data:
            before = data[: data.index(ESCAPE)]
            if before:
                ws.send(before)
            return
        ws.send(data)


@contextlib.contextmanager
def _raw_terminal(fd: int) -> Iterator[None]:
    """Raw mode while attached (a pipe or file is left as it is); the old mode comes back on any exit."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def add_parsers(subs: Any) -> None:
    parser = leaf(
        subs,
        "console",
        cmd_console,
        "attach this terminal to a server's serial console (Ctrl-] leaves)",
        "Opens the server's serial console through the control plane with a single-use ticket. "
        "Needs DCLOUD_TOKEN of a role that may open consoles; refused while the server is under a full "
        "restriction.",
    )
    parser.add_argument("server", help="the server's id")
    add_api_flags(parser)
    calls(parser, ("POST", "/v1/servers/{server}/console-tickets"))
