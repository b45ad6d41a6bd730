"""``medtl compare``: the transfer report on the user's own data.

Strategies (arms) x label fractions x seeds, each an ordinary ``medtl train`` run; then paired
bootstrap differences between arms on the test split, the label-efficiency plot and a
recommendation. Modules: config (CompareConfig), arms (arm specs -> train overrides), plan (order,
cost estimates), runner (``compare``), stats (paired bootstrap), analysis (summaries, recommendation),
report (report.md/.html, results.json), machine (where it ran).

    from medtl.compare import CompareConfig, compare
    result = compare(CompareConfig(data="data.csv", out="cmp", arms=["scratch", "finetune"]))
"""

from medtl.compare.config import CompareConfig
from medtl.compare.runner import CompareResult, compare

__all__ = ["CompareConfig", "CompareResult", "compare"]
