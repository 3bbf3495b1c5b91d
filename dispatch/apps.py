from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = _("Dispatch and workflow")

    def ready(self) -> None:
        # Seams: dispatch registers its socket command and its snapshot parts with the realtime layer below,
        # and what the workflow records about a ticket's intake with callcenter (docs/ARCHITECTURE.md).
        from callcenter import lifecycle
        from dispatch import snapshots, socket_commands
        from dispatch.actions.intake import WorkflowIntakeRecorder
        from realtime import commands, queries

        lifecycle.register(WorkflowIntakeRecorder())
        commands.register("act", socket_commands.run_command)
        queries.register_snapshot_part("tickets", snapshots.open_tickets)
        queries.register_snapshot_part("work_orders", snapshots.open_work_orders)
        # And core's /health/ready and /metrics: the timer workers' heartbeat, escalation lag, due timers.
        from dispatch.deadlines import observability

        observability.register()
