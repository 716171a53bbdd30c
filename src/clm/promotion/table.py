"""The gate table: on the terminal before and after a promotion, and as the promoted
version's description in the registry (markdown, which the MLflow UI renders)."""

from __future__ import annotations

from rich.table import Table

from clm.promotion.gates import Decision

COLUMNS = ("gate", "challenger", "champion", "threshold", "result")


def gate_table(decision: Decision) -> Table:
    """One row per gate: what the challenger scored, the champion, the threshold, pass/fail."""
    table = Table(title=_title(decision))
    for column in COLUMNS:
        table.add_column(column)
    for gate in decision.gates:
        result = "[green]pass[/green]" if gate.passed else "[bold red]FAIL[/bold red]"
        table.add_row(gate.gate, gate.challenger, gate.champion, gate.threshold, result)
    return table


def gate_markdown(decision: Decision) -> str:
    """The same table in markdown; who promoted and when is in the champion history."""
    rows = [
        f"| {g.gate} | {g.challenger} | {g.champion} | {g.threshold} | "
        f"{'pass' if g.passed else 'FAIL'} |"
        for g in decision.gates
    ]
    header = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    return "\n".join([f"Promotion gates, {_title(decision)}", "", *header, *rows]) + "\n"


def _title(decision: Decision) -> str:
    champion = f"v{decision.champion}" if decision.champion else "none"
    return f"{decision.name}: challenger v{decision.challenger} vs champion {champion}"
