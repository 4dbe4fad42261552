import click


@click.group("members")
def members() -> None:
    """members commands."""
