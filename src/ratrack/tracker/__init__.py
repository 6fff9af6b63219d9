"""The recurrent attention tracker: model, losses, training loops and online tracking."""
