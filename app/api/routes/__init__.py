"""The HTTP routes: thin functions that parse, call `app.data.reads`, and render."""
