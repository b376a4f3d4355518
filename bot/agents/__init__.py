"""Human collectors: agents, case ownership and allocation policy (pure), preview dialing."""
