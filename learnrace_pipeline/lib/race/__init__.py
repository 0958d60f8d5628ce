"""The race: which nation closes the loop first, per industry.

``spec``: the declarative race specification (``race.yaml``), loaded safely and validated.
"""
