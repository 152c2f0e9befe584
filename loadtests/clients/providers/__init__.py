"""The design's RealtimeProvider in Python: polling, long-polling, SSE and WebSocket."""
