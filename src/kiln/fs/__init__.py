"""File-system primitives shared by kiln's on-disk stores (the repository cache, the disk cache).

Below every layer that does I/O and above core (which does none): no kiln import besides core.
"""
