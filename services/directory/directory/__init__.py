"""ENRS directory: practitioners, organisations and mailboxes from the national extracts."""
