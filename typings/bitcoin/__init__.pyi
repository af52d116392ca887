# Type stubs for the parts of python-bitcoinlib 0.12 that mock_governance/ uses;
# the library ships no type information.

def SelectParams(name: str) -> None: ...
