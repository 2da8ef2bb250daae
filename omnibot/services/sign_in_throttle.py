"""Sign-in throttling per client address: a password guesser slows down itself, not the operators.

Each address may have one password check running at a time. After ``tries_before_waiting`` wrong
passwords in a row it must wait before its next try, ``first_wait`` seconds and twice as long
after each further wrong one, up to ``max_wait``; a try during the wait is refused at once, without
running the (deliberately slow) password hash. The right password clears the address's record,
and so does ``forget_after`` seconds without a wrong one.

Nothing sleeps: a wrong password is answered at once and the wait is enforced on the next try, so
a flood of guesses holds no thread for longer than one hash. ``max_checks`` bounds the hashes
running at once in the process (guesses from many addresses), and ``max_addresses`` the memory:
the least recently seen address is forgotten first. The state is per process; the address is
``request.remote_addr``, the real client behind ``TRUSTED_PROXY_COUNT`` proxies.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

BUSY_WAIT = 1.0  # seconds to suggest when refused because a check is already running


@dataclass
class _Record:
    failures: int = 0
    last_failure: float = 0.0
    not_before: float = 0.0
    checking: bool = False


class SignInThrottle:
    """Who may have a password checked now; thread-safe, one per process."""

    def __init__(self, *, tries_before_waiting: int = 5, first_wait: float = 1.0, max_wait: float = 60.0,
                 forget_after: float = 3600.0, max_checks: int = 4, max_addresses: int = 10_000,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.tries_before_waiting = tries_before_waiting
        self.first_wait = first_wait
        self.max_wait = max_wait
        self.forget_after = forget_after
        self.max_checks = max_checks
        self.max_addresses = max_addresses
        self._now = now
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._running = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many addresses are remembered."""
        return len(self._records)

    def admit(self, address: str | None) -> float:
        """0.0 when a check from ``address`` may run now (call ``finish`` after it); otherwise the
        seconds it should wait, and no check may run."""
        key = client_key(address)
        with self._lock:
            now = self._now()
            record = self._records.get(key)
            if record is not None and not record.checking and now - record.last_failure >= self.forget_after:
                record = None
            if record is None:
                record = self._records[key] = _Record()
                while len(self._records) > self.max_addresses:
                    self._records.popitem(last=False)
            self._records.move_to_end(key)
            if record.checking:
                return BUSY_WAIT
            if now < record.not_before:
                return record.not_before - now
            if self._running >= self.max_checks:
                return BUSY_WAIT
            record.checking = True
            self._running += 1
            return 0.0

    def finish(self, address: str | None, correct: bool) -> float:
        """End a check ``admit`` allowed; returns the seconds ``address`` must now wait (0.0: none)."""
        key = client_key(address)
        with self._lock:
            self._running -= 1
            record = self._records.get(key)
            if record is None:  # forgotten meanwhile (a flood of other addresses): nothing to record
                return 0.0
            record.checking = False
            if correct:
                del self._records[key]
                return 0.0
            now = self._now()
            record.failures += 1
            record.last_failure = now
            beyond = record.failures - self.tries_before_waiting
            if beyond < 0:
                return 0.0
            wait = min(self.first_wait * 2.0 ** min(beyond, 32), self.max_wait)
            record.not_before = now + wait
            return wait


def client_key(address: str | None) -> str:
    """What one client is: its IPv4 address, or its IPv6 /64 (a host usually holds the whole /64)."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
