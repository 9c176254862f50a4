"""`mailwright import ...`: CSV files and the Online Retail data set."""

import typer

import_app = typer.Typer(help="Import customers, products and orders from files.", no_args_is_help=True)
