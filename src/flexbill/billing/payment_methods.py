"""How a payment method is named for people: "Visa ···· 4242", "SEPA Direct Debit ···· 3000", "US bank account
(Chase) ···· 6789", never Stripe's type codes (`card`, `sepa_debit`, `us_bank_account`). Pure: no ORM, no I/O.

The parts come from what Stripe reports for the payment (a Charge's `payment_method_details`, or the PaymentMethod
flexbill charged): `card.brand` and `card.last4`; `sepa_debit.last4` and `bacs_debit.last4` (of the IBAN or account
number); `us_bank_account.bank_name` and `us_bank_account.last4`.
"""

# Stripe's `card.brand` codes and the names cardholders know them by.
CARD_BRANDS = {
    "amex": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos Australia",
    "interac": "Interac",
    "jcb": "JCB",
    "link": "Link",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}

# Stripe's payment method types and the names payers know them by.
TYPE_NAMES = {
    "card": "Card",
    "sepa_debit": "SEPA Direct Debit",
    "bacs_debit": "BACS Direct Debit",
    "us_bank_account": "US bank account",
    "acss_debit": "Pre-authorized debit",
    "au_becs_debit": "BECS Direct Debit",
    "link": "Link",
    "paypal": "PayPal",
}

# The types whose label names the bank rather than a brand: "US bank account (Chase)".
BANK_NAMED_TYPES = frozenset({"us_bank_account", "acss_debit"})

LAST4_MARK = "····"  # four middle dots, as banks and Stripe's dashboard show a masked number
MAX_PART = 60  # a bank or brand name longer than this is cut: a label is one short line


def payment_method_label(*, type: str, brand: str = "", bank_name: str = "", last4: str = "") -> str:  # noqa: A002
    """The label of one payment method; "" when nothing is known about it (the caller shows a dash)."""
    type, brand, bank_name = (type or "").strip(), (brand or "").strip(), _one_line(bank_name)
    last4 = "".join(ch for ch in (last4 or "") if ch.isascii() and ch.isalnum())[-4:]
    if type == "card" or (not type and brand):
        name = card_brand_name(brand) if brand else TYPE_NAMES["card"]
    elif type:
        name = type_name(type)
        if type in BANK_NAMED_TYPES and bank_name:
            name = f"{name} ({bank_name})"
    else:
        return ""
    return f"{name} {LAST4_MARK} {last4}" if last4 else name


def card_brand_name(brand: str) -> str:
    """visa -> Visa, amex -> American Express; a brand Stripe adds later reads as its words ("new_brand" ->
    "New brand"); "unknown" reads as Card."""
    code = (brand or "").strip().lower()
    if not code or code == "unknown":
        return TYPE_NAMES["card"]
    return CARD_BRANDS.get(code) or _words(code)


def type_name(type: str) -> str:  # noqa: A002
    """sepa_debit -> SEPA Direct Debit; a type flexbill has no name for reads as its words ("ideal" -> "Ideal")."""
    return TYPE_NAMES.get(type) or _words(type)


def _words(code: str) -> str:
    return _one_line(code.replace("_", " ")).capitalize()


def _one_line(text: str) -> str:
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in (text or "")).split())
    return line if len(line) <= MAX_PART else line[: MAX_PART - 1].rstrip() + "…"
