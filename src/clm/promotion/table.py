"""The gate table an operator reads before and after a promotion."""

from __future__ import annotations

from rich.table import Table

from clm.promotion.promote import Decision


def gate_table(decision: Decision) -> Table:
    """One row per gate: what the challenger scored, the champion, the threshold, pass/fail."""
    champion = f"v{decision.champion}" if decision.champion else "none"
    title = f"{decision.name}: challenger v{decision.challenger} vs champion {champion}"
    table = Table(title=title)
    for column in ("gate", "challenger", "champion", "threshold"):
        table.add_column(column)
    table.add_column("result")
    for gate in decision.gates:
        result = "[green]pass[/green]" if gate.passed else "[bold red]FAIL[/bold red]"
        table.add_row(gate.gate, gate.challenger, gate.champion, gate.threshold, result)
    return table
