"""chatbot/llm."""
