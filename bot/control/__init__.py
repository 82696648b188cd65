"""Trader commands from outside: the JSON codec, the local control socket, MQTT commands."""
