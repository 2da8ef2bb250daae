"""What every scenario gets: the stack, the sizes, where to write, and the customers linked once per run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import fixtures
from bench.config import Sizes
from bench.fixtures import Customer
from bench.stack import Stack


@dataclass
class Context:
    stack: Stack
    sizes: Sizes
    logs: Path
    results: Path
    stamp: str
    shared: dict[str, Any] = field(default_factory=dict)
    _customers: list[Customer] | None = None

    def customers(self) -> list[Customer]:
        """``sizes.customers`` linked customers (see ``fixtures.link_customers``), linked the first time asked for."""
        if self._customers is None:
            self.stack.faults({})
            self._customers, rate = fixtures.link_customers(self.stack, self.sizes.customers,
                                                            self.sizes.signed_links)
            self.shared["signed links per second (real flow)"] = f"{rate} ({self.sizes.signed_links} customers)"
        return self._customers
