# grpcio-tools ships no type information; protocol/codegen.py calls only protoc.main.
