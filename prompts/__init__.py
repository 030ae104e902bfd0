"""Prompt data (FIM templates, chat prompts) and the small renderer that fills them in."""
