"""The one exception that stops a run because an input cannot be used, and the rule
that keeps text taken from inputs on one line."""
import re

#: Characters that text from an input must not bring into a message as they are: control
#: characters (line breaks, the escape that starts a terminal's colour or cursor
#: sequence), Unicode's line and paragraph separators, and the marks that reorder text
#: as it is shown (bidirectional overrides and isolates).
_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    r"""``text`` with each character of :data:`_UNSHOWABLE` written as its escape, so that
    a header or sheet name quoted in a message can neither break its line nor drive the
    terminal that shows it.

    >>> print(one_line("service\r\ndate \x1b[31m"))
    service\r\ndate \x1b[31m
    """
    return _UNSHOWABLE.sub(lambda found: repr(found.group())[1:-1], text)


class InputError(Exception):
    """An input file cannot be read at all, or lacks a required column.

    Its text is one readable sentence that names the file (and sheet) and says what to
    do; the command line prints it and exits with status 2. Text quoted from the input
    is kept on the sentence's line (:func:`one_line`).
    """

    def __init__(self, message: str):
        super().__init__(one_line(message))


def first_line(error: Exception) -> str:
    """The first line of an exception's text (its type's name when it has none), to quote
    a library's error inside one sentence.

    >>> first_line(ValueError("bad value\\nmore detail"))
    'bad value'
    """
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
