"""The notes room: one grounded note per recommended item.

`writer` (the Copywriter: drafting, retry, time budget), `checker` (checking a note; `Problem`), `facts` (fact
sheets), `stream` (the streamed JSON of notes), `templates` (template notes, `why` chips, "tell me more"),
`note` (the value types and per-language limits).
"""
