"""Declared vocabularies every layer shares: nations (ISO3 and regions), canonical units, the
technology taxonomy (``taxonomy.csv``), AV company names (``av_companies.csv``) and the
cumulative-production conventions (Lafond et al. 2018 initial stock).

The lowest layer of ``lib``: it imports nothing else from the project but ``lib.errors``, so the
readers (``lib.sources``) and the harmonized-table checks (``lib.harmonize``) both build on it.
"""
