"""AWS list prices the cost model uses: us-east-1, on-demand, without free tiers.

Written down on 2026-11-23 from AWS's public pricing pages as last known to us (this
workplace has no network to re-check them); update the figures and the date together.
"""

PRICES_AS_OF = "2026-11-23"
REGION = "us-east-1"

COMPREHEND_PER_UNIT = 0.0001
"""Sentiment: per unit of 100 characters, 3-unit minimum per document (first 10M units a month)."""
STEP_FUNCTIONS_PER_TRANSITION = 0.025 / 1000
"""Standard workflows: per state transition; retries are transitions too."""
LAMBDA_PER_GB_SECOND_ARM64 = 0.0000133334
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1_000_000
DYNAMODB_PER_READ_UNIT = 0.125 / 1_000_000
"""On-demand request units (prices since the November 2024 reduction)."""
API_GATEWAY_PER_REQUEST = 3.50 / 1_000_000
"""REST API, first 333 million requests a month."""
