"""Deliveries: the action runner, its records (deliveries and attempts), retries and replay.

Public API:
- models: `Delivery`, `Attempt`, `DeliveryState`, `AttemptOutcome`, `DeliveryMessage`, `delivery_id_for`.
- schedule: `RetryPolicy` (capped exponential backoff with jitter, Retry-After), `sqs_delay_seconds`.
- store: `DeliveryStore(table_name, dynamodb_client, clock)`.
- runner: `ActionRunner` (`handle_message(body)`), `MessageReport`, `Step`.
- replay: `ReplayService`, `DeliveryFilter`, `find_deliveries`, `NotReplayable`, `DeliveryNotFound`.
- batch: `ConcurrentBatchProcessor` (Powertools BatchProcessor running records concurrently).
- its composition root is `eventrelay.roots.delivery` (`runner_root()`).
Import the submodules directly (this package keeps Lambda's cold start small).
"""
