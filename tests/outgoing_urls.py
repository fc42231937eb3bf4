"""Endpoint URLs that lead inside the operator's network, in every spelling, and the fake DNS the tests use.

DNS answers cannot be arranged here for real (and must not point anywhere off this machine), so names ending in
`.test` resolve through FAKE_DNS, installed by the `fake_dns` fixture over the one lookup seam
(flexbill.outgoing.addresses.lookup). Addresses under "public" are never connected to by any test.
"""

import ipaddress
import socket

PUBLIC = "93.184.215.14"  # a public unicast address; tests only ever check it, never connect to it

FAKE_DNS = {
    "public.test": [PUBLIC],
    "xn--bcher-kva.test": [PUBLIC],  # bücher.test
    "v6.test": ["2606:4700:4700::1111"],
    "private.test": ["10.0.0.5"],
    "metadata.test": ["169.254.169.254"],
    "loopback.test": ["127.0.0.1"],
    "mapped.test": ["::ffff:10.1.2.3"],
    "any-internal.test": [PUBLIC, "192.168.1.20"],  # one internal address among public ones is enough
}


def fake_lookup(table: dict):
    def lookup(host: str):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(a) for a in table[host]]

    return lookup


# (url, what it is) — each must be refused as an internal address, with or without the development switch.
INTERNAL_URLS = [
    ("https://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("https://[fd00:ec2::254]/latest/meta-data/", "cloud metadata over IPv6"),
    ("https://100.100.100.200/", "Alibaba metadata"),
    ("https://192.0.0.192/", "Oracle metadata"),
    ("https://168.63.129.16/", "Azure wire server"),
    ("https://10.0.0.1/", "private 10/8"),
    ("https://10.255.255.255:8443/", "private 10/8 with port"),
    ("https://172.16.0.1/", "private 172.16/12"),
    ("https://172.31.255.254/", "private 172.16/12, top"),
    ("https://192.168.1.1/", "private 192.168/16"),
    ("https://127.0.0.1/", "loopback"),
    ("https://127.8.9.10/", "loopback /8"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://0/", "unspecified, decimal"),
    ("https://100.64.0.1/", "shared 100.64/10"),
    ("https://169.254.1.1/", "link-local"),
    ("https://198.18.0.1/", "benchmarking"),
    ("https://192.0.2.10/", "documentation TEST-NET-1"),
    ("https://198.51.100.10/", "documentation TEST-NET-2"),
    ("https://203.0.113.10/", "documentation TEST-NET-3"),
    ("https://224.0.0.1/", "multicast"),
    ("https://239.255.255.250/", "multicast SSDP"),
    ("https://240.0.0.1/", "reserved"),
    ("https://255.255.255.255/", "broadcast"),
    ("https://2130706433/", "loopback, decimal"),
    ("https://0x7f000001/", "loopback, hex"),
    ("https://0X7F000001/", "loopback, hex upper case"),
    ("https://0x7f.0.0.1/", "loopback, hex first part"),
    ("https://0177.0.0.1/", "loopback, octal"),
    ("https://127.1/", "loopback, short"),
    ("https://127.0.1/", "loopback, three parts"),
    ("https://127.0.0.1./", "loopback, trailing dot"),
    ("https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "loopback, full-width digits (IDNA)"),
    ("https://127\u30020\u30020\u30021/", "loopback, ideographic dots (IDNA)"),
    ("https://2852039166/", "metadata, decimal"),
    ("https://0xa9fea9fe/", "metadata, hex"),
    ("https://0251.0376.0251.0376/", "metadata, octal"),
    ("https://10.1/", "private, short"),
    ("https://0300.0250.0.1/", "private 192.168.0.1, octal"),
    ("https://localhost:6379/", "localhost (Redis)"),
    ("https://LOCALHOST/", "localhost, upper case"),
    ("https://localhost./", "localhost, trailing dot"),
    ("https://redis.localhost/", "a .localhost name"),
    ("https://[::1]/", "IPv6 loopback"),
    ("https://[0:0:0:0:0:0:0:1]/", "IPv6 loopback, long form"),
    ("https://[::]/", "IPv6 unspecified"),
    ("https://[::ffff:127.0.0.1]:5432/", "IPv4-mapped loopback (PostgreSQL)"),
    ("https://[::ffff:7f00:1]/", "IPv4-mapped loopback, hex"),
    ("https://[::FFFF:A9FE:A9FE]/", "IPv4-mapped metadata, upper case"),
    ("https://[::ffff:8.8.8.8]/", "IPv4-mapped, even of a public address"),
    ("https://[::127.0.0.1]/", "IPv4-compatible"),
    ("https://[::ffff:0:a00:1]/", "IPv4-translated"),
    ("https://[2002:7f00:1::]/", "6to4 of loopback"),
    ("https://[2002:a9fe:a9fe::]/", "6to4 of metadata"),
    ("https://[64:ff9b::7f00:1]/", "NAT64 of loopback"),
    ("https://[64:ff9b::a9fe:a9fe]/", "NAT64 of metadata"),
    ("https://[64:ff9b:1::a00:1]/", "local-use NAT64"),
    ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "Teredo"),
    ("https://[fe80::1]/", "IPv6 link-local"),
    ("https://[fe80::1%25eth0]/", "IPv6 link-local with a zone"),
    ("https://[fc00::1]/", "IPv6 unique local"),
    ("https://[fd12:3456::1]/", "IPv6 unique local fd"),
    ("https://[fec0::1]/", "IPv6 site-local"),
    ("https://[ff02::1]/", "IPv6 multicast"),
    ("https://[ff0e::1]/", "IPv6 global-scope multicast"),
    ("https://[2001:db8::1]/", "IPv6 documentation"),
    ("https://[100::1]/", "IPv6 discard-only"),
    ("https://private.test/", "a name resolving to a private address"),
    ("https://metadata.test/", "a name resolving to the metadata address"),
    ("https://loopback.test/", "a name resolving to loopback"),
    ("https://mapped.test/", "a name resolving to an IPv4-mapped private address"),
    ("https://any-internal.test/", "a name with one internal address among public ones"),
    ("https://PRIVATE.TEST./", "a name resolving to a private address, upper case, trailing dot"),
]

# (url, what is wrong) — refused as malformed whatever the host.
MALFORMED_URLS = [
    ("", "empty"),
    ("not a url", "no scheme"),
    ("ftp://public.test/x", "not http(s)"),
    ("http://public.test/hook", "plain http without the development switch"),
    ("javascript://public.test/%0aalert(1)", "script scheme"),
    ("https://", "no host"),
    ("https:///hook", "empty host"),
    ("https://:443/", "port without host"),
    ("https://user:secret@public.test/", "user and password"),
    ("https://user@public.test/", "user name"),
    ("https://@public.test/", "empty user info"),
    ("https://public.test@127.0.0.1/", "host hidden behind user info"),
    ("https://public.test:0/", "port 0"),
    ("https://public.test:65536/", "port out of range"),
    ("https://public.test:http/", "port not a number"),
    ("https://public.test:+443/", "signed port"),
    ("https://public.test:/", "empty port"),
    ("https://public.test/" + "a" * 490, "longer than 500 characters"),
    ("https://public.test/a b", "space"),
    ("https://public.test/\nX-Injected: 1", "newline"),
    ("https://public.test\\@127.0.0.1/", "backslash"),
    ("https://a..test/", "empty label"),
    ("https://-a.test/", "label starting with a hyphen"),
    ("https://" + "a" * 64 + ".test/", "label longer than 63"),
    ("https://1.2.3.999/", "IPv4 octet out of range"),
    ("https://1.2.3.4.5/", "five IPv4 parts"),
    ("https://example.0x10/", "numeric last label after a name"),
    ("https://[1.2.3.4]/", "IPv4 in brackets"),
    ("https://[zz::1]/", "bad IPv6"),
    ("https://[::1/", "unclosed bracket"),
]

# Accepted at registration (never delivered to by the tests).
PUBLIC_URLS = [
    "https://public.test/hook",
    "https://PUBLIC.Test./hook?x=1",
    "https://public.test:8443/hook",
    "https://b\u00fccher.test/hook",
    "https://v6.test/hook",
    "https://93.184.215.14/hook",
    "https://[2606:4700:4700::1111]/hook",
    "https://unresolvable.test/hook",  # checked again at every delivery
]
