"""chatbot/turn/understand."""
