"""The waitlist: people waiting for a full event, offered each freed slot in turn."""
