"""An environment file read the way systemd's EnvironmentFile= reads it (systemd.exec(5)).

Lines starting with `#` or `;` are comments; `KEY=VALUE` sets KEY; whitespace around an unquoted value
is dropped, a value in single or double quotes is taken as written. There are no comments after a value:
`A=b  # c` sets A to `b  # c`, which is the mistake this reader exists to catch.
"""

from __future__ import annotations

import re
from pathlib import Path

_ASSIGNMENT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        match = _ASSIGNMENT.match(line)
        if match is None:
            raise ValueError(f"{path}:{number}: not KEY=VALUE: {line!r}")
        key, value = match[1], match[2].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values
