"""The offline emulation itself: the moto seam runs handlers in-process, the stand-in keeps Comprehend's contract."""

from __future__ import annotations

import io
import json
import threading
import zipfile

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from moto.awslambda.models import LambdaFunction
from moto.comprehend.responses import ComprehendResponse
from moto.dynamodb.responses import DynamoHandler
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_dynamodb

from local import lambda_seam, moto_patches
from local.comprehend import StandIn
from local.stack import OfflineStack
from sentiment_service.settings import client


def comprehend_error(stack, texts, language="en") -> str:
    with pytest.raises(ClientError) as caught:
        stack.client("comprehend").batch_detect_sentiment(TextList=texts, LanguageCode=language)
    return caught.value.response["Error"]["Code"]


def test_stand_in_answers_in_comprehends_shape(stack, stand_in):
    stand_in.document_error = lambda text: ("INTERNAL_SERVER_ERROR", "boom") if text == "bad" else None
    response = stack.client("comprehend").batch_detect_sentiment(TextList=["I love it", "bad", "I hate it"], LanguageCode="en")
    assert [entry["Index"] for entry in response["ResultList"]] == [0, 2]
    assert response["ErrorList"] == [{"Index": 1, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "boom"}]
    first = response["ResultList"][0]
    assert first["Sentiment"] == "POSITIVE" and response["ResultList"][1]["Sentiment"] == "NEGATIVE"
    assert set(first["SentimentScore"]) == {"Positive", "Negative", "Neutral", "Mixed"}
    assert abs(sum(first["SentimentScore"].values()) - 1) < 1e-9


def test_stand_in_refuses_what_comprehend_refuses(stack):
    assert comprehend_error(stack, ["x"] * 26) == "BatchSizeLimitExceededException"
    assert comprehend_error(stack, ["é" * 2501]) == "TextSizeLimitExceededException"
    assert comprehend_error(stack, ["hola"], "xx") == "UnsupportedLanguageException"
    stack.client("comprehend").batch_detect_sentiment(TextList=["x" * 5000] * 25, LanguageCode="zh-TW")


def test_boto3_refuses_an_empty_document_before_sending_it(stack):
    with pytest.raises(ParamValidationError):
        stack.client("comprehend").batch_detect_sentiment(TextList=[""], LanguageCode="en")


def test_stand_in_refuses_an_empty_list_and_an_empty_document_itself():
    from local.comprehend import ComprehendError

    for texts in ([], [""]):
        with pytest.raises(ComprehendError):
            StandIn().batch_detect_sentiment(texts, "en")


def test_stand_in_quota_throttles_beyond_its_rate(stack, stand_in):
    stand_in.quota_rps = 3
    client = stack.session.client("comprehend", config=Config(retries={"total_max_attempts": 1}))
    codes = []
    for _ in range(5):
        try:
            client.batch_detect_sentiment(TextList=["fine"], LanguageCode="en")
            codes.append("ok")
        except ClientError as error:
            codes.append(error.response["Error"]["Code"])
    assert codes.count("ok") == 3 and codes.count("ThrottlingException") == 2


def test_stand_in_knobs_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("COMPREHEND_LATENCY_MS", "150")
    monkeypatch.setenv("COMPREHEND_QUOTA_RPS", "20")
    monkeypatch.setenv("COMPREHEND_ERROR_RATE", "0.25")
    configured = StandIn.from_environment()
    assert (configured.latency_s, configured.quota_rps, configured.error_rate) == (0.15, 20.0, 0.25)


def test_lambda_seam_runs_registered_handlers_in_process(stack):
    def handler(event, context):
        if event.get("fail"):
            raise ValueError("asked to fail")
        return {"echo": event["value"], "function": context.function_name}

    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("app.py", "")
    role = "arn:aws:iam::123456789012:role/offline-stack"
    created = stack.client("lambda").create_function(
        FunctionName="SeamProbe", Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": zipped.getvalue()}
    )
    lambda_seam.register("SeamProbe", handler, lambda_seam.LambdaContext("SeamProbe", 128, created["FunctionArn"], 3))
    ok = stack.client("lambda").invoke(FunctionName="SeamProbe", Payload=json.dumps({"value": 7}))
    assert json.loads(ok["Payload"].read()) == {"echo": 7, "function": "SeamProbe"}
    failed = stack.client("lambda").invoke(FunctionName="SeamProbe", Payload=json.dumps({"fail": True}))
    assert failed["FunctionError"] == "Handled"
    report = json.loads(failed["Payload"].read())
    assert report["errorType"] == "ValueError" and report["errorMessage"] == "asked to fail"


def test_lambda_seam_reuses_a_warm_containers_clients_and_gives_concurrent_invocations_their_own(stack):
    seen: list[object] = []
    inside = threading.Barrier(2)

    def invocation(wait: bool) -> None:
        with lambda_seam.running("WarmProbe"):
            seen.append(client("dynamodb"))
            if wait:
                inside.wait(timeout=5)

    invocation(False)
    invocation(False)
    assert seen[0] is seen[1], "a warm container's client is reused, as Lambda reuses it"
    threads = [threading.Thread(target=invocation, args=(True,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen[2] is not seen[3] and seen[0] in seen[2:], "two invocations at once run in two containers"


def test_the_deployed_definition_is_the_templates(stack):
    definition = json.loads(stack.client("stepfunctions").describe_state_machine(stateMachineArn=stack.state_machine_arn)["definition"])
    analyze = definition["States"]["AnalyzeChunks"]["ItemProcessor"]["States"]["AnalyzeChunk"]
    assert analyze["Resource"] == stack.arns["AnalyzeChunksFunction"]
    assert definition["States"]["ApplySettings"]["Parameters"]["mapConcurrency.$"] == "States.StringToJson('4')"


def test_template_parameters_reach_the_definition_and_the_functions():
    from local.stack import OfflineStack

    with OfflineStack(parameters={"MapConcurrency": "3", "LanguageCode": "de"}) as stack:
        definition = json.loads(stack.client("stepfunctions").describe_state_machine(stateMachineArn=stack.state_machine_arn)["definition"])
        assert definition["States"]["ApplySettings"]["Parameters"]["mapConcurrency.$"] == "States.StringToJson('3')"
        import os

        assert os.environ["LANGUAGE_CODE"] == "de"


def moto_methods() -> tuple:
    """What local/moto_patches.py replaces, as moto currently has it."""
    return (
        LambdaFunction._invoke_lambda,
        lambda_eval_utils.boto_client_for,
        state_task_service_dynamodb.boto_client_for,
        DynamoHandler.call_action,
        ComprehendResponse.detect_sentiment,
        getattr(ComprehendResponse, "batch_detect_sentiment", None),
        getattr(ComprehendResponse, "batch_detect_dominant_language", None),
    )


def test_a_stopped_stack_gives_moto_back_every_method_it_patched():
    before = moto_methods()
    with OfflineStack(StandIn()):
        patched = moto_methods()
    assert all(now is not then for now, then in zip(patched, before, strict=True)), "every patch is in place while the stack runs"
    assert moto_methods() == before


def test_each_undo_restores_what_its_install_replaced_so_patches_nest():
    before = moto_methods()
    undo_outer = [moto_patches.run_lambdas_in_process(lambda name, event: None), moto_patches.cache_engine_clients()]
    outer_stand_in = StandIn()
    undo_outer += [moto_patches.serialize_dynamodb(lambda: None), moto_patches.serve_comprehend(outer_stand_in)]
    outer = moto_methods()
    undo_inner = [moto_patches.run_lambdas_in_process(lambda name, event: None), moto_patches.cache_engine_clients()]
    undo_inner += [moto_patches.serialize_dynamodb(lambda: None), moto_patches.serve_comprehend(StandIn())]
    for undo in reversed(undo_inner):
        undo()
    after_inner, answering = moto_methods(), list(moto_patches._stand_ins)
    for undo in reversed(undo_outer):
        undo()
    assert after_inner[:4] == outer[:4], "the outer patches are in place again"
    assert len(answering) == 1 and answering[0] is outer_stand_in, "the outer stand-in answers again"
    assert moto_methods() == before
