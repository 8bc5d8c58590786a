"""Production posture of template.yaml: tests that fail if a policy widens, an alarm disappears,
logging starts including execution data, encryption or retention is dropped."""

from __future__ import annotations

import pytest

from local.template import Template
from tests.helpers import ROLE, grants, resolved, resource, template

TABLE = {"<ResultsTable.Arn>"}
CACHE_TABLE = {"<ResultCacheTable.Arn>"}
EXPECTED_GRANTS = {
    "StartBatchFunction": {
        "dynamodb:GetItem": TABLE,
        "dynamodb:Query": TABLE,
        "dynamodb:PutItem": TABLE,
        "dynamodb:UpdateItem": TABLE,
        "dynamodb:BatchWriteItem": TABLE,
        "states:StartExecution": {"<SentimentStateMachine>"},
    },
    "PollBatchFunction": {
        "dynamodb:GetItem": TABLE,
        "dynamodb:Query": TABLE,
        "dynamodb:UpdateItem": TABLE,
        "dynamodb:DeleteItem": TABLE,
        "states:DescribeExecution": {"arn:aws:states:us-east-1:111122223333:execution:<SentimentStateMachine.Name>:*"},
    },
    "PlanChunksFunction": {
        "dynamodb:GetItem": TABLE,
        "dynamodb:Query": TABLE,
        "dynamodb:BatchWriteItem": TABLE,
        "dynamodb:UpdateItem": TABLE,
        "dynamodb:PutItem": TABLE,
        "dynamodb:BatchGetItem": CACHE_TABLE,
        "secretsmanager:GetSecretValue": {"<ResultCacheKey>"},
    },
    "AnalyzeChunksFunction": {
        "dynamodb:Query": TABLE,
        "dynamodb:GetItem": TABLE,
        "dynamodb:PutItem": TABLE,
        "dynamodb:UpdateItem": TABLE,
        "dynamodb:BatchWriteItem": CACHE_TABLE,
        "comprehend:BatchDetectSentiment": {"*"},
        "comprehend:BatchDetectDominantLanguage": {"*"},
        "secretsmanager:GetSecretValue": {"<ResultCacheKey>"},
    },
    "AnalyzePooledChunksFunction": {
        "dynamodb:Query": TABLE,
        "dynamodb:GetItem": TABLE,
        "dynamodb:PutItem": TABLE,
        "dynamodb:UpdateItem": TABLE,
        "dynamodb:DeleteItem": TABLE,
        "dynamodb:BatchGetItem": CACHE_TABLE,
        "dynamodb:BatchWriteItem": CACHE_TABLE,
        "comprehend:BatchDetectSentiment": {"*"},
        "secretsmanager:GetSecretValue": {"<ResultCacheKey>"},
    },
    "AssembleResultsFunction": {
        "dynamodb:GetItem": TABLE,
        "dynamodb:Query": TABLE,
        "dynamodb:BatchWriteItem": TABLE,
        "dynamodb:UpdateItem": TABLE,
        "dynamodb:DeleteItem": TABLE,
    },
}
LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


@pytest.mark.parametrize("function", sorted(EXPECTED_GRANTS))
def test_each_function_gets_exactly_the_actions_it_uses(function):
    assert grants(function) == EXPECTED_GRANTS[function]


def test_functions_use_no_broad_sam_policy_templates():
    for name, function in template().of_type("AWS::Serverless::Function").items():
        for policy in function["Properties"]["Policies"]:
            assert set(policy) == {"Version", "Statement"}, f"{name} uses {set(policy)}"


def test_the_state_machine_invokes_only_its_four_functions():
    allowed = grants("SentimentStateMachine")
    assert allowed.pop("lambda:InvokeFunction") == {
        "<PlanChunksFunction.Arn>",
        "<AnalyzeChunksFunction.Arn>",
        "<AnalyzePooledChunksFunction.Arn>",
        "<AssembleResultsFunction.Arn>",
    }
    assert allowed.pop("dynamodb:DeleteItem") == TABLE, "ReleaseAdmission, on the failure path"
    assert allowed.pop("dynamodb:UpdateItem") == TABLE, "MarkBatchEnded, on the failure path"
    assert set(allowed) == LOG_DELIVERY, "only CloudWatch Logs delivery, which has no resource-level permissions"
    assert all(resources == {"*"} for resources in allowed.values())


def test_state_machine_logs_exclude_execution_data_and_trace():
    properties = resource("SentimentStateMachine")["Properties"]
    assert properties["Logging"]["IncludeExecutionData"] is False
    assert properties["Logging"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == "<StateMachineLogGroup.Arn>"
    assert properties["Tracing"] == {"Enabled": True}


# A same-account principal whose own IAM policy grants execute-api:Invoke needs no Allow from the
# resource policy: only an explicit Deny keeps it out. aws:PrincipalArn of an assumed role is the
# role's ARN (arn:aws:iam::<account>:role/<name>), not the assumed-role session's.
DENY_EVERY_OTHER_PRINCIPAL = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "execute-api:Invoke",
    "Resource": ["execute-api:/*/POST/sentiment", "execute-api:/*/GET/sentiment"],
    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": ROLE}},
}


def resource_policy(source: Template | None = None) -> tuple[dict, dict]:
    """(the Allow of the Snowflake role's session, the Deny of everyone else)"""
    allow, deny = resource("SentimentApi", source)["Properties"]["Auth"]["ResourcePolicy"]["CustomStatements"]
    return allow, deny


def test_api_stays_iam_authorized_for_the_snowflake_role_only():
    api = resource("SentimentApi")["Properties"]
    for method in ("post", "get"):
        assert api["DefinitionBody"]["paths"]["/sentiment"][method]["security"] == [{"sigv4": []}]
    allow, deny = resource_policy()
    assert allow["Effect"] == "Allow"
    assert allow["Principal"] == {"AWS": "arn:aws:sts::111122223333:assumed-role/snowflake-api/snowflake"}
    assert "Condition" not in allow
    assert deny == DENY_EVERY_OTHER_PRINCIPAL
    assert api["EndpointConfiguration"] == {"Type": "REGIONAL"}


@pytest.mark.parametrize("parameters", [{"RequireApiKey": "true"}, {"SnowflakeVpcId": "vpc-0abc", "ApiVpcEndpointIds": "vpce-1"}], ids=["api-key", "private"])
def test_every_other_principal_is_denied_whatever_the_options(parameters):
    _, deny = resource_policy(template(**parameters))
    assert deny == DENY_EVERY_OTHER_PRINCIPAL


def test_a_private_endpoint_requires_snowflakes_vpc():
    private = template(SnowflakeVpcId="vpc-0abc", ApiVpcEndpointIds="vpce-1,vpce-2")
    api = resource("SentimentApi", private)["Properties"]
    assert api["EndpointConfiguration"] == {"Type": "PRIVATE", "VPCEndpointIds": ["vpce-1", "vpce-2"]}
    allow, _ = resource_policy(private)
    assert allow["Condition"] == {"StringEquals": {"aws:sourceVpc": "vpc-0abc"}}


REQUIRED_ALARMS = {
    "ExecutionsFailedAlarm": ("AWS/States", "ExecutionsFailed"),
    "ExecutionsTimedOutAlarm": ("AWS/States", "ExecutionsTimedOut"),
    "ExecutionsAbortedAlarm": ("AWS/States", "ExecutionsAborted"),
    "ComprehendThrottlingAlarm": ("SnowflakeSentiment", "ComprehendThrottles"),
    "Api5xxAlarm": ("AWS/ApiGateway", "5XXError"),
}


@pytest.mark.parametrize("name", sorted(REQUIRED_ALARMS))
def test_every_alarm_is_there_and_notifies(name):
    alarm = resource(name)["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == REQUIRED_ALARMS[name]
    assert alarm["AlarmActions"] == ["<AlarmTopic>"]


def test_lambda_errors_alarm_covers_every_function():
    alarm = resource("LambdaErrorsAlarm")["Properties"]
    watched = {metric["MetricStat"]["Metric"]["Dimensions"][0]["Value"] for metric in alarm["Metrics"] if "MetricStat" in metric}
    assert watched == {f"<{name}>" for name in template().of_type("AWS::Serverless::Function")}
    assert alarm["AlarmActions"] == ["<AlarmTopic>"]


def test_alarm_email_is_subscribed_only_when_given():
    assert template().resources["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"
    assert not template().condition("HasAlarmEmail", lambda *_: "")
    assert template(AlarmEmail="ops@example.com").condition("HasAlarmEmail", lambda *_: "")


def test_failed_batches_reach_a_14_day_queue():
    rule = resource("FailedBatchesRule")["Properties"]
    assert rule["EventPattern"]["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    assert rule["EventPattern"]["detail"]["stateMachineArn"] == ["<SentimentStateMachine>"]
    (target,) = rule["Targets"]
    assert target["Arn"] == "<FailedBatchesQueue.Arn>" and target["InputPath"] == "$.detail"
    assert resource("FailedBatchesQueue")["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    (statement,) = resource("FailedBatchesQueuePolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": "<FailedBatchesRule.Arn>"}}


def test_every_log_group_has_retention_and_every_function_logs_to_one():
    source = template()
    groups = source.of_type("AWS::Logs::LogGroup")
    assert all(group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for group in groups.values())
    for name, function in source.of_type("AWS::Serverless::Function").items():
        assert function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] in groups, name


@pytest.mark.parametrize("kms", ["", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"])
def test_data_at_rest_is_encrypted_with_the_optional_key(kms):
    source = template(KmsKeyArn=kms)
    table = resource("ResultsTable", source)["Properties"].get("SSESpecification")
    queue = resource("FailedBatchesQueue", source)["Properties"]
    if kms:
        assert table == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": kms}
        assert queue["KmsMasterKeyId"] == kms and "SqsManagedSseEnabled" not in queue
        assert resolved(source.globals["KmsKeyArn"], source) == kms
        for name in source.of_type("AWS::Logs::LogGroup"):
            assert resource(name, source)["Properties"]["KmsKeyId"] == kms
        assert resource("AlarmTopic", source)["Properties"]["KmsMasterKeyId"] == kms
    else:
        assert table is None, "the AWS-owned key: SSEEnabled true would mean the AWS-managed aws/dynamodb key"
        assert queue["SqsManagedSseEnabled"] is True


def test_the_dashboard_shows_batches_latency_comprehend_and_errors():
    body = resource("Dashboard")["Properties"]["DashboardBody"]
    for metric in ("BatchesStarted", "RowsAccepted", "ExecutionTime", "ComprehendCalls", "ComprehendThrottles", "ExecutionsFailed", "5XXError"):
        assert metric in body


def test_the_snowflake_sql_names_the_api_key_only_when_one_is_required():
    with_key = template(RequireApiKey="true")
    sql = resolved(with_key.document["Outputs"]["SnowflakeSql"]["Value"], with_key)
    assert "  api_key = '<aws apigateway get-api-key --include-value --api-key <SnowflakeApiKey>" in sql
    assert "api_key" not in resolved(template().document["Outputs"]["SnowflakeSql"]["Value"])


def test_the_snowflake_sql_output_is_ready_to_paste():
    sql = resolved(template().document["Outputs"]["SnowflakeSql"]["Value"])
    assert f"api_aws_role_arn = '{ROLE}'" in sql
    assert "api_allowed_prefixes = ('https://<SentimentApi>.execute-api.us-east-1.amazonaws.com/v1/')" in sql
    assert "as 'https://<SentimentApi>.execute-api.us-east-1.amazonaws.com/v1/sentiment';" in sql
    assert "create or replace external function sentiment(text varchar)" in sql
