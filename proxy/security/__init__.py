"""How the proxy secures its connections: TLS towards clients and towards each cluster."""
