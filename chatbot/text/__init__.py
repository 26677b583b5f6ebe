"""Text about the catalog shared by the turn and its checks: `names` (the one index of titles and people)."""
