"""What the API accepts and returns: XCreate / XUpdate / XPublic, never a table row."""
