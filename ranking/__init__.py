"""tastebud: ranking package."""
