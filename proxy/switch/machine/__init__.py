"""The switch as a pure state machine: no I/O, no asyncio, imports only itself and the standard library.

`machine.SwitchMachine` (or the pure `machine.step`) takes `events` and returns `actions`;
`proxy.switch.executor` carries the actions out against real clusters. `fencing` holds the per-request
fence decisions the interceptor applies while fenced; `offsets` and `gates` the arithmetic and
verdicts; `record` the operator-visible switch record.
"""
