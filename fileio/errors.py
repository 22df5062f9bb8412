"""The one exception that stops a run because an input cannot be used."""


class InputError(Exception):
    """An input file cannot be read at all, or lacks a required column.

    Its text is one readable sentence that names the file (and sheet) and says what to
    do; the command line prints it and exits with status 2.
    """


def first_line(error: Exception) -> str:
    """The first line of an exception's text (its type's name when it has none), to quote
    a library's error inside one sentence.

    >>> first_line(ValueError("bad value\\nmore detail"))
    'bad value'
    """
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
