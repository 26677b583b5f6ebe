"""Package data: the catalog schemas of the demo catalogs, the units table and the word rules (YAML)."""
