"""Command lines as reports show them: masked, without concdiag's bootstrap, summarised."""

from __future__ import annotations

from concdiag.own_code import user_command
from concdiag.redact import mask_args


def shown_command(argv: list[str]) -> list[str]:
    """A process's command as the user would write it: masked, without our bootstrap."""
    return user_command(mask_args(argv))


#: Characters of a command line shown in a table; a longer one is summarised, whole on hover
#: (and in the JSON). A stated choice: one line of the process table on a laptop screen; a
#: forkserver's command line carries its whole sys.path, several hundred characters.
SHOWN_COMMAND_CHARS = 120
#: Characters of a ``-c`` program kept in a summary.
SHOWN_CODE_CHARS = 60


def summarised_command(argv: list[str]) -> str:
    """A command line short enough for a table row: the program and its first arguments, a
    ``-c`` program's first characters, then an ellipsis."""
    whole = " ".join(argv)
    if len(whole) <= SHOWN_COMMAND_CHARS:
        return whole
    words: list[str] = []
    length = -1  # the joined length so far (no space before the first word)
    for i, word in enumerate(argv):
        if i > 0 and argv[i - 1] == "-c" and len(word) > SHOWN_CODE_CHARS:
            word = word[:SHOWN_CODE_CHARS] + "…"
        length += 1 + len(word)
        if length > SHOWN_COMMAND_CHARS:
            return " ".join(words) + " …"
        words.append(word)
    return " ".join(words)


def process_label(command: list[str]) -> str:
    """A process's command as the exports name it: masked, summarised; "" when unknown."""
    return summarised_command(shown_command(command)) if command else ""
