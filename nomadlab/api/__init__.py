"""Nomad's HTTP API: served by the dev agent (``nl.dev(http=True)``) and spoken to a real
cluster (``nl.connect``).

The server side lives in :mod:`.http` (transport), :mod:`.routes` (Nomad's paths) and
:mod:`.handlers` (one function per endpoint, calling the same server methods the notebook
does); the client side in :mod:`.client` and :mod:`.remote`.
"""
