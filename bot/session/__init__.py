"""Sessions: the `marginbot-session` v1 recording format, its writer, reader, importers, replay."""
