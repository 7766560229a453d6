"""One benchmark number next to the baseline it is judged against."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """`value` and `baseline` are costs (lower is better); `target` is the largest acceptable ratio."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline <= 0:
            return None
        return self.value / self.baseline

    @property
    def verdict(self) -> str:
        """PASS/MISS against the target; INFO for a number printed for comparison only."""
        if self.target is None or self.ratio is None:
            return "INFO"
        return "PASS" if self.ratio <= self.target else "MISS"


def _num(value: float | None, fmt: str = ".4g") -> str:
    return "-" if value is None else format(value, fmt)


HEADER = f"{'benchmark':<44} {'value':>10} {'baseline':>10} {'unit':<6} {'ratio':>7} {'target':>7}  verdict"


def format_row(result: Result) -> str:
    ratio = _num(result.ratio, ".2f") + ("x" if result.ratio is not None else "")
    target = "<=" + _num(result.target, ".2f") + "x" if result.target is not None else "-"
    row = (
        f"{result.name:<44} {_num(result.value):>10} {_num(result.baseline):>10} {result.unit:<6} "
        f"{ratio:>7} {target:>7}  {result.verdict}"
    )
    baseline = f"baseline: {result.baseline_name}" if result.baseline_name else ""
    details = [part for part in (baseline, result.note) if part]
    return row + ("\n    " + "; ".join(details) if details else "")
