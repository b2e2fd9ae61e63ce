"""The plan report: what a workforce manager sees after a regenerate (HTML and console)."""
