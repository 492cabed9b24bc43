"""Wire formats shared by vgen's clients and its engines (pure parsing, no I/O)."""
