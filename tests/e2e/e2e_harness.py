"""Who is who in the end-to-end tests."""

ADMIN_ID, BOB_ID, CAROL_ID, STRANGER_ID = 1001, 1002, 1003, 1666
APPROVAL_CHAT = -100500
