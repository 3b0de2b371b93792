"""Sans-IO Kafka wire codecs: bytes in, values or bytes out; no sockets, no asyncio, no logging."""
