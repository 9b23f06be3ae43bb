"""Fair pay and due process (issue 15): the requester's answers to a paused pilot
(`payfloor_actions`), appeals, blocks in three scopes, workers' reports, and the figures
workers and admins read (`selectors`). The floor itself is `tasks.payfloor`."""
