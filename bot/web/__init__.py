"""The one web application of collbot: the agent desk today; supervisor, QA and dialing pages later.

    app.py          builds the Starlette application (routes, middleware, templates)
    auth.py         sessions, the ``requires(role, ...)`` guard every route carries, CSRF tokens
    passwords.py    scrypt password hashes
    live.py         ``Desk``: the live-event path (push to an agent, server-sent events, disconnects)
    summary.py      the robot's call summary that a screen pop shows
    cases.py        which cases a user may open, and a case's history
    dispositions.py the agent's wrap-up codes and the outcome each one records
    routes_*.py     the pages, grouped by concept

See docs/web.md.
"""
