"""Webhooks: where they may be sent, and how they are signed.

Where: never to the service's own machine or networks.

A subscription's URL is checked when it is made, and every delivery again against the
addresses its host resolves to at that moment (a name may be pointed elsewhere later);
the notifier then connects to the address that was checked, not to a second lookup.
Refused: loopback, private, link-local (cloud metadata at 169.254.169.254 included),
shared (100.64.0.0/10), unspecified, multicast and reserved addresses, IPv4 ones inside
IPv6 (mapped, NAT64, 6to4) alike — unless the operator lists their networks in
`GRIDFLOW_WEBHOOK_ALLOW_NETWORKS`.

How: `X-Gridflow-Signature: sha256=<hex HMAC-SHA256 of the body>` keyed by the secret as
given (as always), and the Standard Webhooks headers `webhook-id`, `webhook-timestamp`
and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed by
the base64-decoded part of a `whsec_<base64>` secret, or by any other secret's UTF-8
bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from urllib.parse import urlsplit

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
Resolver = Callable[[str, int], list[Address]]

_NAT64 = IPv6Network("64:ff9b::/96")


class TargetRefused(ValueError):
    """The target resolves to an address the service does not call."""


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (as the operating system would connect);
    OSError when it does not resolve. Numeric forms (2130706433, 0x7f.1) resolve too."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _inner(a: Address) -> Address:
    """The IPv4 address an IPv6 one carries to the IPv4 network, if it does."""
    if isinstance(a, IPv6Address):
        if a.ipv4_mapped is not None:
            return a.ipv4_mapped
        if a in _NAT64:
            return IPv4Address(int(a) & 0xFFFFFFFF)
        if a.sixtofour is not None:
            return a.sixtofour
    return a


def _kind(a: Address) -> str | None:
    """What makes `a` a place not to call, or None for an ordinary public address."""
    for name, flag in (
        ("loopback", a.is_loopback),
        ("unspecified", a.is_unspecified),
        ("link-local", a.is_link_local),
        ("multicast", a.is_multicast),
        ("private", a.is_private),
        ("reserved", a.is_reserved),
    ):
        if flag:
            return name
    return None if a.is_global else "not public"


@dataclass
class WebhookTargets:
    """The policy, with the networks the operator allows and the resolver to use."""

    allow: Sequence[Network] = ()
    resolver: Resolver = field(default=resolve)

    def refusal(self, a: Address) -> str | None:
        """Why `a` is refused, or None if it may be called."""
        if any(a in n for n in self.allow if n.version == a.version):
            return None
        inner = _inner(a)
        if inner != a and any(inner in n for n in self.allow if n.version == 4):
            return None
        kind = _kind(a) or _kind(inner)
        if kind is None:
            return None
        return (
            f"{a} is a {kind} address; webhooks are not sent there unless "
            "GRIDFLOW_WEBHOOK_ALLOW_NETWORKS lists its network"
        )

    def addresses(self, host: str, port: int) -> list[Address]:
        """The addresses to call for `host`, all of them allowed; TargetRefused naming
        the first that is not, OSError when the host does not resolve."""
        found = self.resolver(host, port)
        if not found:
            raise OSError(f"{host} resolves to no address")
        for a in found:
            why = self.refusal(a)
            if why:
                raise TargetRefused(why)
        return found

    def check_url(self, url: str) -> str | None:
        """At subscription: why `url` is refused, or None. A host that does not resolve
        now is accepted (each delivery checks again)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        if not host:
            return "a URL with a host"
        try:
            self.addresses(host, parts.port or (443 if parts.scheme == "https" else 80))
        except TargetRefused as exc:
            return str(exc)
        except (OSError, UnicodeError):
            return None
        return None


# -- signing ------------------------------------------------------------------------

WHSEC = "whsec_"


def signature(secret: str, body: bytes) -> str:
    """`X-Gridflow-Signature`: the body's HMAC-SHA256 keyed by the secret's UTF-8 bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def whsec_key(secret: str) -> bytes | None:
    """The key of a well-formed `whsec_<base64>` secret (24 to 64 bytes, as the Standard
    Webhooks spec asks); None for any other secret."""
    if not secret.startswith(WHSEC):
        return None
    text = secret[len(WHSEC) :]
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        return None
    return key if 24 <= len(key) <= 64 else None


def webhook_key(secret: str) -> bytes:
    """The key of the Standard Webhooks signature: a `whsec_` secret's decoded bytes;
    any other secret (subscriptions predate the headers) is used as its UTF-8 bytes."""
    key = whsec_key(secret)
    return key if key is not None else secret.encode()


def webhook_id(subscription_id: str, delivery_key: str) -> str:
    """`webhook-id`: the same for every attempt of one delivery, and different for each
    subscription, so that a receiver dropping repeats by id never drops another
    subscription's delivery."""
    digest = hashlib.sha256(f"{subscription_id}\n{delivery_key}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: v1 and the base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(webhook_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")
