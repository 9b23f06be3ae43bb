"""The server-rendered web product (Django templates + htmx): worker workspace and requester
console. Views are thin: they parse a form, call a service or selector, and render."""
