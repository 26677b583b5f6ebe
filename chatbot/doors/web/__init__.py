"""chatbot/doors/web."""
