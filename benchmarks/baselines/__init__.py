"""Reference implementations of M/M/4 in other tools, in their documented idiomatic form.

They are measured side by side with the simulator and never optimised for it.
"""
