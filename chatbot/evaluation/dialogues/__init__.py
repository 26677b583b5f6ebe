"""chatbot/evaluation/dialogues."""
