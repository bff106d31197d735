"""Close codes a chat socket ends with when it should not come back, each explained by the page
(static/chat.js). A plain close (1000) would leave the page saying "Reconnecting…": htmx's ws extension
reconnects only after an abnormal close (1006, 1011, 1012, 1013)."""

SIGNED_OUT = 4401  # no session, or the session ended: log in again
FORBIDDEN = 4403  # signed in, but this socket may not stay open
DELETED = 4404  # the chat does not exist for this user (deleted in another tab, or never theirs)
