"""Dataset readers: formats → Items and quarantined records."""
