"""The order report: the order history of a workspace as CSV, one row per order item.

Pixxel documents no column: these are ours (docs/orders.md), enough to reconcile each
item's money and fulfilment. Times are ISO 8601 in the zone asked for (an IANA name,
zoneinfo), with its offset, so the standard `csv` module and `datetime.fromisoformat`
read them back exactly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pixxel_mock.server.model.errors import InvalidInput
from pixxel_mock.server.model.orders import OrderView

COLUMNS = (
    "order_id",
    "order_status",
    "order_item_id",
    "name",
    "type",
    "status",
    "payment_status",
    "project_id",
    "usecase",
    "created_at",
    "paid_at",
    "start_date",
    "end_date",
    "area_km2",
    "base_amount",
    "uplift_amount",
    "final_amount",
    "tokens_used",
    "item_ids",
    "bandset_id",
    "recurrence",
    "tasks",
    "tasks_fulfilled",
)


def zone(name: str) -> tzinfo:
    """An IANA zone, or a 400 naming `tz`."""
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            "unknown_timezone",
            f"tz: {name!r} is not a known IANA time zone (e.g. Asia/Kolkata).",
            {"parameter": "tz", "in": "query"},
        ) from exc


def report(views: Sequence[OrderView], tz: tzinfo) -> str:
    """The CSV text, oldest order first, its items in order."""

    def when(at: float | None) -> str:
        return "" if at is None else datetime.fromtimestamp(int(at), tz).isoformat()

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for view in sorted(views, key=lambda v: (v.record.created_at, v.record.seq)):
        paid = view.plan.paid_at if view.at >= view.plan.paid_at else None
        for item in view.items:
            spec = item.spec
            window = spec.occurrences
            writer.writerow(
                (
                    view.record.id,
                    view.status,
                    spec.id,
                    spec.name,
                    spec.type,
                    item.status,
                    item.payment_status,
                    spec.project_id,
                    spec.usecase,
                    when(view.record.created_at),
                    when(paid),
                    when(window[0][0]) if window else "",
                    when(window[-1][1]) if window else "",
                    f"{spec.area_km2:.3f}",
                    f"{spec.base_amount:.2f}",
                    sum(u["amount"] for u in spec.uplifts),
                    f"{spec.final_amount:.2f}",
                    item.tokens_used,
                    " ".join(f["id"] for f in spec.archive_items),
                    spec.bandset_id,
                    spec.recurrence,
                    len(item.tasks),
                    sum(t.status in ("FULFILLED", "PARTIALLY_FULFILLED") for t in item.tasks),
                )
            )
    return out.getvalue()
