import click


@click.group("catalog")
def catalog() -> None:
    """catalog commands."""
