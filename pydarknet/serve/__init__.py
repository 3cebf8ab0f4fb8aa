"""``pydarknet serve``: the detection service (HTTP API, dynamic batching, a web page).

Needs the serve extras: ``pip install "pydarknet[serve]"`` (FastAPI, uvicorn,
python-multipart, prometheus-client, Pillow).  The app: ``pydarknet.serve.app.create_app``.
This package sits above the public API (it imports ``pydarknet``, never the reverse,
except the command line's ``serve`` entry in :mod:`.command`).
"""
