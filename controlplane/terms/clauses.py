"""`Clause("Art. 33(1)")`: the citation every decision and amount carries (제N조 k항 = Art. N(k))."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Art. N, Art. N(k), Art. N(k)-i, optionally several joined by ", " (e.g. "Art. 20(8), Art. 21(1)").
_ONE = r"Art\. \d+(\(\d+\))?(-\d+)?"
_PATTERN = re.compile(rf"^{_ONE}(, {_ONE})*$")


@dataclass(frozen=True, slots=True)
class Clause:
    """A citation of the terms of service, validated so typos cannot reach an audit record."""

    citation: str

    def __post_init__(self) -> None:
        if not _PATTERN.match(self.citation):
            raise ValueError(f"not a clause citation: {self.citation!r} (expected e.g. 'Art. 33(1)')")

    def __str__(self) -> str:
        return self.citation


# The clauses cited from more than one module, named once.
ART_3_2 = Clause("Art. 3(2)")
ART_3_3 = Clause("Art. 3(3)")
ART_3_4 = Clause("Art. 3(4)")
ART_9_2 = Clause("Art. 9(2)")
ART_16_4 = Clause("Art. 16(4)")
ART_16_5 = Clause("Art. 16(5)")
ART_18 = Clause("Art. 18")
ART_19_2 = Clause("Art. 19(2)")
ART_20_2 = Clause("Art. 20(2)")
ART_20_7 = Clause("Art. 20(7)")
ART_21_1 = Clause("Art. 21(1)")
ART_21_4 = Clause("Art. 21(4)")
ART_26_4 = Clause("Art. 26(4)")
ART_26_5 = Clause("Art. 26(5)")
ART_26_6 = Clause("Art. 26(6)")
ART_31_1 = Clause("Art. 31(1)")
ART_32_2 = Clause("Art. 32(2)")
ART_32_3 = Clause("Art. 32(3)")
ART_32_4 = Clause("Art. 32(4)")
ART_32_5 = Clause("Art. 32(5)")
ART_33_1 = Clause("Art. 33(1)")
ART_34 = Clause("Art. 34")
ART_35_1 = Clause("Art. 35(1)")
ART_36_2 = Clause("Art. 36(2)")
ART_36_3 = Clause("Art. 36(3)")
ART_36_4 = Clause("Art. 36(4)")
ART_37_2 = Clause("Art. 37(2)")
ART_17_3 = Clause("Art. 17(3)")
