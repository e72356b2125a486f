"""The contract applied to traffic: the route table, request validation, the exchange
checker and recorded traffic (HAR, VCR). Used by the pipeline, replay and the harness."""
