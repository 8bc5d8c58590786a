"""Powertools Logger, Tracer and Metrics shared by every function.

Log records carry ids and counts, never row text: the batch id is the correlation id.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
