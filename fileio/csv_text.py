"""Text for CSV files a spreadsheet will open: no cell may run as a formula."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: Leading characters that make a spreadsheet read a CSV cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def formula_safe(values: pd.Series) -> pd.Series:
    """Text a spreadsheet would run as a formula gets a leading apostrophe; numbers written
    as text (``-12.50``) are left as they are.

    Examples
    --------
    >>> formula_safe(pd.Series(["=1+1", "-12.50", "ok", None], dtype=object)).tolist()
    ["'=1+1", '-12.50', 'ok', None]
    """
    text = values.astype(object)
    hostile = text.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_START)
                       and not _NUMBER.match(v.strip()))
    quoted = ("'" + text.astype(str)).to_numpy(dtype=object)
    return pd.Series(np.where(hostile.to_numpy(dtype=bool), quoted, text.to_numpy()),
                     index=values.index, dtype=object)
