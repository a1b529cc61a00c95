"""nltk's Treebank rules as data, for :mod:`.treebank`: the characters each rule reacts to, the marks the
memo keys carry, and which of nltk's patterns can be run faster or skipped (see that module's doc)."""

from __future__ import annotations

import re

SENTINEL = "\x00"  # cuts a batch of chunks sent to nltk apart again
OPEN = "\x01"  # mark: the chunk's leading " or '' follows a space (nltk makes it an opening quote ``)
CLOSE = "\x02"  # mark: the chunk's trailing ' comes before a space
LITERAL = "\x03"  # a key that is a finished word (the rest of the key)
UNICODE_SPACE = re.compile("[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")  # str.split's, past ASCII
ODD = "\x00\x01\x02\x03\x1c\x1d\x1e\x1f"
# Characters that one rule pads, whatever their neighbours (a run of backticks counts as one). nltk
# tokenizes the pieces between them as if they were apart, except that some are padded before its
# quote rules run: a piece right after "([{<", «“‘„ or backticks starts as if after a space (a " there
# opens a quote), and a piece ending in ' right before «“‘„;@#$%&?!, a dash or backticks ends as if
# before a space.
ISOLATOR = "(`+|[;@#$%&?!*()\\[\\]{}<>«“‘„»”’\u2012-\u2015])"
OPEN_AFTER = "([(\\[{<«“‘„`])(\"|'')"  # -> \1 OPEN \2
CLOSE_BEFORE = "'([«“‘„;@#$%&?!\u2012-\u2015`])"  # -> ' CLOSE \1
# Anything some rule reacts to: "." and "-" only when doubled (or at the text's end), and the letters of
# nltk's contractions ("cannot" -> "can not"), matched as nltk does (same engine, case-insensitive).
ACTIVE = "[`\"',:;@#$%&?!*\\[\\](){}<>«“‘„»”’\u2012-\u2015]|\\.\\.|--"
CONTRACTIONS = "cannot|d'ye|gimme|gonna|gotta|lemme|more'n|wanna|'tis|'twas"
ISOLATOR_CHARS = frozenset(";@#$%&?!*()[]{}<>«“‘„»”’\u2012\u2013\u2014\u2015")
# A plain word in double quotes, or before a comma or colon, and what nltk makes of it: an opening "
# after a space is ``, any other " is ''; a final comma or colon is split off (whitespace follows it).
OPENING = {'"': "''", OPEN + '"': "``"}
SMALL = 256  # fewer keys than this are done in Python, not arrow
QUOTED = '^(?P<open>\x01"|")?(?P<core>[^"\x01\x02,:]+)(?P<close>")?(?P<punct>[,:])?$'  # RE2
OPEN_RE, CLOSE_RE, ISOLATOR_RE, QUOTED_RE = map(re.compile, (OPEN_AFTER, CLOSE_BEFORE, ISOLATOR, QUOTED))
CLOSERS = "])}>\"'»”’"  # what the final-period rule lets follow the period
BATCH_CHARS = 1 << 16  # characters per nltk call when filling the memo
# nltk's patterns that run 2-10x faster under ``re`` and mean the same there (no \w, \d or \b; \s differs
# only on \x1c-\x1f, which go to nltk itself), and those that cannot match in a batch of pieces (they need
# a text end, a backtick or an isolator, and pieces have none), so a batch skips them.
FASTER_UNDER_RE = {
    r"(``)",
    r"([:,])$",
    r"[;@#$%&]",
    r"[?!]",
    r"[\]\[\(\)\{\}\<\>]",
    r"([»”’])",
    r'"',
    r"\s+",
    r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ",
}
NOT_IN_PIECES = {
    r"([«“‘„]|[`]+)",
    r"^\"",
    r"(``)",
    r"""([^\.])(\.)([\]\)}>"\'»”’ ]*+)\s*$""",
    r"([:,])$",
    r"[;@#$%&]",
    r"[\u2012-\u2015]",
    r"""([^\.])(\.)([\]\)}>"\']*)\s*$""",
    r"[?!]",
    r"[*]",
    r"[\]\[\(\)\{\}\<\>]",
    r"([»”’])",
}
SHIFT, MASK = 24, (1 << 24) - 1  # a memo value: start in the id store << SHIFT | number of words


def backticks(run: str) -> tuple[str, ...]:
    return ("``",) * (len(run) // 2) + ("`",) * (len(run) % 2)


def faster(pattern):
    """The same pattern under ``re`` where that is measured faster and means the same."""
    if pattern.pattern in FASTER_UNDER_RE and not pattern.flags & re.IGNORECASE:
        return re.compile(pattern.pattern)
    return pattern
