"""Users, roles, web login and API tokens; the access rule every endpoint declares."""
