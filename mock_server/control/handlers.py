"""Handlers of openapi/control.yaml: reset, clock, journal, state and signed packages."""

from __future__ import annotations

import time

from flask import Response

from ..calls import Call, HandlerRegistry, Reply
from ..errors import ApiError
from ..model.clock import Clock
from ..model.timefmt import parse_rfc3339, rfc3339

HANDLERS = HandlerRegistry()
ALL = "*"


def clock_body(namespace: str, clock: Clock) -> dict[str, object]:
    now = clock.now(time.time())
    return {
        "namespace": namespace,
        "mode": clock.mode,
        "speed": clock.speed,
        "now": rfc3339(now),
        "epoch": now,
    }


def _scope(call: Call) -> str | None:
    """None means every namespace."""
    return None if call.params.get("all") else call.namespace


@HANDLERS("resetMock")
def reset(call: Call) -> Reply:
    scope = _scope(call)
    call.runtime.store.reset(scope)
    return 200, {"reset": scope or ALL}


@HANDLERS("getClock")
def get_clock(call: Call) -> Reply:
    return 200, clock_body(call.namespace, call.runtime.store.clock(call.namespace))


@HANDLERS("advanceClock")
def advance_clock(call: Call) -> Reply:
    store = call.runtime.store
    clock = store.clock(call.namespace).advanced(call.params["body"]["seconds"], time.time())
    store.set_clock(call.namespace, clock)
    return 200, clock_body(call.namespace, clock)


@HANDLERS("setClock")
def set_clock(call: Call) -> Reply:
    store, body, real_now = call.runtime.store, call.params["body"], time.time()
    clock = store.clock(call.namespace)
    if "now" in body:
        target = parse_rfc3339(body["now"])
        if target < clock.now(real_now):
            raise ApiError(
                400,
                "clock_backwards",
                "The simulated clock never runs backwards; give a time not before its current one.",
                {"parameter": "now", "current": rfc3339(clock.now(real_now))},
            )
        clock = clock.advanced(target - clock.now(real_now), real_now)
    clock = clock.reconfigured(
        body.get("mode", clock.mode), body.get("speed", clock.speed), real_now
    )
    store.set_clock(call.namespace, clock)
    return 200, clock_body(call.namespace, clock)


@HANDLERS("listRequests")
def list_requests(call: Call) -> Reply:
    entries = call.runtime.store.journal(_scope(call), call.params["limit"])
    return 200, {"requests": entries}


@HANDLERS("clearRequests")
def clear_requests(call: Call) -> Reply:
    scope = _scope(call)
    call.runtime.store.clear_journal(scope)
    return 200, {"cleared": scope or ALL}


@HANDLERS("exportState")
def export_state(call: Call) -> Reply:
    return 200, call.runtime.store.export()


@HANDLERS("importState")
def import_state(call: Call) -> Reply:
    snapshot = call.params["body"]
    try:
        call.runtime.store.import_(snapshot)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "invalid_body", f"The snapshot cannot be imported: {exc}") from exc
    return 200, {key: len(snapshot[key]) for key in ("jobs", "downloads", "clocks")}


@HANDLERS("getPackage")
def get_package(call: Call) -> Reply:
    download_id = call.params["download_id"]
    content = call.runtime.service.package(
        call.namespace, download_id, call.params["expires"], call.params["signature"]
    )
    return Response(
        content,
        status=200,
        mimetype="application/zip",
        headers={"Content-Disposition": f"attachment; filename={download_id}.zip"},
    )
