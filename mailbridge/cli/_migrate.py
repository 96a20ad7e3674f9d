"""``mailbridge migrate``: plan, copy and verify groups from one provider to another."""

from __future__ import annotations

import sys

import click

from .._connect import connect
from .._migrate import MigrationPlan, migrate, plan_migration
from ._app import State, cli, json_flag, pass_state
from ._exit import ExitStatus

__all__ = ["migrate_command"]


def _show_plan(state: State, plan: MigrationPlan) -> None:
    state.output.table(
        ["group", "members", "on target", "action", "target lists", "data not kept"],
        [
            [
                g.name,
                g.members,
                g.existing_on_target,
                g.action,
                ", ".join(g.targets),
                ", ".join(g.dropped_fields) or "-",
            ]
            for g in plan.groups
        ],
    )
    for g in plan.groups:
        for note in g.notes:
            state.output.note(f"{g.name}: {note}")
    if plan.manual_steps:
        state.output.note("to do by hand on the target:")
        for step in plan.manual_steps:
            state.output.note(f"  - {step}")


@cli.command("migrate")
@click.option("--from", "source_url", required=True, metavar="URL", help="Source provider URL.")
@click.option("--to", "target_url", required=True, metavar="URL", help="Target provider URL.")
@click.option("--group", "groups", multiple=True, help="Only this group (repeatable; default: every group).")
@click.option("--dry-run", is_flag=True, help="Print the plan and stop.")
@click.option(
    "--split/--no-split",
    default=True,
    show_default=True,
    help="Split a group too large for one target list into numbered lists (else refuse it).",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: if a terminal).")
@json_flag
@pass_state
def migrate_command(
    state: State,
    source_url: str,
    target_url: str,
    groups: tuple[str, ...],
    dry_run: bool,
    split: bool,
    progress: bool | None,
) -> None:
    """Copy groups and every member with its data from one provider to another, then verify.

    Running it again after an interruption completes the copy without duplicates.
    """
    with connect(source_url) as source, connect(target_url) as target:
        plan = plan_migration(source, target, list(groups) or None, split=split)
        if dry_run:
            state.output.data(plan.as_dict(), lambda: _show_plan(state, plan))
            return
        if not state.output.json_mode:
            _show_plan(state, plan)
        show = sys.stderr.isatty() if progress is None else progress
        total = sum(g.members for g in plan.groups)
        with click.progressbar(length=total, label="copying", file=sys.stderr, hidden=not show) as bar:
            report = migrate(source, target, plan, progress=bar.update)

    def human() -> None:
        state.output.table(
            ["group", "copied", "already there", "rejected", "verified", "missing", "extra"],
            [
                [
                    g.plan.name,
                    g.copied,
                    sum(u.existing for u in g.uploads),
                    sum(len(u.rejected) for u in g.uploads),
                    "yes" if g.verification.equal else "NO",
                    len(g.verification.missing_on_target),
                    len(g.verification.extra_on_target),
                ]
                for g in report.groups
            ],
        )

    state.output.data(report.as_dict(), human)
    if not report.verified:
        click.get_current_context().exit(int(ExitStatus.PARTIAL))
