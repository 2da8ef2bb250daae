"""The messengers' webhooks: authenticate, parse into the inbound use case's events, answer."""
