"""chatbot/evaluation."""
