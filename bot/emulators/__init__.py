"""Local emulators of the network edge (the upstream Videos API and Discord).

Shipped in the package because the tests, the benchmarks and the offline demo all use them.
"""
