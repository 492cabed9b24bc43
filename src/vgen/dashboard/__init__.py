"""The web dashboard's static files (HTML, JavaScript modules, CSS), shipped in the wheel."""
