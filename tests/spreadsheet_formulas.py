"""Text a spreadsheet would run as a formula if a CSV export wrote it raw (OWASP "CSV Injection"), and an oracle
written apart from flexbill's own rule to tell whether an exported cell would open as one."""

BODY = 'SUM(1+1)*cmd|" /C calc"!A0'

# Every character a spreadsheet reads as the start of a formula, alone and behind leading blanks.
FORMULA_STARTS = {
    "equals": "=",
    "plus": "+",
    "minus": "-",
    "at": "@",
    "tab": "\t",
    "cr": "\r",
    "lf": "\n",
    "crlf": "\r\n",
    "fullwidth-equals": "＝",
    "fullwidth-plus": "＋",
    "fullwidth-minus": "－",
    "fullwidth-at": "＠",
    "small-equals": "﹦",
    "small-plus": "﹢",
    "small-minus": "﹣",
    "small-at": "﹫",
    "minus-sign": "\u2212",
    "space-equals": " =",
    "spaces-plus": "   +",
    "nbsp-minus": "\u00a0-",
    "ideographic-space-fullwidth-at": "\u3000＠",
    "tab-equals": "\t=",
    "crlf-at": "\r\n@",
    "zero-width-space-equals": "\u200b=",
}
DANGEROUS_TEXTS = {name: start + BODY for name, start in FORMULA_STARTS.items()}

_SIGNS = "=+-@＝＋－＠﹦﹢﹣﹫\u2212"
_BLANKS = " \t\r\n\u00a0\u3000\u200b"


def opens_as_formula(cell: str) -> bool:
    first_visible = cell.lstrip(_BLANKS)[:1]
    return cell[:1] in ("\t", "\r", "\n") or (first_visible != "" and first_visible in _SIGNS)
