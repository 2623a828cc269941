import click
from flask.cli import AppGroup

academy_cli = AppGroup("academy", help="Academy administration commands.")
