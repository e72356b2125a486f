"""An example Pixxel API client: order archive imagery and a tasked capture, wait for
fulfilment, find the imagery in the catalog, deliver it to a store, reconcile the report.

    python examples/order_client.py --base-url http://127.0.0.1:8080 \\
        --key KEY --project 9531985d-5d9d-49f8-9818-e811892f902b

KEY is your API key or, against the mock, a key of its fixtures/keys.yaml.

The journey: search the archive for items over a polygon (`POST /v0/archives/search`),
pick the first bandset, price an order of one archive item and one tasking item with
`dry_run` (its capture window opens two days from now), place it, read it until every
item has ended (fulfilled, partly, failed or cancelled), search the catalog for the
order's imagery, create a store and deliver the catalogs to it, read the deliveries
until they end, and read the order report back with the `csv` module. It retries
throttling and gateway errors as pipeline_client.py does, and reports an infeasible,
expired or undelivered order as its outcome rather than crashing.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from examples.insight_client import POLYGON, InsightClient

ITEM_DONE = {"FULFILLED", "PARTIALLY_FULFILLED", "FAILED", "CANCELLED"}
DELIVERY_DONE = {"SUCCESS", "FAILED"}
GEOMETRY = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": POLYGON}]}


@dataclass(frozen=True)
class OrderOutcome:
    order_id: str
    quoted: float  # the dry run's total
    total: float  # the order's total (the same)
    item_statuses: tuple[str, ...]
    catalogs: int = 0
    deliveries: tuple[str, ...] = ()  # each delivery's last status
    report_rows: int = 0  # the report's rows of this order
    report_items: tuple[str, ...] = ()  # their order item ids


class OrderClient(InsightClient):
    """The order desk's calls, on the retrying client of pipeline_client.py."""

    def archive_items(self, polygon: dict[str, Any], limit: int = 1) -> list[str]:
        found = self._call("POST", "/v0/archives/search", {"intersects": polygon, "limit": limit})
        return [feature["id"] for feature in found["features"]]

    def until(self, read: Any, ended: Any, deadline: float) -> Any:
        """Read with backoff until `ended(state)`; a TimeoutError once time is up."""
        delay, give_up = self.poll_delay, time.monotonic() + deadline
        while True:
            state = read()
            if ended(state):
                return state
            if time.monotonic() > give_up:
                raise TimeoutError("still waiting")
            time.sleep(delay)
            delay = min(delay * 1.5, self.max_delay)

    def wait_for_order(self, order_id: str, deadline: float) -> dict[str, Any]:
        return self.until(
            lambda: self._call("GET", f"/v0/orders/{order_id}"),
            lambda order: all(i["status"] in ITEM_DONE for i in order["order_items"]),
            deadline,
        )

    def catalogs_of(self, order_id: str) -> list[dict[str, Any]]:
        body = {"order_ids": [order_id], "limit": 100}  # the default page is 2
        return self._call("POST", "/v0/catalogs/search", body)["catalogs"]

    def deliver(self, catalog_ids: list[str], store_id: str, deadline: float) -> list[str]:
        """Deliver the catalogs to the store; the deliveries' last statuses."""
        body = {
            "deliveries": [
                {"catalog_ids": catalog_ids, "cloud_info": {"config": store_id, "path": "orders"}}
            ]
        }
        made = self._call("POST", "/v0/catalogs/deliveries", body)["deliveries"]
        statuses = []
        for delivery in made:
            last = self.until(
                lambda d=delivery: self._call(
                    "GET", "/v0/catalogs/deliveries", delivery_id=d["delivery_id"]
                )["deliveries"][0],
                lambda d: d["status"] in DELIVERY_DONE,
                deadline,
            )
            statuses.append(last["status"])
        return statuses

    def report(self, tz: str = "UTC") -> list[dict[str, str]]:
        text = self._call("GET", "/v0/reports", raw=True, tz=tz).decode()
        return list(csv.DictReader(io.StringIO(text)))


def order_items(client: OrderClient, project_id: str) -> list[dict[str, Any]]:
    """One archive item and one tasking item over the polygon, the window two days ahead."""
    start = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    bandset = client._call("GET", "/v0/bandsets")["bandsets"][0]
    items: list[dict[str, Any]] = [
        {
            "project_id": project_id,
            "usecase": "agriculture",
            "name": "order example: tasking",
            "geometry": GEOMETRY,
            "bandset": {"bandset_id": bandset["id"]},
            "recurrence": "ONCE",
            "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end_date": (start + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    ]
    archived = client.archive_items(POLYGON)
    if archived:
        items.append(
            {
                "project_id": project_id,
                "usecase": "agriculture",
                "name": "order example: archive",
                "geometry": GEOMETRY,
                "item_ids": archived,
            }
        )
    return items


def run_order(client: OrderClient, project_id: str, deadline: float = 3600.0) -> OrderOutcome:
    """Search -> dry run -> order -> fulfilment -> catalog -> delivery -> report."""
    items = order_items(client, project_id)
    quote = client._call("POST", "/v0/orders", {"dry_run": True, "order_items": items})
    order = client._call("POST", "/v0/orders", {"order_items": items})
    print(f"order {order['id']}: {order['total_amount']} tokens (quoted {quote['total_amount']})")
    order = client.wait_for_order(order["id"], deadline)
    statuses = tuple(i["status"] for i in order["order_items"])
    print(f"items: {', '.join(statuses)}")
    outcome = OrderOutcome(order["id"], quote["total_amount"], order["total_amount"], statuses)
    catalogs = client.catalogs_of(order["id"])
    deliveries: list[str] = []
    if catalogs:
        store = client._call(
            "POST",
            "/v0/stores",
            {
                "name": f"order example {uuid.uuid4().hex[:8]}",
                "type": "S3",
                "configs": {"bucket": "order-example", "region": "ap-south-1"},
                "secrets": {"access_key_id": "example", "secret_access_key": "example"},
            },
        )
        deliveries = client.deliver([c["id"] for c in catalogs], store["id"], deadline)
        print(f"{len(catalogs)} catalogs delivered: {', '.join(deliveries)}")
    rows = [r for r in client.report("Asia/Kolkata") if r["order_id"] == order["id"]]
    print(f"report: {len(rows)} rows for the order")
    return OrderOutcome(
        outcome.order_id,
        outcome.quoted,
        outcome.total,
        statuses,
        len(catalogs),
        tuple(deliveries),
        len(rows),
        tuple(r["order_item_id"] for r in rows),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--project", required=True)
    args = parser.parse_args(argv)
    outcome = run_order(OrderClient(args.base_url, args.key), args.project)
    return 0 if "FULFILLED" in outcome.item_statuses else 1


if __name__ == "__main__":
    sys.exit(main())
