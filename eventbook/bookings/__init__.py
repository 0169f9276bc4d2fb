"""Bookings: one slot of an event per booking, never more bookings than slots."""
