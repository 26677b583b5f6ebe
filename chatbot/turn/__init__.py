"""chatbot/turn."""
