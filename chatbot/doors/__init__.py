"""chatbot/doors."""
