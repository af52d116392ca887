# Type stubs for the parts of Thespian 4.0 the node uses. Thespian ships no type
# information; these describe its behaviour as read from thespian/actors.py and
# are extended whenever the node starts using another part of its API.
