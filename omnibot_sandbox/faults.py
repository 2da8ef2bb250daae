"""The faults in force: how long each call waits, which calls fail, whether a channel is down.

``Faults`` keeps one immutable ``FaultSettings`` and swaps it whole, so the hot path reads it
without a lock; only the random draws and the wait of a hanging request take ``Faults``' own
small lock, never the state's. Rate limits live in ``traffic.Traffic``; ``Faults`` hands it the
``rate_limits`` part whenever the settings change.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from omnibot_sandbox.fault_settings import ErrorRule, FaultSettings, Outage, merged, method_of
from omnibot_sandbox.traffic import Traffic

# A hanging request is answered at the end of the outage, or after this long at most.
MAX_HANG_SECONDS = 60.0


class Faults:
    def __init__(self, clock: Callable[[], float], traffic: Traffic, initial: FaultSettings | None = None) -> None:
        self._clock = clock
        self._traffic = traffic
        self._initial = self._normalised(initial or FaultSettings())
        self._changed = threading.Condition()
        self._settings = FaultSettings()
        self._rules: dict[str, list[ErrorRule]] = {}
        self._errors_rng = random.Random()
        self._latency_rng = random.Random()
        self.restore()

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    # --- changing them ------------------------------------------------------------------------

    def replace(self, settings: FaultSettings) -> FaultSettings:
        """``PUT``: these faults and no others; the random sequences start again from ``seed``."""
        return self._install(self._normalised(settings), reseed=True)

    def patch(self, patch: dict[str, Any]) -> FaultSettings:
        """``PATCH``: merge into the faults in force; reseeds only when the patch names a seed.

        Raises pydantic's ``ValidationError`` when the merged result is not valid settings.
        """
        settings = FaultSettings.model_validate(merged(self._settings.to_json(), patch))
        return self._install(self._normalised(settings), reseed="seed" in patch)

    def clear(self) -> FaultSettings:
        return self._install(FaultSettings(), reseed=True)

    def restore(self) -> FaultSettings:
        """Back to the faults the sandbox started with (the command line's)."""
        return self._install(self._initial, reseed=True)

    def _normalised(self, settings: FaultSettings) -> FaultSettings:
        """An outage given in ``seconds`` becomes one that ends at an epoch second, counted from now."""
        outage = settings.outage
        if outage is None or outage.seconds is None:
            return settings
        ends = Outage(channel=outage.channel, mode=outage.mode, until=self._clock() + outage.seconds)
        return settings.model_copy(update={"outage": ends})

    def _install(self, settings: FaultSettings, reseed: bool) -> FaultSettings:
        rules: dict[str, list[ErrorRule]] = {}
        for key, rule in settings.error_rates.items():
            rules.setdefault(method_of(key), []).append(rule)
        with self._changed:
            if reseed:
                self._errors_rng = random.Random(settings.seed)
                self._latency_rng = random.Random(None if settings.seed is None else f"{settings.seed}/latency")
            self._settings, self._rules = settings, rules
            self._traffic.configure(settings.rate_limits)
            # Hanging requests look again: their outage may be over or gone.
            self._changed.notify_all()
        return settings

    # --- applying them to one call ------------------------------------------------------------

    def latency(self, key: str) -> float:
        """Seconds to wait before answering the call ``key`` (``channel.method``)."""
        settings = self._settings
        latency = settings.latency_by_method.get(key, settings.latency)
        if latency is None:
            return 0.0
        if latency.fixed_ms is not None:
            return latency.fixed_ms / 1000
        with self._changed:
            return latency.seconds(self._latency_rng)

    def outage(self, channel: str) -> Outage | None:
        """The outage ``channel`` is in right now, if any; it ends by itself at ``until``."""
        outage = self._settings.outage
        if outage is None or not outage.covers(channel):
            return None
        return outage if outage.on_at(self._clock()) else None

    def hang(self, outage: Outage) -> None:
        """Hold the request until the outage ends (or is lifted), ``MAX_HANG_SECONDS`` at most."""
        assert outage.until is not None
        deadline = min(outage.until, self._clock() + MAX_HANG_SECONDS)
        with self._changed:
            while self._settings.outage == outage:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return
                self._changed.wait(remaining)

    def injected_error(self, key: str) -> ErrorRule | None:
        """The error to answer instead of running the call ``key``, or None: one draw per call."""
        rules = self._rules.get(key)
        if not rules:
            return None
        with self._changed:
            draw = self._errors_rng.random()
        for rule in rules:
            if draw < rule.rate:
                return rule
            draw -= rule.rate
        return None
