"""The admin API: every admin operation over HTTPS under `/v1/admin/…`, on the admin service.

- `routing`: AdminRequest, AdminCall, Reply, Route, RouteTable (the vocabulary);
- `edge.AdminApi`: token → route → operator-only → tenant → body → service, and the one mapping
  from errors to the contract's document (1004 invalid, 1011 not found, 1012 exists/in use,
  1013 unauthenticated, 1014 operator only, 1009 a dependency failed);
- one module per area (`tenants`, `connectors`, `actions`, `rules`, `deliveries`, `audit`), each a
  RouteTable with its handlers and the views (JSON documents) it answers; `routes.all_routes()`.

The CLI calls the same routes (in its own process, or over HTTPS with `--api`), so its `--json`
output is the `data` of the API's answer.
"""
