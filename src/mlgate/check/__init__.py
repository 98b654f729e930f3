"""`mlgate check`: the main job (scan, bom, license, maturity -> decide -> publish)."""
