"""The Pixxel API's HTTP layer: handlers bound to the spec's operationIds, and wire views."""
