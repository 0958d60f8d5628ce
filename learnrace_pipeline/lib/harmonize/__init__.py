"""The harmonized layer's data-quality rules (``checks``): plain functions over the harmonized tables,
run by the ``harmonize`` assets' asset checks. Builds on ``lib.sources`` (schemas, keys) and ``lib.vocab``."""
