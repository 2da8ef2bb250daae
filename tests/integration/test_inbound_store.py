"""The inbound store on SQLite and PostgreSQL: one transaction per update, claims, kept replies, the reply outbox."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from omnibot.adapters.db.inbound_store import SqlInboundStore
from omnibot.adapters.db.outbox import SqlReplyOutbox
from omnibot.adapters.db.repository import SqlContactRepository
from omnibot.adapters.db.update_log import SqlUpdateLog
from omnibot.domain.model import Channel, Contact
from omnibot.ports import BotReply, InboundUnit, OutgoingMessage
from tests.fakes import ManualClock

REPLY = BotReply(Channel.TELEGRAM, "700000001",
                 OutgoingMessage("Вітаємо!", html="<b>Вітаємо!</b>", request_phone=True, request_phone_label="Телефон"))


class Refused(Exception):
    pass


def test_an_update_is_claimed_once_and_its_reply_kept(engine: Engine) -> None:
    clock = ManualClock()
    store = SqlInboundStore(engine, clock.now)

    def first(unit: InboundUnit) -> bool:
        claimed = unit.updates.claim(Channel.TELEGRAM, "1")
        unit.updates.keep_reply(Channel.TELEGRAM, "1", REPLY)
        return claimed

    assert store.run(first)
    assert not store.run(lambda unit: unit.updates.claim(Channel.TELEGRAM, "1"))
    assert store.run(lambda unit: unit.updates.reply_to(Channel.TELEGRAM, "1")) == REPLY
    # Keys are per messenger.
    assert store.run(lambda unit: unit.updates.claim(Channel.VIBER, "1"))
    assert store.run(lambda unit: unit.updates.reply_to(Channel.VIBER, "1")) is None


def test_work_that_raises_leaves_nothing_behind(engine: Engine) -> None:
    clock = ManualClock()
    store = SqlInboundStore(engine, clock.now)

    def fails(unit: InboundUnit) -> None:
        unit.updates.claim(Channel.VIBER, "message:5")
        unit.contacts.add(Contact(viber_user_id="u=="))
        unit.replies.add(BotReply(Channel.VIBER, "u==", OutgoingMessage("help")))
        raise Refused()

    with pytest.raises(Refused):
        store.run(fails)
    # The update can be handled again: neither its key, nor the contact, nor the reply was kept.
    assert store.run(lambda unit: unit.updates.claim(Channel.VIBER, "message:5"))
    assert SqlContactRepository(engine, clock.now).find_by_viber_user("u==") is None
    assert SqlReplyOutbox(engine, clock.now).claim(10, 60) == []


def test_a_redelivery_arriving_meanwhile_waits_for_the_first_and_finds_it_handled(
        migrated_postgres_engine: Engine) -> None:
    store = SqlInboundStore(migrated_postgres_engine, ManualClock().now)
    inside, release = threading.Event(), threading.Event()
    second: list[bool] = []

    def slow(unit: InboundUnit) -> bool:
        claimed = unit.updates.claim(Channel.TELEGRAM, "77")
        inside.set()
        release.wait(5)
        return claimed

    first = threading.Thread(target=lambda: store.run(slow))
    first.start()
    assert inside.wait(5)
    redelivery = threading.Thread(target=lambda: second.append(
        store.run(lambda unit: unit.updates.claim(Channel.TELEGRAM, "77"))))
    redelivery.start()
    time.sleep(0.2)
    assert second == []  # held by the first transaction's key
    release.set()
    first.join(5)
    redelivery.join(5)
    assert second == [False]


def test_the_reply_outbox_leases_retries_and_gives_up(engine: Engine) -> None:
    clock = ManualClock()
    outbox = SqlReplyOutbox(engine, clock.now)
    outbox.add(REPLY)
    [job] = outbox.claim(10, lease_seconds=60)
    assert (job.reply, job.attempts) == (REPLY, 1)
    assert outbox.claim(10, lease_seconds=60) == []  # leased
    clock.advance(61)
    [again] = outbox.claim(10, lease_seconds=60)  # a worker that died leaves it due again
    assert (again.id, again.attempts) == (job.id, 2)
    outbox.retry(job.id, 5, "telegram 500: Internal Server Error")
    clock.advance(6)
    [retried] = outbox.claim(10, lease_seconds=60)
    outbox.retry(retried.id, None, "viber 6: receiverNotSubscribed")
    clock.advance(86_400)
    assert outbox.claim(10, lease_seconds=60) == []
    assert outbox.forget_given_up(clock.now() - timedelta(days=2)) == 0
    assert outbox.forget_given_up(clock.now()) == 1
    outbox.add(BotReply(Channel.VIBER, "u==", OutgoingMessage("help")))
    [fresh] = outbox.claim(10, lease_seconds=60)
    outbox.done(fresh.id)
    clock.advance(86_400)
    assert outbox.claim(10, lease_seconds=60) == []


def test_handled_updates_are_forgotten_after_their_time(engine: Engine) -> None:
    clock = ManualClock()
    log = SqlUpdateLog(engine, clock.now)
    store = SqlInboundStore(engine, clock.now)
    store.run(lambda unit: unit.updates.claim(Channel.TELEGRAM, "old"))
    clock.advance(8 * 86_400)
    store.run(lambda unit: unit.updates.claim(Channel.TELEGRAM, "new"))
    assert log.forget_before(clock.now() - timedelta(days=7)) == 1
    assert store.run(lambda unit: unit.updates.claim(Channel.TELEGRAM, "old"))
    assert not store.run(lambda unit: unit.updates.claim(Channel.TELEGRAM, "new"))
