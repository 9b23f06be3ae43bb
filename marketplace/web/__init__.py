"""The server-rendered web product (Django templates + htmx): worker workspace, requester
console, balance and earnings. Views are thin: they parse a form, call a service or selector,
and render. No models; no domain app imports this package."""
