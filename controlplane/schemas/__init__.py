"""What the API accepts and returns: XCreate / XUpdate / XPublic, never a table row.

Beside the models rather than under api/ because services take and return them too; nothing here
imports the api or the services.
"""
