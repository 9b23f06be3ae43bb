"""Web pages on money: the requester's balance (statement, top-up). Thin views over
`payments.services` and `payments.selectors`; `payments` never imports `tasks`."""
