"""Address guard: which URLs may be fetched, without touching real DNS."""

from __future__ import annotations

import pytest

from scrapers.netguard import NetGuard, Refused


def fake_dns(table: dict[str, list[str]]):
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in table:
            raise OSError(-2, "Name or service not known")
        return table[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


DNS = fake_dns({
    "public.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "private.example": ["10.1.2.3"],
    "mixed.example": ["93.184.216.34", "192.168.1.5"],  # one bad address refuses all
    "metadata.example": ["169.254.169.254"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "loop.example": ["127.0.0.1"],
})


def reason(url: str, **kw) -> str | None:
    return NetGuard(resolver=DNS, **kw).check(url)


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/", "http://172.16.5.4/", "http://172.31.255.255/x",
    "http://192.168.0.1/", "http://127.0.0.1/", "http://127.9.9.9:8080/",
    "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/", "http://224.0.0.1/",
    "http://240.0.0.1/", "http://255.255.255.255/", "http://100.64.0.1/",
    "http://[::1]/", "http://[::]/", "http://[fe80::1]/", "http://[fc00::1]/",
    "http://[fd12:3456::1]/", "http://[ff02::1]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:10.0.0.1]/", "http://[::ffff:a9fe:a9fe]/", "http://[64:ff9b::a00:1]/",
    "http://[2002:7f00:1::]/", "http://[fe80::1%25eth0]/",
    "http://private.example/", "http://mixed.example/", "http://metadata.example/",
    "http://mapped.example/", "http://loop.example/",
    # numeric-host tricks that libc and browsers read as IPv4
    "http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://127.1/",
    "http://0x7f000001/", "http://0/", "http://017700000001/", "http://0xa9.254.169.254/",
])
def test_refused_as_private(url: str) -> None:
    assert reason(url) == "private_address"


@pytest.mark.parametrize("url", [
    "http://public.example/a.jpg", "https://public.example:8443/x?y=1",
    "http://93.184.216.34/", "http://[2606:2800:220:1:248:1893:25c8:1946]/",
    "HTTP://PUBLIC.EXAMPLE/", "http://public.example./",
])
def test_public_allowed(url: str) -> None:
    assert reason(url) is None


@pytest.mark.parametrize("url,code", [
    ("ftp://public.example/x", "unsupported_scheme"),
    ("file:///etc/passwd", "unsupported_scheme"),
    ("gopher://public.example/", "unsupported_scheme"),
    ("javascript:alert(1)", "unsupported_scheme"),
    ("data:image/png;base64,AAAA", "unsupported_scheme"),
    ("//public.example/x", "bad_url"),
    ("", "bad_url"),
    ("http://", "bad_url"),
    ("http://public.example:99999/", "bad_url"),
    ("http://public.example:0/", "bad_url"),
    ("http://pub lic.example/", "bad_url"),
    ("http://public.example/\r\nX-Injected: 1", "bad_url"),
    ("http://[::1/", "bad_url"),
    ("http://134744072/", "bad_url"),  # 8.8.8.8 written as one number: public but obfuscated
    ("http://nowhere.example/", "dns_error"),
])
def test_other_refusals(url: str, code: str) -> None:
    assert reason(url) == code


def test_allowed_networks_and_allow_private() -> None:
    loop = ["127.0.0.0/8", "::1/128"]
    assert reason("http://127.0.0.1:8000/", allowed_networks=loop) is None
    assert reason("http://loop.example/", allowed_networks=loop) is None
    assert reason("http://[::1]/", allowed_networks=loop) is None
    assert reason("http://mapped.example/", allowed_networks=loop) is None
    # allowing loopback does not open other private ranges
    assert reason("http://10.0.0.1/", allowed_networks=loop) == "private_address"
    assert reason("http://169.254.169.254/", allowed_networks=loop) == "private_address"
    assert reason("http://2130706433/", allowed_networks=loop) == "bad_url"
    assert reason("http://10.0.0.1/", allow_private=True) is None
    assert reason("http://private.example/", allow_private=True) is None


def test_target_pins_vetted_addresses_and_resolves_once() -> None:
    dns = fake_dns({"public.example": ["93.184.216.34"]})
    target = NetGuard(resolver=dns).vet("http://Public.Example/a b/ä.jpg?q=1 2#frag")
    assert target.addresses == ("93.184.216.34",)
    assert target.host == "public.example" and target.port == 80
    assert target.path == "/a%20b/%C3%A4.jpg?q=1%202"
    assert target.origin == "http://public.example"
    assert dns.calls == ["public.example"]  # type: ignore[attr-defined]


def test_idna_host_is_resolved_in_ascii() -> None:
    dns = fake_dns({"xn--bcher-kva.example": ["93.184.216.34"]})
    target = NetGuard(resolver=dns).vet("https://bücher.example/")
    assert target.host == "xn--bcher-kva.example" and target.port == 443
    assert target.origin == "https://xn--bcher-kva.example"


def test_refused_carries_reason_and_detail() -> None:
    with pytest.raises(Refused) as info:
        NetGuard(resolver=DNS).vet("http://mixed.example/")
    assert info.value.reason == "private_address" and "192.168.1.5" in info.value.detail


def test_system_resolver_for_localhost() -> None:
    # /etc/hosts, no network: localhost is loopback, refused unless allowed
    assert NetGuard().check("http://localhost/") == "private_address"
    assert NetGuard(allowed_networks=["127.0.0.0/8", "::1/128"]).check("http://localhost/") is None


@pytest.mark.parametrize("url", [
    "http://[fec0::1]/",  # deprecated site-local: Python calls it global
    "http://[feff::1]/",
    "http://[64:ff9b:1::a00:1]/",  # NAT64 local-use prefix
    "http://[::ffff:0:a00:1]/",  # IPv4-translated 10.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    "http://[2002:a00:1::]/",  # 6to4 of 10.0.0.1
    "http://[2001:db8::1]/", "http://[3fff::1]/", "http://[5f00::1]/", "http://[100::1]/",
])
def test_every_non_global_ipv6_form_is_refused(url: str) -> None:
    assert reason(url) == "private_address"


def test_non_global_forms_pass_when_their_network_is_allowed() -> None:
    assert reason("http://[fec0::1]/", allowed_networks=["fec0::/10"]) is None
    assert reason("http://[fec0::1]/", allow_private=True) is None


def test_a_hung_dns_lookup_is_cut_off() -> None:
    import threading
    import time

    release = threading.Event()

    def stuck(host: str, port: int) -> list[str]:
        release.wait(10)
        return ["93.184.216.34"]

    guard = NetGuard(resolver=stuck, dns_timeout=0.2)
    t = time.monotonic()
    try:
        with pytest.raises(Refused) as err:
            guard.vet("http://slow.example/")
        assert err.value.reason == "dns_error" and "took over" in err.value.detail
        assert time.monotonic() - t < 2.0
    finally:
        release.set()
    # a lookup inside the limit goes through, and resolver errors keep their reason
    assert NetGuard(resolver=DNS, dns_timeout=1.0).vet("http://public.example/").addresses
    assert NetGuard(resolver=DNS, dns_timeout=1.0).check("http://nope.example/") == "dns_error"
