"""Deliveries: the action runner, its records (deliveries and attempts), retries and replay.

Public API:
- models: `Delivery`, `Attempt`, `DeliveryState`, `AttemptOutcome`, `DeliveryMessage`, `delivery_id_for`.
- schedule: `RetryPolicy` (capped exponential backoff with jitter, Retry-After), `sqs_delay_seconds`.
- store: `DeliveryStore(table_name, dynamodb_client, clock)`.
- runner: `ActionRunner` (`handle_message(body)`), `MessageReport`, `Step`.
- replay: `ReplayService`, `DeliveryFilter`, `find_deliveries`, `NotReplayable`, `DeliveryNotFound`.
- batch: `ConcurrentBatchProcessor` (Powertools BatchProcessor running records concurrently).
- wiring: `build_delivery_services(settings)`, `delivery_services()`.
Import the submodules directly (this package keeps Lambda's cold start small).
"""
