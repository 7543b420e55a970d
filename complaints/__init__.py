"""Complaint cases (一事一档): the guide's loop from acceptance to re-check (ch. 2.3, 5.1–5.4)."""
