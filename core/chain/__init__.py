"""Chain: positions read from the lenders' own contracts.

Owns the JSON-RPC client (URL lists, back-off, rotation), Multicall3 batching pinned to one block, the
bundled contract address book, each lender's reader (Aave v3 today) and the tracker that turns a wallet's
on-chain state into a stored position every tick. It may import `lending`, `storage` and core's shared
modules, nothing else; `watch` and `chat` use it.
"""
