"""SASL mechanisms as sans-IO exchanges: tokens in, tokens out, no sockets (RFC 5802, 7677, 4616)."""
