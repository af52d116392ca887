# Type stubs for the parts of embit 0.8 that btc/ uses. embit ships no type
# information; these follow its source and grow with the node's use of it.
