"""The NoCloud seed cloud-init reads on first boot: an ISO 9660 volume labelled `cidata`, built in Python.

Three documents (cloud-init's NoCloud datasource): `meta-data` (instance-id = the server id, the hostname),
`user-data` (#cloud-config: hostname, SSH keys, optionally a password *hash* for root) and
`network-config` (version 2: the leased address, prefix, gateway and DNS, matched by MAC). All three are
written as JSON, which YAML reads as-is: no value a customer chose can change the documents' structure.
The seed is customer data: deleting the server wipes it like the disk.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass

import pycdlib

from controlplane.protocol import DesiredServer, NetworkAttachment

SEED_LABEL = "cidata"
CLOUD_CONFIG_HEADER = "#cloud-config\n"
# (ISO 9660 level-1 name, Rock Ridge / Joliet name): cloud-init looks the files up by the long names.
_FILES = (
    ("METADATA.;1", "meta-data"),
    ("USERDATA.;1", "user-data"),
    ("NETCONF.;1", "network-config"),
)


@dataclass(frozen=True)
class SeedDocuments:
    meta_data: str
    user_data: str
    network_config: str

    def fingerprint(self) -> str:
        """Changes whenever any document does (kept in the domain metadata to know when to rebuild)."""
        digest = hashlib.sha256()
        for part in (self.meta_data, self.user_data, self.network_config):
            digest.update(part.encode())
            digest.update(b"\0")
        return digest.hexdigest()[:32]


def seed_documents(server: DesiredServer) -> SeedDocuments:
    """The three NoCloud documents for `server` (which must carry `first_boot`)."""
    if server.first_boot is None:
        raise ValueError(f"server {server.id} has no first-boot settings")
    boot = server.first_boot
    meta = {"instance-id": server.id, "local-hostname": boot.hostname}
    user: dict[str, object] = {
        "hostname": boot.hostname,
        "preserve_hostname": False,
        "ssh_authorized_keys": list(boot.ssh_authorized_keys),
    }
    if boot.password_hash is not None:
        # type "hash": cloud-init passes it to chpasswd -e; no plaintext exists anywhere.
        user["chpasswd"] = {
            "expire": False,
            "users": [{"name": "root", "password": boot.password_hash, "type": "hash"}],
        }
    return SeedDocuments(
        meta_data=_json(meta),
        user_data=CLOUD_CONFIG_HEADER + _json(user),
        network_config=_json(network_config(server.networks)),
    )


def network_config(attachments: list[NetworkAttachment]) -> dict[str, object]:
    """cloud-init network-config version 2: one static ethernet per attachment, matched by MAC."""
    ethernets: dict[str, object] = {}
    for index, attachment in enumerate(attachments):
        name = f"eth{index}"
        eth: dict[str, object] = {"match": {"macaddress": attachment.mac.lower()}, "set-name": name}
        if attachment.prefix is not None:
            eth["addresses"] = [f"{attachment.ip}/{attachment.prefix}"]
        else:
            eth["dhcp4"] = True
        if attachment.gateway is not None:
            eth["gateway6" if ":" in attachment.gateway else "gateway4"] = attachment.gateway
        if attachment.dns:
            eth["nameservers"] = {"addresses": list(attachment.dns)}
        ethernets[name] = eth
    return {"version": 2, "ethernets": ethernets}


def build_seed_iso(documents: SeedDocuments) -> bytes:
    """The seed as ISO 9660 bytes (Joliet + Rock Ridge names), volume label `cidata`."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=SEED_LABEL)
    contents = (documents.meta_data, documents.user_data, documents.network_config)
    for (iso_name, long_name), text in zip(_FILES, contents, strict=True):
        data = text.encode()
        iso.add_fp(
            io.BytesIO(data), len(data), f"/{iso_name}", rr_name=long_name, joliet_path=f"/{long_name}"
        )
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def read_seed_iso(data: bytes) -> dict[str, str]:
    """name -> text of the files in a seed (by their Joliet names): for tests and for checking a seed."""
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    try:
        found = {}
        for _iso_name, long_name in _FILES:
            out = io.BytesIO()
            iso.get_file_from_iso_fp(out, joliet_path=f"/{long_name}")
            found[long_name] = out.getvalue().decode()
        return found
    finally:
        iso.close()


def seed_label(data: bytes) -> str:
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    try:
        return iso.pvd.volume_identifier.decode().strip()
    finally:
        iso.close()


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=True, indent=1, sort_keys=True) + "\n"
