"""Chat: the commands a person types and the answers they get.

Owns the command table and grammar, the Assistant that parses a line and runs its handler, the
handlers themselves (one function per command, registered with `@handles` and given a `Context`
of the services it may use), the wording of answers (views, help),
the buttons' tokens, rate limits and the heavy-work pool. It may import every other room; the
adapters in bot/ call it through `Assistant.handle` and `Assistant.press`.
"""
