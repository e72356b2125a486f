"""examples/order_client.py: archive search -> dry run -> order -> fulfilment -> catalog
-> delivery to a store -> report, under the pixxel_mock fixture and under explore."""

from __future__ import annotations

from examples.order_client import ITEM_DONE, OrderClient, OrderOutcome, run_order
from examples.pipeline_client import PixxelError
from pixxel_mock.contract.explore import ClientRun
from pixxel_mock.contract.strategies import BehaviourSpace, server_behaviours

from .helpers import AGRI

OPERATIONS = [
    "searchArchive",
    "listBandsets",
    "submitOrder",
    "getOrderById",
    "searchCatalogs",
    "createStore",
    "createDelivery",
    "listDeliveries",
    "downloadOrderReport",
]


def test_the_example_client_orders_delivers_and_reconciles(pixxel_mock) -> None:
    pixxel_mock.set_clock(mode="polls")
    client = OrderClient(pixxel_mock.url, pixxel_mock.keys["alpha"], poll_delay=0)
    outcome = run_order(client, AGRI, deadline=30.0)
    assert outcome.item_statuses == ("FULFILLED", "FULFILLED")
    assert outcome.quoted == outcome.total > 0
    assert outcome.catalogs == 2 and outcome.deliveries == ("SUCCESS", "SUCCESS")
    assert outcome.report_rows == 2
    pixxel_mock.assert_no_violations()


def test_the_example_client_reports_an_infeasible_tasking(pixxel_mock) -> None:
    pixxel_mock.set_clock(mode="polls")
    pixxel_mock.apply_scenario("infeasible-tasking")
    client = OrderClient(pixxel_mock.url, pixxel_mock.keys["alpha"], poll_delay=0)
    outcome = run_order(client, AGRI, deadline=30.0)
    assert outcome.item_statuses == ("FAILED", "FULFILLED")  # the archive item still arrives
    assert outcome.catalogs == 1 and outcome.report_rows == 2


def test_the_example_client_survives_explore(pixxel_mock) -> None:
    space = BehaviourSpace.derive(operations=OPERATIONS)

    def client(base_url: str, key: str) -> OrderOutcome:
        orders = OrderClient(base_url, key, poll_delay=0.0, max_delay=0.0)
        return run_order(orders, AGRI, deadline=30.0)

    def check(run: ClientRun) -> None:
        outcome = run.returned
        if not isinstance(outcome, OrderOutcome):
            return  # refused by a fault: reported as PixxelError
        assert set(outcome.item_statuses) <= ITEM_DONE
        assert outcome.report_rows == len(outcome.item_statuses)
        assert len(outcome.deliveries) == outcome.catalogs

    pixxel_mock.explore(
        client,
        behaviours=server_behaviours(space=space),
        allowed_exceptions=(PixxelError, TimeoutError),
        check=check,
        max_examples=12,
    )
