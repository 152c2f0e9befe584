"""``pollcap chaos``: faults injected into a swarm, Jepsen-style accounting, time to recover."""
