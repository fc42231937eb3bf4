"""The currencies an invoice may be in: ISO 4217 currencies that Stripe can charge, lower-case as Stripe writes them.

A literal list rather than every ISO code babel knows: ISO also lists fund, precious-metal and test codes (XAU,
XTS, XXX, USN, CLF...) and withdrawn currencies, none of which Stripe can charge, so an invoice in them could never
be paid. When Stripe adds a currency, add it here.
"""

STRIPE_CURRENCIES = frozenset(
    """
    aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn bzd cad cdf chf
    clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq gyd hkd hnl htg huf idr
    ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur
    mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr
    sek sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx usd uyu uzs vnd vuv wst xaf xcd xof
    xpf yer zar zmw
    """.split()
)


def normalize_currency(value: object) -> str | None:
    """The currency in flexbill's form (lower-case), or None when Stripe cannot charge in it."""
    if not isinstance(value, str):
        return None
    code = value.strip().lower()
    return code if code in STRIPE_CURRENCIES else None
