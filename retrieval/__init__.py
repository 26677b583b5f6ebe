"""tastebud: retrieval package."""
