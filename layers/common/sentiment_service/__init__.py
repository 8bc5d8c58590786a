"""Shared code of the Snowflake sentiment service, deployed as a Lambda layer."""
