from jitprop.cli import entry

entry()
