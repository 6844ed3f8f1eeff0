"""The one place that creates the Powertools Logger, Tracer and Metrics."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "eventrelay"
NAMESPACE = "EventRelay"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
