"""Capacity: centres, units, beds, their status history, vacancies and data freshness."""
