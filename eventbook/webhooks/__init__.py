"""Tell integrators what happened: the change log, its feed, and signed webhooks."""
