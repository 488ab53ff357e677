"""Stage-to-stage transport for pipelines: one dispatcher, three strategies.

``direct`` hands one kernel pipe per hop straight to the two children; ``python``
(:mod:`.python`) and ``rust`` (:mod:`.rust`) relay a hop through the parent when
the parent must see its bytes. :mod:`.dispatch` chooses.
"""
