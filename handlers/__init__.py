"""TorchServe handlers, one per input type, and the pure helpers they share.

Modules named ``*_handler`` import TorchServe; every other module here does not, so the
decoding and validation rules are unit-tested without a server and reused off-server.
"""
