"""Request names as Locust's stats show them (shared by the users and the summaries)."""

POLL_NAME = "/api/chat/[channel]/messages"
SEND_NAME = "/api/chat/[channel]/messages"  # POST; Locust keys stats by (method, name)
NOTIFICATIONS_NAME = "/api/notifications/unread"
MARK_READ_NAME = "/api/notifications/read"  # POST
SIGN_UP_NAME = "/api/users"  # POST
SIGN_UP_RETRIED_NAME = "/api/users (retried)"  # POST answered overload, then retried
DELIVERY = "DELIVERY"  # request_type of delivery-latency rows (not requests)
