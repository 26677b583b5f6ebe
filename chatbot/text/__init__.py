"""chatbot/text."""
