"""Calendar files (iCalendar, RFC 5545) for events and bookings."""
