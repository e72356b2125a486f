"""The contract-test harness of pixxel-mock.

- `pixxel-mock contract`: schemathesis (stateless and stateful) and the lifecycle
  properties against the in-process mock or any base URL.
- the pytest plugin: the `pixxel_mock` fixture, for checking your own client.
- `pixxel-mock validate-traffic` and `pixxel-mock proxy`: checking recorded or live traffic.
"""
