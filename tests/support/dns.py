"""A DNS server on 127.0.0.1 for EWS autodiscover, answering A and SRV records the test sets.

exchangelib's autodiscover asks DNS (dnspython, not the system resolver) whether each
candidate host exists and for the _autodiscover._tcp SRV record of the mail domain.
Pointing its resolver at this server (`Autodiscovery.DNS_RESOLVER_KWARGS/ATTRS`, the
settings exchangelib offers for that) runs those lookups for real over UDP, without
touching the machine's resolver or /etc/hosts. Any other name is NXDOMAIN.

requests (under exchangelib) then connects through the system's resolver, which
knows none of the zone's names: hosts_from_zone sends the zone's A names to the
same server for the duration (the lookups of this process only; /etc/hosts of a
shared machine is not edited), every other name to the system as before.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset


@dataclass
class DnsZone:
    """What the server answers: A records by name, SRV records by name; the questions it got."""

    a: dict[str, str] = field(default_factory=dict)
    srv: dict[str, list[str]] = field(default_factory=dict)  # "priority weight port target"
    questions: list[tuple[str, str]] = field(default_factory=list)  # (name, type)

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        self.questions.append((name, kind))
        records = {"A": [self.a[name]] if name in self.a else [], "SRV": self.srv.get(name, [])}
        found = records.get(kind, [])
        if found:
            response.answer.append(
                dns.rrset.from_text_list(question.name, 60, dns.rdataclass.IN, kind, found)
            )
        elif name not in self.a and name not in self.srv:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response


class DnsServer:
    """The zone served over UDP on 127.0.0.1 at a free port, in a thread of its own."""

    def __init__(self, zone: DnsZone) -> None:
        self.zone = zone
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                data, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            self._socket.sendto(self.zone.answer(query).to_wire(), peer)

    def start(self) -> DnsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._socket.close()


@contextmanager
def dns_server(zone: DnsZone) -> Iterator[DnsServer]:
    server = DnsServer(zone).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def hosts_from_zone(server: DnsServer) -> Iterator[None]:
    """socket.getaddrinfo asks `server` (over UDP, as any question) for the zone's A names."""
    system = socket.getaddrinfo
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = server.port

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name.rstrip(".").lower() in server.zone.a:
            address = resolver.resolve(name, "A")[0].to_text()
            return system(address, port, *args, **kwargs)
        return system(host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = system
