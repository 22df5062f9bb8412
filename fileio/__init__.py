"""Everything that touches files: reading inputs, writing workbooks, CSV and JSON.

The calculators in :mod:`funding_models` never open a file; this package reads the claims
and the other tables into validated frames and writes what the calculators produce.
"""
