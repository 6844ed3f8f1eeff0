"""The one place that creates the Powertools Logger, Tracer and Metrics."""

from __future__ import annotations

import logging
import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "eventrelay"
NAMESPACE = "EventRelay"

# botocore and urllib3 log whole request and response bodies at DEBUG: Secrets Manager values,
# OAuth tokens, webhook URLs. Keep them at INFO even when the root logger (Lambda's system log
# level, a test's caplog) goes to DEBUG; a developer can still lower one of them explicitly.
for _library in ("botocore", "boto3", "urllib3"):
    if logging.getLogger(_library).level in (logging.NOTSET, logging.DEBUG):
        logging.getLogger(_library).setLevel(logging.INFO)

# An invocation with nothing to count (a runner batch of duplicates, a publish refused before it
# counted) is normal: Powertools would print a UserWarning to the function's log for each one.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
