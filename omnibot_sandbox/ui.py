"""The phones page: the sandbox's virtual customers in a browser, with the fault and traffic controls.

``GET /phones`` (and ``/``) shows every customer as a phone with a Telegram-like and a Viber-like
chat. The page acts through the control API itself (``/sandbox/...``, the same calls a test makes)
and polls ``GET /phones/live`` every second for what changed, whoever changed it. Server-rendered
Jinja and a little plain JavaScript (``static/sandbox_phones/phones.js``); nothing is fetched from
anywhere else, so it works offline.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint, Response, get_template_attribute, jsonify, redirect, render_template, request, url_for

from omnibot_sandbox import links
from omnibot_sandbox.config import SandboxConfig
from omnibot_sandbox.control import body
from omnibot_sandbox.schemas import OpenLink
from omnibot_sandbox.state import CHANNELS, SandboxState
from omnibot_sandbox.ui_chat import ChatView, chat
from omnibot_sandbox.ui_journal import Journal

MAX_PHONES = 50  # a load test's thousands of customers would make a page nobody can read
MACROS = "sandbox_phones/macros.html"
# The failures the faults form offers; the control API takes any channel.method.
ERROR_METHODS = ("telegram.sendMessage", "viber.send_message", "telegram.setWebhook", "viber.set_webhook")


def blueprint(config: SandboxConfig, state: SandboxState) -> Blueprint:
    ui = Blueprint("phones", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/phones/static")
    journal = Journal()
    journal.listen(ui, config, state)

    def snapshot() -> dict[str, Any]:
        with state.lock:
            customers = list(state.customers.values())
            shown = customers[:MAX_PHONES]
            chats = {c.id: {channel: chat(c, channel, journal.entries(c.id, channel), config)
                            for channel in CHANNELS} for c in shown}
        faults = state.faults.settings
        shape = {key: value for key, value in faults.to_json().items() if value not in (None, {}, [])}
        if faults.outage is not None:
            shape["outage"]["active"] = faults.outage.on_at(state.clock())
        return {"customers": shown, "hidden": len(customers) - len(shown), "chats": chats,
                "faults": shape, "stats": state.traffic.stats()}

    def version(view: dict[str, Any]) -> str:
        summary = [[c.id, c.telegram.started, c.telegram.blocked, c.viber.subscribed,
                    [view["chats"][c.id][ch].received for ch in CHANNELS]] for c in view["customers"]]
        raw = json.dumps([summary, view["hidden"], journal.changes, view["faults"], view["stats"]], default=str)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    @ui.get("/")
    def home() -> Response:
        return redirect(url_for("phones.page"))  # type: ignore[return-value]

    @ui.get("/phones")
    def page() -> str:
        view = snapshot()
        return render_template("sandbox_phones/page.html", config=config, version=version(view),
                               error_methods=ERROR_METHODS, **view)

    @ui.get("/phones/live")
    def live() -> Response:
        view = snapshot()
        current = version(view)
        if request.args.get("v") == current:
            return jsonify({"version": current})
        live_chat, faults, stats = (get_template_attribute(MACROS, name) for name in ("live_chat", "faults", "stats"))
        chats: dict[str, dict[str, ChatView]] = view["chats"]
        return jsonify({
            "version": current,
            "customers": [c.id for c in view["customers"]],
            "chats": {cid: {channel: {"html": str(live_chat(v, config)), "mode": v.mode, "received": v.received}
                            for channel, v in per_channel.items()} for cid, per_channel in chats.items()},
            "faults": str(faults(view["faults"])),
            "stats": str(stats(view["stats"])),
        })

    @ui.post("/phones/parse-link")
    def parse_link() -> Response:
        """Which messenger a pasted link opens and what it carries, so the page can show Start first."""
        link = links.parse(body(OpenLink).url, config)
        return jsonify({"channel": link.channel, "payload": link.payload})

    return ui
