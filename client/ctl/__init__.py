"""`scripts/ctl`: an operator's commands against a running node, on the client library.

    scripts/ctl [--config FILE] [--json] COMMAND ...

`args` parses (usage errors exit 2, as argparse does), `submit` reads a peg-out
request file, `commands` asks the node, `render` prints a reply as text or JSON,
and `main` maps outcomes to exit codes (`EXIT_*`, as bitcoin-cli users expect):
0 done; 1 the node refused, printed on stderr as `error code: KIND` and
`error message:` lines; 2 a usage error (arguments, an unreadable config or
request file); 3 the node could not be reached or did not answer.
"""
