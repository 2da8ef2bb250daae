"""The control API for faults and traffic: ``/sandbox/faults`` and ``/sandbox/stats``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from pydantic import ValidationError

from omnibot_sandbox.control import body, json_object
from omnibot_sandbox.errors import from_validation_error
from omnibot_sandbox.fault_settings import FaultSettings
from omnibot_sandbox.state import SandboxState


def blueprint(state: SandboxState) -> Blueprint:
    control = Blueprint("fault_control", __name__, url_prefix="/sandbox")
    faults, traffic = state.faults, state.traffic

    def shown(settings: FaultSettings) -> Response:
        """The faults in force; an outage says whether it is still on."""
        shape = settings.to_json()
        if settings.outage is not None:
            shape["outage"]["active"] = settings.outage.on_at(state.clock())
        return jsonify(shape)

    @control.get("/faults")
    def get_faults() -> Response:
        return shown(faults.settings)

    @control.put("/faults")
    def replace_faults() -> Response:
        return shown(faults.replace(body(FaultSettings)))

    @control.patch("/faults")
    def patch_faults() -> Response:
        try:
            return shown(faults.patch(json_object()))
        except ValidationError as error:
            raise from_validation_error(error) from None

    @control.delete("/faults")
    def clear_faults() -> Response:
        return shown(faults.clear())

    @control.get("/stats")
    def stats() -> Response:
        return jsonify(traffic.stats())

    @control.post("/stats/reset")
    def reset_stats() -> Response:
        traffic.reset_stats()
        return jsonify(traffic.stats())

    return control
