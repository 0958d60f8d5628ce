"""Extra ``learnrace`` subcommands, one module each, each exposing ``register(app: typer.Typer)``.

Modules listed in :data:`COMMANDS` are registered by ``learnrace_pipeline.cli`` at start-up.
"""

COMMANDS: tuple[str, ...] = ("forecast", "frontier", "av", "race", "ledger", "report", "refresh")
