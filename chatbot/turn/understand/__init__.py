"""Understanding one message (message + DialogueState -> TurnIntent): `understander.Understander` combines code's
reading (`rules`: `message`, `spans`, `lexicon`, `numbers`, `titles`, `clauses`, `refinements`) with the LLM's
checked reading (`llm_reading`) and resolves the items the message points at (`references`)."""
