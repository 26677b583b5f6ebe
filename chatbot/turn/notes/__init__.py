"""chatbot/turn/notes."""
