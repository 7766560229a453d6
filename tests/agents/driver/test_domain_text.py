"""Domain titles: one printable line whatever the server name holds; a plain name is unchanged."""

from __future__ import annotations

import pytest
from lxml import etree

from agents.domain_text import domain_title
from agents.domain_xml import build_domain_xml
from controlplane.protocol import DesiredServer


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("web-1 웹서버", "web-1 웹서버"),
        ("a\nb\rc", "a\u2424b\u240dc"),
        ("x\x1b[2Jy", "x\u241b[2Jy"),
        ("del\x7f", "del\u2421"),
        ("rtl\u202eevil", "rtl\\u202eevil"),
        ("c1\x85", "c1\\u0085"),
        ("sep\u2028x", "sep\\u2028x"),
    ],
)
def test_title_shows_controls_visibly(name: str, title: str) -> None:
    assert domain_title(name) == title


def test_the_built_domain_title_is_escaped_and_the_metadata_keeps_the_name() -> None:
    server = DesiredServer(
        id="dctest1",
        name="a\u202eb\nc",
        vcpus=1,
        memory_mib=64,
        disk_gib=1,
        desired_state="running",
        generation=1,
    )
    root = etree.fromstring(build_domain_xml(server, domain_type="qemu", volume_path="/tmp/x").encode())
    assert root.findtext("title") == "a\\u202eb\u2424c"
    ns = "https://dcloud.example/xmlns/server/1"
    assert root.findtext(f"metadata/{{{ns}}}server/{{{ns}}}name") == "a\u202eb\nc"
