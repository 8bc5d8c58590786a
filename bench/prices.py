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


CORTEX_AI_SENTIMENT_CREDITS_PER_MILLION_TOKENS = 1.6
"""Snowflake's Service Consumption Table as third-party copies give it (unverified here): AI_SENTIMENT
bills every call's tokens, prompt included."""
USD_PER_SNOWFLAKE_CREDIT = 3.0
"""Enterprise edition, on demand, AWS us-east-1 (Standard is $2)."""
CHARACTERS_PER_TOKEN = 4.0
"""Snowflake's own rule of thumb for text."""
CORTEX_PROMPT_TOKENS = 0
"""Tokens of the prompt AI_SENTIMENT adds to each text: documented to exist, not published; 0 makes
Cortex's price a floor, so the comparison flatters Cortex."""
CORTEX_ASSUMPTIONS = (
    f"{CORTEX_AI_SENTIMENT_CREDITS_PER_MILLION_TOKENS} credits per million tokens (third-party copies of the price table), "
    f"${USD_PER_SNOWFLAKE_CREDIT:.0f} a credit, "
    f"{CHARACTERS_PER_TOKEN:.0f} characters a token, no prompt tokens counted (a floor), every run billed in full"
)


def cortex_ai_sentiment_usd_per_million_rows(mean_characters_per_row: float) -> float:
    tokens = mean_characters_per_row / CHARACTERS_PER_TOKEN + CORTEX_PROMPT_TOKENS
    return round(tokens * CORTEX_AI_SENTIMENT_CREDITS_PER_MILLION_TOKENS * USD_PER_SNOWFLAKE_CREDIT, 2)
