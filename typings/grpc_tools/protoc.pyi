def main(command_arguments: list[str]) -> int:
    """Run the bundled protoc with argv-style arguments (the first is the program name)."""
