"""Alerts leave the machine: payloads, the durable outbox, the MQTT publisher."""
