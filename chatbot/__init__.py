"""tastebud: chatbot package."""
