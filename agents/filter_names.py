"""Names of the nwfilters every traffic shape builds on."""

# libvirt's built-in anti-spoofing filter: MAC, IP and ARP bound to what the control plane assigned.
CLEAN_TRAFFIC_FILTER = "clean-traffic"
# dcloud's own filter for the partial restriction of Art. 16(4)-3..5 (clean-traffic + drop outbound TCP 25).
SMTP_BLOCK_FILTER = "dcloud-clean-traffic-no-smtp"
