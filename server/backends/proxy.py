"""Which proxy, if any, a profile's requests go through.

The environment's proxy variables (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, lower case too)
are meant for the browser and the package manager; an HTTP library that obeys them on its own
(httpx's `trust_env`) sends the user's code and the API key of a model server on 127.0.0.1 to
whatever proxy the shell happens to name. So the rule here is explicit:

- loopback (127.0.0.0/8, ::1, `localhost`, `*.localhost`, 0.0.0.0) never goes through a proxy;
- another server goes through one only when its profile says so: `proxy = "env"` uses the
  environment's variables (and `NO_PROXY`), `proxy = "http://host:port"` (or https, socks5,
  socks5h) that proxy;
- by default (`proxy = ""`) every connection is direct.

This module imports nothing from Deskmate and no HTTP library: config validation uses
`check_setting` while the config is still loading."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

FROM_ENV = "env"
# The names /etc/hosts gives this machine on common systems (besides *.localhost).
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "localhost6",
                            "localhost6.localdomain6", "ip6-localhost", "ip6-loopback"})
SCHEMES = ("http", "https", "socks5", "socks5h")


def check_setting(value: str) -> str | None:
    """A profile's `proxy` value: '' (direct), "env", or a proxy URL; a complaint when not."""
    if value in ("", FROM_ENV):
        return None
    complaint = _url_problem(value)
    return None if complaint is None else (
        f"must be \"\" (no proxy), \"env\" (the environment's proxy variables) or a proxy URL "
        f"such as \"http://proxy.example:3128\"; {complaint}")


def _url_problem(value: str) -> str | None:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return f"it is not a URL ({exc})"
    if parts.scheme.lower() not in SCHEMES:
        return f"its scheme must be one of {', '.join(SCHEMES)}, got {parts.scheme or 'none'!r}"
    if not parts.hostname:
        return "it names no host"
    return None


def is_loopback(host: str) -> bool:
    """Whether `host` (a URL's host: a name or an IP address, IPv6 with or without brackets,
    IPv4 in any form the resolver accepts, such as 127.1) is this machine."""
    name = host.strip("[]").rstrip(".").lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        try:  # 127.1, 0x7f.1, 2130706433: what inet_aton (and so the connection) reads
            address = ipaddress.ip_address(socket.inet_aton(name))
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def proxy_for(url: str, setting: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy URL requests to `url` go through under the profile's `proxy` setting, or
    None for a direct connection. `setting` is assumed valid (`check_setting`)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not setting or not host or is_loopback(host):
        return None
    if setting != FROM_ENV:
        return setting
    env = os.environ if environ is None else environ
    scheme = parts.scheme.lower()
    chosen = _variable(env, f"{scheme}_proxy") or _variable(env, "all_proxy")
    if not chosen or _bypassed(host, parts.port, _variable(env, "no_proxy")):
        return None
    return chosen if "://" in chosen else f"http://{chosen}"


def _variable(env: Mapping[str, str], name: str) -> str:
    """curl's convention: the lower-case variable first, then the upper-case one."""
    return (env.get(name) or env.get(name.upper()) or "").strip()


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether NO_PROXY names `host`: `*`, a domain (with or without a leading dot or `*.`,
    matching its subdomains), an IP address or network (CIDR), optionally with `:port`."""
    host = host.strip("[]").rstrip(".").lower()
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, wanted_port = entry, None
        if entry.count(":") == 1:  # host:port (an IPv6 entry has several colons)
            name, _, digits = entry.partition(":")
            wanted_port = int(digits) if digits.isdigit() else None
        if wanted_port is not None and port is not None and wanted_port != port:
            continue
        name = name.strip("[]").removeprefix("*").lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name) or _in_network(host, name)):
            return True
    return False


def _in_network(host: str, entry: str) -> bool:
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
