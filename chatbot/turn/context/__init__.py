"""chatbot/turn/context."""
