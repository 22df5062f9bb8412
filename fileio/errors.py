"""The one exception that stops a run because an input cannot be used."""


class InputError(Exception):
    """An input file cannot be read at all, or lacks a required column.

    Its text is one readable sentence that names the file (and sheet) and says what to
    do; the command line prints it and exits with status 2.
    """
