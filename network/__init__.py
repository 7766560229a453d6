"""Network module: IPAM, WHOIS server and RDAP (Art. 24)."""
