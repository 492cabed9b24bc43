"""Use cases shared by every dialect: create, read and list tasks; take in images."""
