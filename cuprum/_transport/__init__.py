"""The transport layer, below the runtime: how bytes move through OS pipes.

:mod:`.pipes` makes and sizes pipes and writes to them; :mod:`.hop` is one
pipeline hop (:class:`~.hop.DirectHop`, or :class:`~.hop.RelayHop` over the
``python`` (:mod:`.python`) or ``rust`` (:mod:`.rust`, :mod:`.native`) relay);
:mod:`.dispatch` chooses the strategy. Nothing here imports the runtime.
"""
