"""The operators' dashboard under /admin: sign-in, notifications, customers, the queue, charts."""
