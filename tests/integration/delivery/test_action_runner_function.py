"""The runner's real Lambda entry point with events/sqs_action_runner.json (what `sam local invoke` sends)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from eventrelay.actions import ActionStore
from eventrelay.aws import dynamodb_client
from eventrelay.delivery.models import DeliveryState, delivery_id_for
from eventrelay.delivery.store import DeliveryStore
from eventrelay.roots import AwsClients
from eventrelay.roots.connectors import build_connector_services
from eventrelay.rules import RuleStore
from eventrelay.settings import Settings
from eventrelay_cli.local.lambda_runtime import load_handler, make_context
from tests.support.http_servers import RecordingServer
from tests.support.paths import EVENTS_DIR, REPO_ROOT


def test_the_events_file_drives_the_real_handler_to_the_rule_target(settings: Settings) -> None:
    event = json.loads((EVENTS_DIR / "sqs_action_runner.json").read_text())
    envelope = json.loads(event["Records"][0]["body"])
    tenant_id = envelope["tenantId"]
    suffix = uuid.uuid4().hex[:8]  # the file's tenant is shared; names of this run are not
    dynamodb = dynamodb_client(settings.region)
    actions = ActionStore(settings.config_table, dynamodb)
    with RecordingServer() as crm:
        build_connector_services(settings, AwsClients.for_settings(settings)).store.create(
            tenant_id,
            __import__("eventrelay.connectors.models", fromlist=["ConnectorSpec"]).ConnectorSpec(
                name=f"crm-{suffix}", base_url=crm.url("/crm")
            ),
        )
        actions.create(
            tenant_id,
            {
                "connector": f"crm-{suffix}",
                "name": f"won-{suffix}",
                "method": "POST",
                "url": "deals/{{id}}/won",
                "payload": '{"amount": {{amount}}, "owner": "{{owner}}"}',
                "fields": [{"name": "amount", "type": "Number"}],
            },
        )
        RuleStore(settings.config_table, dynamodb, actions).create(
            tenant_id,
            {
                "name": f"deals-{suffix}",
                "eventName": envelope["eventName"],
                "eventVersion": envelope["eventVersion"],
                "action": f"won-{suffix}",
                "condition": {"path": "$.amount", "op": "gte", "value": 100000},
                "mapping": {"id": "$.opportunityId", "amount": "$.amount", "owner": "$.owner.email"},
            },
        )
        # When the deployed handler (functions/action_runner/app.py) is invoked with the file
        handler = load_handler(REPO_ROOT / "functions" / "action_runner")
        response = handler(event, make_context("ActionRunnerFunction", 60))
        # Then the record succeeded and the CRM received the deal
        assert response == {"batchItemFailures": []}
        [request] = crm.requests
        assert (request.method, request.path) == ("POST", "/crm/deals/OPP-1042/won")
        assert json.loads(request.body) == {"amount": 125000, "owner": "sam@example.com"}
    delivery = DeliveryStore(settings.deliveries_table, dynamodb).get(
        delivery_id_for(tenant_id, envelope["eventId"], f"deals-{suffix}")
    )
    assert delivery is not None
    assert delivery.state is DeliveryState.SUCCEEDED


def test_an_unreadable_message_fails_its_record_only(settings: Settings) -> None:
    event = json.loads((EVENTS_DIR / "sqs_action_runner.json").read_text())
    good = event["Records"][0]
    bad = {**good, "messageId": "bad-1", "body": "not json"}
    event["Records"] = [good, bad]
    handler = load_handler(Path(REPO_ROOT / "functions" / "action_runner"))
    response = handler(event, make_context("ActionRunnerFunction", 60))
    assert response == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}
