"""``mailbridge migrate``: plan, copy and verify groups from one provider to another."""

from __future__ import annotations

import sys

import attrs
import click

from .._connect import connect
from .._migrate import MigrationPlan, migrate, plan_migration
from .._setup_migrate import SetupReport, apply_setup, plan_setup
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


def _show_setup(state: State, report: SetupReport) -> None:
    state.output.table(
        ["kind", "name", "action", "detail"], [[i.kind, i.name, i.action, i.detail or ""] for i in report.items]
    )
    for item in report.items:
        if item.records:
            state.output.note(f"DNS records for {item.name} ({item.action}):")
            state.output.table(
                ["type", "host", "value", "purpose"], [[r.type, r.host, r.value, r.purpose] for r in item.records]
            )


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
@click.option(
    "--setup",
    is_flag=True,
    help="First recreate sender domains, sender addresses and templates on the target (run again to verify DNS).",
)
@click.option(
    "--update-templates",
    is_flag=True,
    help="With --setup: replace a template whose content differs on the target (default: report it, leave it).",
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
    setup: bool,
    update_templates: bool,
    progress: bool | None,
) -> None:
    """Copy groups and every member with its data from one provider to another, then verify.

    Running it again after an interruption completes the copy without duplicates.
    """
    if update_templates and not setup:
        raise click.UsageError("--update-templates works with --setup")
    with connect(source_url) as source, connect(target_url) as target:
        plan = plan_migration(source, target, list(groups) or None, split=split)
        setup_plan = plan_setup(source, target, update_templates=update_templates) if setup else None
        if setup_plan:  # what setup does is not a step by hand; what it leaves is
            plan = attrs.evolve(plan, manual_steps=setup_plan.manual_steps)
        if dry_run:
            payload = plan.as_dict() | ({"setup": setup_plan.as_dict()} if setup_plan else {})

            def show_dry_run() -> None:
                if setup_plan:
                    _show_setup(state, setup_plan)
                _show_plan(state, plan)

            state.output.data(payload, show_dry_run)
            return
        setup_report = apply_setup(source, target, update_templates=update_templates) if setup else None
        if setup_report:
            plan = attrs.evolve(plan, manual_steps=setup_report.manual_steps)
        if not state.output.json_mode:
            if setup_report:
                _show_setup(state, setup_report)
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
                    g.already_on_target,
                    sum(len(u.rejected) for u in g.uploads),
                    "yes" if g.verification.equal else "NO",
                    len(g.verification.missing_on_target),
                    len(g.verification.extra_on_target),
                ]
                for g in report.groups
            ],
        )
        if report.suppressions is not None:
            carried = report.suppressions
            state.output.note(
                f"suppressions: {carried.copied} copied, "
                + ("verified" if carried.equal else f"{len(carried.missing_on_target)} MISSING on the target")
            )

    payload = report.as_dict() | ({"setup": setup_report.as_dict()} if setup_report else {})
    state.output.data(payload, human)
    if not report.verified or (setup_report and not setup_report.complete):
        click.get_current_context().exit(int(ExitStatus.PARTIAL))
