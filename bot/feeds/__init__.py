"""Market data feeds: the frame pipeline shared by live and replay, and the websocket shell."""
