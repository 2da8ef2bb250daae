"""The shop's API: the seed's trigger, /v1 notifications and customers, the OpenAPI document and its page."""
