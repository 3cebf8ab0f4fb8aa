"""The ``pydarknet`` command line (entry point ``pydarknet.cli:main``; also
``python -m pydarknet.cli``): :mod:`.main` builds the parser and runs a command;
:mod:`.detect`, :mod:`.video` and :mod:`.onnx` are the commands, :mod:`.options` the
model options they share (``serve`` lives in :mod:`pydarknet.serve.command`)."""

from .main import main

__all__ = ["main"]
