"""The first-boot inputs of a server (issue 9): hostname, SSH public keys, a password hash.

Each check refuses without echoing the value (a 422 names the field only): a key or a hash is a secret
of sorts, and a refusal must not put it in logs.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

# RFC 1123 label: letters, digits, hyphens; no hyphen at either end; 1..63 characters.
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
_MAX_KEY_CHARS = 16 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# crypt(3) hashes cloud-init hands to `chpasswd -e`: sha-256, sha-512, yescrypt, bcrypt. (md5-crypt and
# DES are refused: too weak to publish even as a hash.)
_CRYPT = re.compile(
    r"^(\$5\$(rounds=\d{4,9}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{43}"
    r"|\$6\$(rounds=\d{4,9}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}"
    r"|\$y\$[./0-9A-Za-z]{1,32}\$[./0-9A-Za-z]{1,86}\$[./0-9A-Za-z]{43}"
    r"|\$2[aby]\$\d{2}\$[./0-9A-Za-z]{53})$"
)


def check_hostname(value: str) -> str:
    if not _LABEL.match(value):
        raise PydanticCustomError(
            "hostname", "must be a DNS label: 1-63 lower-case letters, digits or hyphens, no hyphen at an end"
        )
    return value


def check_ssh_public_key(value: str) -> str:
    """One OpenSSH public key line: `<type> <base64 blob> [comment]`, the blob naming the same type."""
    parts = value.strip().split(None, 2)
    # One line only: a newline in the comment would put a second key line into authorized_keys.
    if _CONTROL.search(value) or len(value) > _MAX_KEY_CHARS or len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise PydanticCustomError(
            "ssh_key", "must be an OpenSSH public key line (type, key, optional comment)"
        )
    try:
        blob = base64.b64decode(parts[1], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        inner_type = blob[4 : 4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError, ValueError):
        raise PydanticCustomError("ssh_key", "the key part is not a valid base64 SSH key blob") from None
    if inner_type != parts[0] or len(blob) <= 4 + length:
        raise PydanticCustomError("ssh_key", "the key blob does not hold a key of the stated type")
    return " ".join(parts)


def check_password_hash(value: str) -> str:
    if not _CRYPT.match(value):
        raise PydanticCustomError(
            "password_hash",
            "must be a crypt(3) hash ($5$, $6$, $y$ or $2b$), never a plaintext password",
        )
    return value


# The OpenAPI patterns are the outline; the validators are the rule (and give the clearer error).
Hostname = Annotated[
    str,
    Field(min_length=1, max_length=63, json_schema_extra={"pattern": _LABEL.pattern}),
    AfterValidator(check_hostname),
]
SshPublicKey = Annotated[
    str,
    Field(min_length=1, max_length=_MAX_KEY_CHARS, json_schema_extra={"pattern": r"^(ssh|ecdsa|sk)-[ -~]+$"}),
    AfterValidator(check_ssh_public_key),
]
PasswordHash = Annotated[
    str,
    Field(min_length=1, max_length=255, json_schema_extra={"pattern": _CRYPT.pattern}),
    AfterValidator(check_password_hash),
]
