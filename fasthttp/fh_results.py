"""The request-head parser's result codes and reasons, for the pure-Python
path: generated from csrc/fh_parser.h's FH_RESULTS by tools/gen_results.py.
Do not edit; edit the header and run the script."""

FH_OK = 0
FH_INCOMPLETE = -1
FH_NONCANONICAL = -2
FH_E_LINE_TOO_LONG = -10
FH_E_TOO_MANY_HEADERS = -11
FH_E_HEAD_TOO_LARGE = -12
FH_E_OBS_FOLD = -13
FH_E_NAME = -14
FH_E_SPACE_BEFORE_COLON = -15
FH_E_NO_COLON = -16
FH_E_VALUE = -17
FH_E_BARE_CR = -18
FH_E_EOF_IN_LINE = -19

# code -> (name, reason)
RESULTS: dict[int, tuple[str, str]] = {
    FH_OK: ("FH_OK", "ok"),
    FH_INCOMPLETE: ("FH_INCOMPLETE", "incomplete"),
    FH_NONCANONICAL: ("FH_NONCANONICAL", "request line not in strict form"),
    FH_E_LINE_TOO_LONG: ("FH_E_LINE_TOO_LONG", "header line too long"),
    FH_E_TOO_MANY_HEADERS: ("FH_E_TOO_MANY_HEADERS", "too many headers"),
    FH_E_HEAD_TOO_LARGE: ("FH_E_HEAD_TOO_LARGE", "header block too large"),
    FH_E_OBS_FOLD: ("FH_E_OBS_FOLD", "obsolete line folding in header"),
    FH_E_NAME: ("FH_E_NAME", "invalid character in header name"),
    FH_E_SPACE_BEFORE_COLON: ("FH_E_SPACE_BEFORE_COLON", "whitespace before colon in header"),
    FH_E_NO_COLON: ("FH_E_NO_COLON", "header line without a colon"),
    FH_E_VALUE: ("FH_E_VALUE", "invalid character in header value"),
    FH_E_BARE_CR: ("FH_E_BARE_CR", "bare CR in request head"),
    FH_E_EOF_IN_LINE: ("FH_E_EOF_IN_LINE", "request head ended inside a line"),
}
