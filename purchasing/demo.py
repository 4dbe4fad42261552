import click


@click.command("demo")
def demo() -> None:
    """Load the demo data set."""
