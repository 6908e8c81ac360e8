"""The output contract: schema."""

from __future__ import annotations

import click

from . import cli


@cli.command()
@click.argument("command", required=False, metavar="[COMMAND]")
def schema(command):
    """The JSON Schema of a command's --format json (and yaml) output.

    Every command's JSON follows a published schema (draft 2020-12), the same
    as docs/schemas/COMMAND.json; `schema_version` changes when a key is
    renamed or removed, never within a version. The schema also lists the
    command's CSV columns (x-csv-columns). Without COMMAND: every command and
    its schema's id.

    \b
    Examples:
      xstatecalc schema sizes > sizes.schema.json
      xstatecalc sizes --cpu all -f json | check-jsonschema --schemafile sizes.schema.json -
    """
    import json

    from ..render.schemas import SCHEMA_VERSION, commands
    from ..render.schemas import schema as build

    if command is None:
        out = {"schema_version": SCHEMA_VERSION,
               "commands": {c: build(c)["$id"] for c in commands()}}
    elif command in commands():
        out = build(command)
    else:
        import difflib

        close = difflib.get_close_matches(command, commands(), n=3, cutoff=0.6)
        raise click.BadParameter(f"{command!r} is not a command with JSON output"
                                 + (f"; did you mean {', '.join(close)}?" if close else
                                    f"; one of {', '.join(commands())}"), param_hint="COMMAND")
    click.echo(json.dumps(out, indent=2))
