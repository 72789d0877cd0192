"""Rows written the way the real Kaggle invoices file writes them (quirks included)."""

from smepulse_assets.kaggle_invoices.contract import HEADER

HEADER_LINE = ",".join(HEADER)

# Real-format rows: float ids, YYYYMMDD ints and floats, a letter customer number,
# a customer number that lost its leading zero, doubled and trailing spaces in names,
# CAD for CA02, an open invoice with empty clear_date, empty area_business.
ROWS = [
    "U001,0200769623,WAL-MAR corp,2020-02-11 00:00:00,2020.0,1930438491.0,2020-01-26,20200125,20200126,20200210.0,USD,RV,1.0,,54273.28,20200126.0,NAH4,1930438491.0,0",
    "U001,200769623,WAL-MAR  corp ,,2020.0,1930438492.0,2020-01-26,20200126,20200126,20200210.0,USD,RV,1.0,,1000.0,20200126.0,NAH4,1930438492.0,1",
    "U001,CCU001,KRAFT in ,,2020.0,1930438493.0,2020-01-26,20200126,20200126,20200310.0,USD,X2,1.0,,79656.6,20200126.0,NAA8,,1",
    "CA02,0140106408,SOBEYS  co,2020-02-20 00:00:00,2020.0,2960623488.0,2020-01-26,20200124,20200126,20200205.0,CAD,RV,1.0,,2309.79,20200126.0,CA10,2960623488.0,0",
]


def csv_bytes(*rows: str, header: str = HEADER_LINE) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")
