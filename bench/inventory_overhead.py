"""What the readiness client inventory costs the data plane per request (prints JSON).

`python -m bench.inventory_overhead`: the per-request tally (`ClientInventory.on_request`) for a
Fetch header, timed against an empty call, on this machine.
"""

from __future__ import annotations

import json
import timeit

from proxy.readiness.inventory import ClientInventory

CALLS = 1_000_000


def main() -> None:
    inventory = ClientInventory()
    frame = memoryview(b"x" * 200)
    client = object()
    inventory.on_request(client, 3, 12, frame, 0)
    tally = timeit.timeit(lambda: inventory.on_request(client, 1, 16, frame, 0), number=CALLS)
    empty = timeit.timeit(lambda: None, number=CALLS)
    print(json.dumps({"bench": "inventory_overhead", "calls": CALLS,
                      "ns_per_request": round((tally - empty) / CALLS * 1e9)}))


if __name__ == "__main__":
    main()
