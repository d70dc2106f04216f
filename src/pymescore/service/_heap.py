"""What a worker does with its heap once a model is loaded: the objects alive then (the model, its libraries, the
lake's rates) are moved out of the cyclic garbage collector's sight (``gc.freeze``).

Without it, each full collection walks them all again: ~430,000 objects in a scoring process, 230 ms a time; in a
batch of 1,000 applications it nearly doubled the time of the calls it fell in (4 of 8 in one run), and in the
service it turns up in the latency's tail. Frozen objects are still freed by reference counting when nothing holds
them. When a model replaces another, the heap is thawed, collected once (the previous model's reference cycles go
then) and frozen again.
"""

import gc


def settle_heap(replaced: bool = True) -> None:
    """Freeze what is alive, after loading a model; ``replaced``: it replaced another, whose cycles are collected
    first (a full collection, once per reload)."""
    if replaced:
        gc.unfreeze()
        gc.collect()
    gc.freeze()
