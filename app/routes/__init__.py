"""The HTTP routes: thin functions that parse, call `app.queries`, and render."""
