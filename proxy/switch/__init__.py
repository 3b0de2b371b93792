"""The switch: move every client from the active cluster to another, as a pure state machine.

`machine.SwitchMachine` (or the pure `machine.step`) takes `events` and returns `actions`; an asyncio
executor elsewhere carries the actions out against real clusters. `fencing` holds the per-request
fence decisions the connection layer applies while fenced; `offsets` and `gates` the arithmetic
and verdicts; `record` the operator-visible switch record.
"""
